"""validate, score and rubric: the commands that need nothing but the inputs."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from ..cohort import score_cohort
from ..errors import InputError
from ..textview import render_result, render_rubric, render_summary
from ..workspace import judgment_files, load_workspace, read_checked
from .common import add_data_options, iso_date, open_store, open_workspace, sheet_for


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="校验指标体系、机构名单、数据集与评分文件")
    add_data_options(p)
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("score", help="计算一家机构的信用评分")
    p.add_argument("number", type=int, help="机构序号")
    add_data_options(p)
    p.add_argument("--as-of", type=iso_date, help="评估基准日 YYYY-MM-DD（默认取数据集设定）")
    p.add_argument("--json", action="store_true", help="输出 JSON")
    p.set_defaults(handler=cmd_score)

    p = sub.add_parser("summary", help="全部机构的评分一览表")
    add_data_options(p)
    p.add_argument("--as-of", type=iso_date, help="评估基准日 YYYY-MM-DD（默认取数据集设定）")
    p.set_defaults(handler=cmd_summary)

    p = sub.add_parser("rubric", help="显示已加载的指标体系")
    p.add_argument("--rubric", help="指标体系文件（默认 parameters/rubric.yaml）")
    p.add_argument("--json", action="store_true", help="输出 JSON")
    p.set_defaults(handler=cmd_rubric)


def cmd_validate(args: argparse.Namespace) -> int:
    ws = load_workspace(args.data, args.rubric, args.roster)
    faults = []
    files = judgment_files(ws)
    for number, path in files.items():
        try:
            read_checked(ws, path, expect=number)
        except InputError as exc:
            faults.extend(exc.faults)
    if faults:
        raise InputError(faults)
    ds = ws.dataset
    for warning in ds.warnings:  # doubtful but possible rows: shown, never fatal
        print(f"警告：{warning}", file=sys.stderr)
    records = sum(len(e.records) for e in ds.evidence.values())
    mark = f"【{ds.mark}】" if ds.mark else ""
    print(
        f"{mark}校验通过：指标 {len(ws.rubric.indicators)} 项，机构 {len(ws.roster)} 家，"
        f"信用记录 {records} 条，评分文件 {len(files)} 份（数据集 {ds.name}）"
        + (f"；警告 {len(ds.warnings)} 条，请核对。" if ds.warnings else "。")
    )
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    inst = ws.institution(args.number)
    as_of = _as_of(args.as_of, ws.dataset.as_of)
    result = ws.score(inst.number, sheet_for(args, ws, inst.number), as_of)
    if args.json:
        payload = result.as_json()
        payload["dataset"] = ws.dataset.name
        payload["synthetic"] = ws.dataset.synthetic
        json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print(render_result(result, ws.rubric, ws.dataset.mark))
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    with open_store(args, ws) as store:
        results = score_cohort(ws, store.snapshots(ws.dataset.name), _as_of(args.as_of, ws.dataset.as_of))
    if ws.dataset.mark:
        print(f"【{ws.dataset.mark}】以下结果由合成数据生成，不代表任何机构的真实信用状况。")
    print(render_summary(results.values()))
    return 0


def cmd_rubric(args: argparse.Namespace) -> int:
    from ..bundled import RUBRIC_PATH
    from ..rubric import load_rubric

    rubric = load_rubric(args.rubric or RUBRIC_PATH)
    if not args.json:
        print(render_rubric(rubric))
        return 0
    payload = {
        "title": rubric.meta.title,
        "version": rubric.meta.version,
        "indicators": [
            {
                "number": i.number,
                "name": i.name,
                "level1": rubric.placement[i.number][0].name,
                "level2": rubric.placement[i.number][1].name,
                "max_points": i.max_points,
                "base": i.base,
                "sources": i.sources,
                "needs_judgment": i.needs_judgment,
                "items": [it.model_dump(exclude_none=True) for it in i.items],
            }
            for i in rubric.indicators.values()
        ],
        "bonus_cap": rubric.bonus.cap,
        "bonus_may_exceed_total": rubric.bonus.may_exceed_total,
        "cutoffs": {c.grade: c.min for c in rubric.cutoffs},
        "veto_clauses": rubric.veto_clauses,
    }
    json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


def _as_of(text: str | None, default: dt.date) -> dt.date:
    """``--as-of`` (already checked by the parser), or the dataset's own date."""
    return dt.date.fromisoformat(text) if text else default
