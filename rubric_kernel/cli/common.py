"""Options and loading shared by the commands.

Every option is checked by argparse as it is parsed (type functions below), so a bad value is
refused with one Chinese line before any command opens the store or writes a file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

from ..bundled import DEMO_DATA
from ..id_map import refuse_orphans
from ..judgments import bootstrap, current_sheet
from ..sheet import Sheet
from ..store import Store
from ..workspace import KERNEL_WORKSPACES, Workspace

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def add_data_options(p: argparse.ArgumentParser, db: bool = True) -> None:
    p.add_argument("--data", help="数据集目录（默认 data/demo 演示数据）")
    p.add_argument("--rubric", help="指标体系文件（默认 parameters/rubric.yaml）")
    p.add_argument("--roster", help="机构名单（默认 parameters/institutions.csv）")
    if db:
        p.add_argument(
            "--db",
            help="评分库：SQLAlchemy URL 或 SQLite 文件路径（默认取 RUBRIC_KERNEL_DB 或 var/rubric-kernel.sqlite）",
        )


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: an integer within [lo, hi] (an unbounded count once exhausted memory)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"“{text[:20]}”应为整数（{lo}–{hi}）") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text[:20]} 超出范围，应在 {lo}–{hi} 之间")
        return value

    return parse


def float_in(lo: float, hi: float) -> Callable[[str], float]:
    """An argparse type: a finite number within [lo, hi] (NaN and infinity refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"“{text[:20]}”应为数字（{lo:g}–{hi:g}）") from None
        if not math.isfinite(value) or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text[:20]} 超出范围，应在 {lo:g}–{hi:g} 之间")
        return value

    return parse


def iso_date(text: str) -> str:
    """An argparse type: a real calendar date written YYYY-MM-DD (kept as text for the notebook)."""
    text = text.strip()
    try:
        if not ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期“{text[:20]}”无效，应为 YYYY-MM-DD 格式的真实日期") from None


def out_folder(text: str) -> Path:
    """An argparse type: an output folder that is, or can become, a directory (not an existing file)."""
    path = Path(text)
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            raise argparse.ArgumentTypeError(f"{p} 已存在且不是目录，请指定一个目录")
    return path


def input_paths(args: argparse.Namespace) -> dict[str, str]:
    """--data, --rubric and --roster as absolute paths for the notebooks ("" = the bundled file), so each
    kernel, whatever its working folder, loads exactly the inputs this command loaded."""
    absolute = {k: str(Path(v).resolve()) if v else "" for k, v in (("rubric", args.rubric), ("roster", args.roster))}
    return {"data": str(Path(args.data or DEMO_DATA).resolve()), **absolute}


def open_workspace(args: argparse.Namespace) -> Workspace:
    """The inputs, validated, or as an earlier command validated them when no file has changed since."""
    return KERNEL_WORKSPACES.load(args.data, args.rubric, args.roster)


def open_store(args: argparse.Namespace, ws: Workspace | None = None) -> Store:
    """The store named by --db (or the default), loaded with the dataset's judgments on first use."""
    store = Store(getattr(args, "db", None))
    if ws is not None:
        try:
            # One full check per command (a batch's kernels then read only their institution's sheet,
            # which refuses orphaned ids by itself): a rubric that dropped stored ids is refused at once.
            refuse_orphans(store, ws)
            notice = bootstrap(store, ws).notice()
        except BaseException:
            store.close()
            raise
        if notice:
            print(notice, file=sys.stderr)
    return store


def sheet_for(args: argparse.Namespace, ws: Workspace, number: int) -> Sheet:
    with open_store(args, ws) as store:
        return current_sheet(store, ws, number)
