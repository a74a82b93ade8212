"""report and verify: one institution's HTML credit report, and checking a report against the store."""

from __future__ import annotations

import argparse
import os
import re
from html import unescape
from pathlib import Path

from .. import keyring
from ..assessment import open_assessment
from ..bundled import NOTEBOOK, outputs_dir
from ..errors import Fault, InputError, display_path
from ..keyring import prepare_seal
from ..labels import local_time
from ..report import seal
from ..report.digest import input_digests
from ..report.style import report_title
from ..signing import DEMO_MARK
from ..store import resolve_url
from .common import add_data_options, input_paths, iso_date, open_store, out_folder

DIGEST_LABELS = {
    "rubric": "指标体系",
    "roster": "机构名单",
    "evidence": "证据",
    "judgments": "专家评分",
    "workflow": "流程记录（签字、复核、公示、异议）",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="生成一家机构的 HTML 信用评估报告")
    p.add_argument("number", type=int, help="机构序号")
    add_data_options(p)
    p.add_argument("--as-of", type=iso_date, help="评估基准日 YYYY-MM-DD（默认取数据集设定）")
    p.add_argument("--out", type=out_folder, help="输出目录（默认 outputs/reports）")
    p.add_argument("--pdf", action="store_true", help="另生成 A4 PDF（用无界面 chromium 打印）")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("verify", help="核对报告正文与签章、报告与评分库和数据集是否一致")
    p.add_argument("report", help="报告 HTML 文件")
    p.add_argument("--keys", help="公钥文件（rubric-kernel keys export 生成）：没有评分库时也能核对签章")
    add_data_options(p)
    p.set_defaults(handler=cmd_verify)


def cmd_report(args: argparse.Namespace) -> int:
    from ..batch.contract import notebook_parameters
    from ..batch.worker import Job, run_job
    from ..workspace import KERNEL_WORKSPACES

    paths = input_paths(args)
    # The notebook's cells, run in this process, load the same paths through the same cache: loaded once.
    ws = KERNEL_WORKSPACES.load(paths["data"], paths["rubric"] or None, paths["roster"] or None)
    inst = ws.institution(args.number)
    # the organiser issues the report (实施方案 四（一）); the workspace's settings are the ones its cells read
    issuer = ws.programme.roles.organiser.value
    with open_store(args, ws) as store:  # first use: load the dataset's judgments before the kernel reads them
        prepare_seal(store, issuer, ws.dataset.synthetic)
    out = args.out or outputs_dir() / "reports"
    os.environ["RUBRIC_KERNEL_DB"] = resolve_url(args.db)  # not a parameter: no password in the notebook
    params = notebook_parameters(inst.number, as_of=args.as_of or "", **paths)
    title = report_title(inst.name, ws.dataset.mark)
    # One report: the notebook runs in this process (no kernel to start, no second import of the package).
    res = run_job(Job(inst.number, title, out, params, NOTEBOOK, issuer, ws.dataset.synthetic), in_process=True)
    if not res.ok:
        raise InputError([Fault(f"机构 {inst.number}", f"报告生成失败：{res.error}")])
    html = out / f"{inst.number:02d}.html"
    print(display_path(html))
    if args.pdf:
        from ..report.pdf import html_to_pdf

        print(display_path(html_to_pdf(html)))
    return 0


def read_report(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError([Fault(display_path(path), f"无法读取：{exc.strerror}")]) from None


def read_digest(path: Path, text: str) -> dict[str, str]:
    m = re.search(r'(<div\b[^>]*\bid="rk-digest"[^>]*>)', text)  # the HTML sanitiser may reorder attributes
    if not m:
        raise InputError([Fault(display_path(path), "不是本工具生成的信用评估报告（缺少输入摘要）")])
    return {k: unescape(v) for k, v in re.findall(r'data-([\w-]+)="([^"]*)"', m.group(1))}


def _seal_line(found: seal.SealCheck) -> str:
    if found.problems:
        return "签章核对：不符。" + "；".join(found.problems) + "。"
    demo = f"（{DEMO_MARK}：只证明内容未被改动，不证明签章人身份）" if found.demo else ""
    return f"签章核对：相符。报告正文与 {found.signer} 于 {local_time(found.at)} 的签章一致，签章密钥 {found.key[:16]}{demo}。"


def cmd_verify(args: argparse.Namespace) -> int:
    """(a) the body as shipped against its signed digests; (b) the inputs against the store and dataset."""
    path = Path(args.report)
    text = read_report(path)
    recorded = read_digest(path, text)
    url = resolve_url(args.db)
    store_missing = url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists()
    if store_missing and not args.keys:
        raise InputError(
            [
                Fault(
                    url,
                    "评分库不存在，无法核对；请用 --db 指定生成报告时使用的评分库，或用 --keys 指定公钥文件只核对签章",
                )
            ]
        )
    keys = keyring.read_key_file(Path(args.keys)) if args.keys else None
    if store_missing:
        found = seal.check(text, keys)
        print(_seal_line(found))
        print("输入核对：未进行（没有评分库；用 --db 指定评分库可核对报告的输入是否仍与评分库和数据集相符）。")
        return 1 if found.problems else 0
    a = open_assessment(
        recorded["institution"],
        data=args.data or "",
        db=args.db or "",
        as_of=recorded["as-of"],
        rubric=args.rubric or "",
        roster=args.roster or "",
        bootstrap_store=False,  # checking must not change the store it checks against
    )
    if a.dataset != recorded["dataset"]:
        raise InputError([Fault(display_path(path), f"报告来自数据集 {recorded['dataset']}，当前数据集为 {a.dataset}")])
    with a.store:
        current = input_digests(a)
        found = seal.check(text, keys if keys is not None else keyring.registered(a.store))
    print(_seal_line(found))
    changed = [label for key, label in DIGEST_LABELS.items() if current[key] != recorded.get(key)]
    name = a.institution.name
    if not changed:
        print(f"输入核对：一致，报告（机构 {a.institution.number} {name}）与当前评分库和数据集相符。")
        return 1 if found.problems else 0
    print(
        f"输入核对：不一致，报告生成后以下输入已变化：{'、'.join(changed)}。请重新生成机构 {a.institution.number} {name} 的报告。"
    )
    return 1
