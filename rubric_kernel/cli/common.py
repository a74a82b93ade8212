"""Options and loading shared by the commands."""

from __future__ import annotations

import argparse

from ..judgments import bootstrap, current_sheet
from ..sheet import Sheet
from ..store import Store
from ..workspace import Workspace, load_workspace


def add_data_options(p: argparse.ArgumentParser, db: bool = True) -> None:
    p.add_argument("--data", help="数据集目录（默认 data/demo 演示数据）")
    p.add_argument("--rubric", help="指标体系文件（默认 parameters/rubric.yaml）")
    p.add_argument("--roster", help="机构名单（默认 parameters/institutions.csv）")
    if db:
        p.add_argument(
            "--db",
            help="评分库：SQLAlchemy URL 或 SQLite 文件路径（默认取 RUBRIC_KERNEL_DB 或 var/rubric-kernel.sqlite）",
        )


def open_workspace(args: argparse.Namespace) -> Workspace:
    return load_workspace(args.data, args.rubric, args.roster)


def open_store(args: argparse.Namespace, ws: Workspace | None = None) -> Store:
    """The store named by --db (or the default), loaded with the dataset's judgments on first use."""
    store = Store(getattr(args, "db", None))
    if ws is not None:
        bootstrap(store, ws)
    return store


def sheet_for(args: argparse.Namespace, ws: Workspace, number: int) -> Sheet:
    store = open_store(args, ws)
    try:
        return current_sheet(store, ws, number)
    finally:
        store.close()
