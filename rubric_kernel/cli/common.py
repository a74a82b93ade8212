"""Options and loading shared by the commands."""

from __future__ import annotations

import argparse

from ..sheet import Sheet
from ..workspace import Workspace, judgment_files, load_workspace, read_checked


def add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="数据集目录（默认 data/demo 演示数据）")
    p.add_argument("--rubric", help="指标体系文件（默认 parameters/rubric.yaml）")
    p.add_argument("--roster", help="机构名单（默认 parameters/institutions.csv）")


def open_workspace(args: argparse.Namespace) -> Workspace:
    return load_workspace(args.data, args.rubric, args.roster)


def current_sheet(args: argparse.Namespace, ws: Workspace, number: int) -> Sheet:
    """The institution's judgments; with no judgments file every judgment indicator is pending."""
    path = judgment_files(ws).get(number)
    return read_checked(ws, path).to_sheet() if path else Sheet()
