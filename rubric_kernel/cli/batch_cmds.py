"""batch: the main job, every institution's notebook and report plus the cohort pages."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import display_path
from ..report.style import report_title
from ..store import resolve_url
from ..workspace import DEMO_DATA, ROOT
from .common import add_data_options, open_store, open_workspace


def register(sub: argparse._SubParsersAction) -> None:
    from ..batch.runner import default_workers

    p = sub.add_parser("batch", help="批量评估：逐家运行评估工作簿并生成报告、汇总表与公示名单")
    add_data_options(p)
    p.add_argument("--only", help="只运行这些机构，例如 1,3,10-20")
    p.add_argument("--workers", type=int, default=default_workers(), help="并行进程数（默认每核一个）")
    p.add_argument("--out", help="输出目录（默认 outputs）")
    p.add_argument("--as-of", default="", help="评估基准日 YYYY-MM-DD")
    p.set_defaults(handler=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    from ..batch.runner import BatchBusy, BatchConfig, failures_text, run_batch
    from ..batch.selection import parse_only

    ws = open_workspace(args)
    store = open_store(args, ws)
    out = Path(args.out) if args.out else ROOT / "outputs"
    cfg = BatchConfig(
        out=out,
        numbers=parse_only(args.only, ws.roster),
        workers=max(1, args.workers),
        data=str(Path(args.data or DEMO_DATA).resolve()),
        db_url=resolve_url(args.db),
        as_of=args.as_of,
    )
    mark = ws.dataset.mark
    try:
        report = run_batch(ws, store, cfg, lambda n: report_title(ws.roster[n].name, mark))
    except BatchBusy as exc:
        print(str(exc))
        return 4
    except KeyboardInterrupt:
        print("\n已中断：已完成的机构已保存，下次运行将从中断处继续。")
        return 130
    finally:
        store.close()
    if report.failures:
        print(failures_text(report), file=sys.stderr)
    print(
        f"{'【' + mark + '】' if mark else ''}运行 {report.run_id}：执行 {len(report.executed)} 家，"
        f"复用 {len(report.reused)} 家，失败 {len(report.failures)} 家，用时 {report.seconds:.1f} 秒。"
    )
    print(display_path(out / "latest" / "index.html"))
    return 1 if report.failures else 0
