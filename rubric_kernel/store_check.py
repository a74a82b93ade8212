"""What ``check-store`` verifies beyond SQLite's own page check: the store's append-only history is whole.

Versions are numbered 1, 2, 3… per (dataset, institution, sheet, key) and each replaces its predecessor;
events are numbered 1, 2, 3… per (dataset, institution); contents are valid JSON; every signature is
well formed and its digest is that of a state the signed sheet really had; and every signature verifies
against the signer's registered public key, valid on the day it was made. A removed or edited row
breaks one of these, so it is found here rather than in a contested result.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from . import keyring
from .sheet_codec import digest
from .signing import KeyRecord, SignedRow, signature_problems
from .store import GROUP_SHEET, Store
from .tables import events, versions

HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass
class Report:
    """Counts for the summary and one Chinese line per fault."""

    versions: int = 0
    events: int = 0
    signatures: int = 0
    faults: list[str] = field(default_factory=list)


def _gaps(numbers: Iterable[int]) -> str | None:
    """How a sequence differs from 1..n (None: it does not)."""
    found = sorted(numbers)
    if found == list(range(1, len(found) + 1)):
        return None
    doubled = sorted({n for n in found if found.count(n) > 1})
    missing = sorted(set(range(1, max(found) + 1)) - set(found))
    parts = [f"缺少 {'、'.join(map(str, missing[:10]))}{' 等' if len(missing) > 10 else ''}"] if missing else []
    parts += [f"重复 {'、'.join(map(str, doubled[:10]))}"] if doubled else []
    return "，".join(parts)


def _loads(text: str | None) -> object:
    try:
        return None if text is None else json.loads(text)
    except ValueError:
        return ValueError


def check(store: Store, synthetic: Collection[str] = ()) -> Report:
    """``synthetic``: the datasets made of demo data, the only ones where a demo key may sign."""
    report = Report()
    with store.engine.connect() as conn:
        vrows = conn.execute(select(versions).order_by(versions.c.id)).mappings().all()
        erows = conn.execute(select(events).order_by(events.c.id)).mappings().all()
    report.versions, report.events = len(vrows), len(erows)
    _check_versions(vrows, report)
    _check_events(erows, report)
    _check_signatures(vrows, erows, report)
    _check_keys(erows, keyring.registered(store), synthetic, report)
    return report


def _check_versions(rows: list[Mapping], report: Report) -> None:
    chains: dict[tuple, list[Mapping]] = defaultdict(list)
    for r in rows:
        chains[(r["dataset"], r["institution"], r["sheet"], r["key"])].append(r)
        if _loads(r["content"]) is ValueError:
            report.faults.append(f"版本记录 {r['id']}（机构 {r['institution']} {r['key']}）的内容不是有效的 JSON")
    for (dataset, inst, sheet, key), chain in sorted(chains.items()):
        where = f"数据集 {dataset} 机构 {inst} 评分表 {sheet} 的 {key}"
        gaps = _gaps(r["seq"] for r in chain)
        if gaps:
            report.faults.append(f"版本编号不连续：{where} 的版本 {gaps}")
            continue
        by_seq = {r["seq"]: r for r in chain}
        for seq, r in sorted(by_seq.items()):
            expected = by_seq[seq - 1]["id"] if seq > 1 else None
            if r["replaces"] != expected:
                report.faults.append(f"版本链断开：{where} 的版本 {seq} 不是接在版本 {seq - 1} 之后")


def _check_events(rows: list[Mapping], report: Report) -> None:
    logs: dict[tuple, list[int]] = defaultdict(list)
    for r in rows:
        logs[(r["dataset"], r["institution"])].append(r["seq"])
        if not isinstance(_loads(r["payload"]), dict):
            report.faults.append(f"流程事件 {r['id']}（机构 {r['institution']} {r['kind']}）的内容不是有效的 JSON 对象")
    for (dataset, inst), seqs in sorted(logs.items()):
        gaps = _gaps(seqs)
        if gaps:
            report.faults.append(f"流程事件编号不连续：数据集 {dataset} 机构 {inst} 的事件 {gaps}")


def _sheet_states(rows: list[Mapping]) -> set[str]:
    """The digest of every state the sheet went through, from empty, replaying its versions in order."""
    live: dict[str, object] = {}
    seen = {digest(live)}
    for r in rows:
        content = _loads(r["content"])
        if content is None or content is ValueError:
            live.pop(r["key"], None)
        else:
            live[r["key"]] = content
        seen.add(digest(live))
    return seen


def _check_signatures(vrows: list[Mapping], erows: list[Mapping], report: Report) -> None:
    sheets: dict[tuple, list[Mapping]] = defaultdict(list)
    for r in vrows:
        if r["sheet"] == GROUP_SHEET:
            sheets[(r["dataset"], r["institution"])].append(r)
    states: dict[tuple, set[str]] = {}
    for r in erows:
        if r["kind"] != "signature":
            continue
        report.signatures += 1
        where = f"机构 {r['institution']} 的签字（流程事件 {r['seq']}）"
        p = _loads(r["payload"])
        if not isinstance(p, dict) or not isinstance(p.get("expert"), str) or not p["expert"].strip():
            report.faults.append(f"签字内容不完整：{where} 没有签字专家")
            continue
        if p["expert"] != r["actor"]:
            report.faults.append(f"签字不一致：{where} 记录的专家 {p['expert']} 与操作人 {r['actor']} 不同")
        if not isinstance(p.get("digest"), str) or not HEX64.fullmatch(p["digest"]):
            report.faults.append(f"签字内容不完整：{where} 没有有效的评分表摘要")
            continue
        scope = (r["dataset"], r["institution"])
        if scope not in states:
            states[scope] = _sheet_states(sheets.get(scope, []))
        if p["digest"] not in states[scope]:
            report.faults.append(f"签字无效：{where} 的评分表摘要与该机构评分表的任何历史状态都不符")


def _check_keys(erows: list[Mapping], keys: list[KeyRecord], synthetic: Collection[str], report: Report) -> None:
    """Every signature against the registered public keys: forged, rewritten, copied or revoked ones are void."""
    for r in erows:
        payload = _loads(r["payload"])
        if r["kind"] != "signature" or not isinstance(payload, dict):
            continue
        row = SignedRow(
            r["dataset"],
            r["institution"],
            r["login"] or r["actor"],  # the login behind the act (r0004), as ``signing.signed_row``
            r["created_at"],
            r["rubric_id"],
            r["rubric_digest"],
            payload,
            r["dataset"] in synthetic,
        )
        for problem in signature_problems(row, keys):
            report.faults.append(f"签名无效：机构 {r['institution']} 的签字（流程事件 {r['seq']}）：{problem}")
