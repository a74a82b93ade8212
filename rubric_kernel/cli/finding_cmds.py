"""finding and import-findings: the centre records what 人社部门's own data shows (e.g. 16 题库建设).

The usual input is the centre's table for all institutions (``import-findings``), since the
题库建设技术评估 results come as one list from 人社's system; ``finding`` records one result (a late
one, or a correction). Who acts comes from the login (``identity``): only the centre's role may.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import clock, findings, identity
from ..errors import Fault, InputError, display_path
from ..evidence import parse_date
from .common import add_data_options, open_store, open_workspace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finding", help="省职鉴中心录入一家机构一项指标的人社部门数据（来源、日期、结果）")
    p.add_argument("number", type=int, help="机构序号")
    p.add_argument("--indicator", type=int, default=16, help="指标编号（默认 16 题库建设）")
    p.add_argument("--result", required=True, help=f"“{findings.NO_PROBLEM}”，或数据反映的扣分细则，如 16a、16b×2")
    p.add_argument("--source", help="数据来源（默认取指标体系为该指标写明的来源）")
    p.add_argument("--date", help="数据核查日期 YYYY-MM-DD（默认今天）")
    p.add_argument("--late", metavar="理由", help="补录过去的日期：写明补录理由")
    p.add_argument("--note", default="", help="说明（评估结论、文号等）")
    p.add_argument("--reason", default="", help="修改理由（评分表已签字后必填）")
    add_data_options(p)
    p.set_defaults(handler=cmd_finding)

    p = sub.add_parser(
        "import-findings", help="省职鉴中心导入人社部门数据表（CSV/XLSX：机构序号、指标、结果、来源、日期、说明）"
    )
    p.add_argument("file", help="人社部门数据表")
    p.add_argument("--late", metavar="理由", help="表中日期早于今天时：写明补录理由")
    p.add_argument("--reason", default="", help="修改理由（评分表已签字后必填）")
    add_data_options(p)
    p.set_defaults(handler=cmd_import_findings)


def _dated(entries: list[findings.Entry], late: str | None, where: str) -> list[findings.Entry]:
    try:
        return findings.dated(entries, late or "")
    except clock.DateRefused as exc:
        raise InputError([Fault(where, str(exc))]) from None


def cmd_finding(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    ind = ws.rubric.indicators.get(args.indicator)
    default_source = ind.finding.source if ind is not None and ind.finding is not None else ""
    try:
        date = parse_date(args.date) if args.date else clock.today()
    except ValueError:
        raise InputError([Fault("--date", f"日期“{args.date}”无效，应为 YYYY-MM-DD")]) from None
    entry = findings.one(ws, args.number, args.indicator, args.result, args.source or default_source, date, args.note)
    entries = _dated([entry], args.late, "--date")
    with open_store(args, ws) as store:
        actor = identity.current(store, ws.dataset.name)
        findings.record(store, ws, entries, actor, args.reason)
    shown = entries[0].finding
    print(
        f"机构 {args.number} 指标 {args.indicator} 的人社部门数据已由 {actor.shown} 录入："
        f"{args.result}（{shown.source}，{shown.date.isoformat()}）。"
    )
    return 0


def cmd_import_findings(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    path = Path(args.file)
    if not path.is_file():
        raise InputError([Fault(display_path(path), "文件不存在")])
    entries = _dated(findings.read_findings(path, ws), args.late, display_path(path))
    with open_store(args, ws) as store:
        actor = identity.current(store, ws.dataset.name)
        written = findings.record(store, ws, entries, actor, args.reason)
    changed = sum(1 for v in written if v)
    print(f"人社部门数据导入完成：{len(entries)} 条，{changed} 家机构有新版本（录入人 {actor.shown}）。")
    return 0
