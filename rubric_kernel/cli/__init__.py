"""``rubric-kernel`` command line: argument parsing and dispatch; each command lives in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import InputError
from ..store import StoreError
from . import batch_cmds, core_cmds, maintenance_cmds, report_cmds, store_cmds, workflow_cmds, zh

COMMAND_MODULES = (core_cmds, store_cmds, report_cmds, batch_cmds, workflow_cmds, maintenance_cmds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rubric-kernel", description="技能人才评价机构信用评估工具")
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    zh.install()
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except InputError as exc:
        print(f"输入有误，共 {len(exc.faults)} 处：", file=sys.stderr)
        for fault in exc.faults:
            print(f"  {fault}", file=sys.stderr)
        return 2
    except StoreError as exc:  # refused saves and workflow steps: the message says why
        print(str(exc), file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
