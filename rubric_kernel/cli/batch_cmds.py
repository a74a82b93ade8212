"""batch: the main job, every institution's notebook and report plus the cohort pages."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..batch.limits import MAX_WORKERS, default_workers
from ..bundled import outputs_dir
from ..errors import display_path
from ..report.style import report_title
from ..store import resolve_url
from .common import add_data_options, input_paths, int_in, iso_date, open_store, open_workspace, out_folder


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="批量评估：逐家运行评估工作簿并生成报告、汇总表与公示名单")
    add_data_options(p)
    p.add_argument("--only", help="只运行这些机构，例如 1,3,10-20")
    p.add_argument(
        "--workers",
        type=int_in(1, MAX_WORKERS),
        default=default_workers(),
        help=f"并行进程数 1–{MAX_WORKERS}（默认每核一个）",
    )
    p.add_argument("--out", type=out_folder, help="输出目录（默认 outputs）")
    p.add_argument("--as-of", type=iso_date, help="评估基准日 YYYY-MM-DD（默认取数据集设定）")
    p.add_argument("--pdf", action="store_true", help="另把各机构报告与拟公示名单打印为 A4 PDF（较慢，仅在需要时使用）")
    p.add_argument("--clean", action="store_true", help="只删除被中断运行留下的不完整运行目录，然后退出")
    p.set_defaults(handler=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    from ..batch.run_folders import BatchBusy
    from ..batch.runner import BatchConfig, failures_text, run_batch
    from ..batch.selection import parse_only

    out = args.out or outputs_dir()
    if args.clean:
        return _clean(out)
    ws = open_workspace(args)
    numbers = parse_only(args.only, ws.roster)  # every option is checked before the store is opened
    cfg = BatchConfig(
        out=out,
        numbers=numbers,
        workers=args.workers,
        db_url=resolve_url(args.db),
        as_of=args.as_of or "",
        store_ready=True,  # open_store below runs the store's first-use check
        **input_paths(args),
    )
    mark = ws.dataset.mark
    with open_store(args, ws) as store:
        try:
            report = run_batch(ws, store, cfg, lambda n: report_title(ws.roster[n].name, mark))
        except BatchBusy as exc:
            print(str(exc))
            return 4
        except KeyboardInterrupt:
            print("\n已中断：已完成的机构已保存，下次运行将从中断处继续。")
            return 130
    if report.incomplete:
        names = "、".join(d.name for d in report.incomplete)
        print(
            f"提示：发现 {len(report.incomplete)} 个被中断运行留下的不完整目录（{names}），"
            "可用 rubric-kernel batch --clean 删除。",
            file=sys.stderr,
        )
    if report.failures:
        print(failures_text(report), file=sys.stderr)
    print(
        f"{'【' + mark + '】' if mark else ''}运行 {report.run_id}：执行 {len(report.executed)} 家，"
        f"复用 {len(report.reused)} 家，失败 {len(report.failures)} 家，用时 {report.seconds:.1f} 秒。"
    )
    if not report.published:
        print(f"所选机构全部失败：latest 仍指向上一次有结果的运行。本次运行的清单见 {display_path(report.run_dir)}")
        return 1
    if args.pdf:
        from ..report.pdf import print_all

        pages = [*sorted(report.run_dir.glob("[0-9][0-9].html")), report.run_dir / "publicity.html"]
        written = print_all(pages, args.workers)
        print(f"已生成 {len(written)} 份 PDF（A4）：{display_path(out / 'latest')}")
    print(display_path(out / "latest" / "index.html"))
    return 1 if report.failures else 0


def _clean(out: Path) -> int:
    """Remove only the folders of killed runs (no manifest); complete runs and latest stay."""
    from ..batch.run_folders import BatchBusy, clean_incomplete

    try:
        removed = clean_incomplete(out)
    except BatchBusy as exc:
        print(str(exc))
        return 4
    if not removed:
        print(f"{display_path(out)} 中没有被中断运行留下的不完整目录。")
    else:
        print(f"已删除 {len(removed)} 个不完整的运行目录：{'、'.join(d.name for d in removed)}")
    return 0
