"""The issued report proves its own content: a signed digest of everything a reader sees.

Sealing is a last step on the finished HTML, independent of how the report was rendered: the
canonical content is the visible text of the body (whitespace collapsed, scripts and styles left out,
the seal block itself excluded), digested whole and per marked section (any element with a
``data-section`` attribute, named by it), together with the input digests the report records
(``#rk-digest``'s ``data-*`` attributes, which ``verify`` compares with the store). The issuer signs
that with Ed25519; the seal block carries the digests, the signer, the key's fingerprint and the
signature. ``check`` recomputes the digests of the report as shipped and names each section that
differs, is missing or was added. Both read the page through ``page_text.read_content``: one
definition of the canonical content (why its reader is hand-written is said there).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape, unescape

from ..labels import local_time
from ..signing import DEMO_MARK, KeyRecord, SigningKey, beijing_date, find_key, verify_content
from .page_text import SEAL_ID, read_content

DATA_ID = "rk-seal-data"
SEAL_DATA = re.compile(rf'<div\b[^>]*\bid="{DATA_ID}"[^>]*>')  # the report carries no script: data in an attribute
SEAL_ATTR = re.compile(r'\bdata-seal="([^"]*)"')


def seal_content(html: str, key: SigningKey, at: str, synthetic: bool) -> dict:
    content = read_content(html)
    body, sections = content.digests()
    return {
        "type": "rk-report-seal",
        "v": 1,
        "body": body,
        "sections": sections,
        "titles": content.titles,
        "inputs": content.inputs,
        "synthetic": synthetic,
        "signer": key.login,
        "algorithm": key.algorithm,
        "key": key.fingerprint,
        "at": at,
    }


def seal_html(html: str, key: SigningKey, at: str, *, synthetic: bool) -> str:
    """The report with its seal block, inserted before ``</body>``; a sealed report is not sealed again."""
    if SEAL_DATA.search(html):
        raise ValueError("report already sealed")
    content = seal_content(html, key, at, synthetic)
    data = json.dumps({**content, "signature": key.sign(content)}, ensure_ascii=False, sort_keys=True)
    demo = f"（{DEMO_MARK}：由公开种子生成，只证明内容未被改动，不证明签章人身份）" if key.demo else ""
    block = (
        f'<section id="{SEAL_ID}" class="rk-section rk-seal"><h2>报告签章</h2>'
        f"<p>本报告由 {escape(key.login)} 于 {escape(local_time(at))} 以 Ed25519 密钥 "
        f"<code>{key.fingerprint[:16]}</code>{demo} 签章；正文摘要 <code>{content['body'][:16]}…</code>，"
        f"共 {len(content['sections'])} 个章节各有摘要。"
        "核验方法见附录六：核验时逐章比对正文与签章时是否一致。</p>"
        f'<div id="{DATA_ID}" hidden data-seal="{escape(data, quote=True)}"></div></section>'
    )
    cut = html.rfind("</body>")
    return html + block if cut < 0 else html[:cut] + block + html[cut:]


@dataclass
class SealCheck:
    """What the seal says and every way the shipped report departs from it (empty ``problems``: intact)."""

    signer: str = ""
    key: str = ""
    at: str = ""
    demo: bool = False
    problems: list[str] = field(default_factory=list)


def check(html: str, keys: Sequence[KeyRecord] | None) -> SealCheck:
    """The body against its signed digests, and the signature against the registered key (None: no keys at hand)."""
    m = SEAL_DATA.search(html)
    if not m:
        return SealCheck(problems=["报告没有签章（不是签章后发出的报告，或签章已被删除）"])
    try:
        attr = SEAL_ATTR.search(m.group(0))
        sealed = json.loads(unescape(attr.group(1)) if attr else "")
        signature = sealed.pop("signature")
        result = SealCheck(sealed["signer"], sealed["key"], sealed["at"])
        recorded = {name: d for name, d in sealed["sections"]}
        recorded_body, recorded_inputs = sealed["body"], sealed["inputs"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return SealCheck(problems=["报告的签章数据已损坏，无法核对"])
    content = read_content(html)
    body, sections = content.digests()
    current = {name: d for name, d in sections}
    titles = {**content.titles, **sealed.get("titles", {})}
    for name, d in recorded.items():
        if name not in current:
            result.problems.append(f"缺少章节“{titles.get(name, name)}”")
        elif current[name] != d:
            result.problems.append(f"章节“{titles.get(name, name)}”的内容与签章时不同")
    result.problems += [f"多出签章时没有的章节“{titles.get(n, n)}”" for n in current if n not in recorded]
    if body != recorded_body and not result.problems:
        result.problems.append("章节之外的正文与签章时不同")
    if content.inputs != recorded_inputs:
        result.problems.append("报告记录的输入摘要与签章时不同")
    result.problems += _signature_problems(sealed, signature, keys, result)
    return result


def _signature_problems(sealed: dict, signature: str, keys: Sequence[KeyRecord] | None, result: SealCheck) -> list[str]:
    if keys is None:
        return [
            "没有可用的公钥，无法确认签章人：请用 --keys 指定公钥文件（rubric-kernel keys export）或用 --db 指定评分库"
        ]
    key, why = find_key(keys, str(sealed["signer"]), str(sealed["key"]))
    if key is None:
        return [why]
    result.demo = key.demo
    if not verify_content(key, sealed, signature):
        return ["签章与签章数据不符：签章数据（摘要、签章人或时间）被改写"]
    problems = []
    validity = key.validity_problem(beijing_date(str(sealed["at"])))
    if validity:
        problems.append(validity)
    if key.demo and not sealed.get("synthetic"):
        problems.append(f"{DEMO_MARK}只能用于演示数据的报告")
    return problems
