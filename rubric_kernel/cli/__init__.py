"""``rubric-kernel`` command line: argument parsing and dispatch; each command lives in its own module.

No traceback reaches the screen: a user error ends in Chinese lines naming the place and a non-zero
exit; anything unexpected ends in one Chinese line pointing at a log file that holds the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from ..bundled import HOME_ENV
from ..errors import InputError
from ..store import StoreError
from . import (
    batch_cmds,
    core_cmds,
    crash,
    finding_cmds,
    init_cmds,
    keys_cmds,
    maintenance_cmds,
    people_cmds,
    report_cmds,
    store_cmds,
    workflow_cmds,
    zh,
)

COMMAND_MODULES = (
    init_cmds,
    core_cmds,
    store_cmds,
    report_cmds,
    batch_cmds,
    workflow_cmds,
    finding_cmds,
    keys_cmds,
    people_cmds,
    maintenance_cmds,
)


class Parser(argparse.ArgumentParser):
    """argparse, ending a bad option with one line (what is wrong, and how to see the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}：错误：{message}（用法：{self.prog} -h）\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="rubric-kernel", description="技能人才评价机构信用评估工具")
    parser.add_argument(
        "--home",
        help=f"工作目录，存放 var/（评分库）与 outputs/（默认取 {HOME_ENV}，在源码目录中运行时为源码目录，否则为当前目录）",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    zh.install()
    args = build_parser().parse_args(argv)
    refused = _choose_home(args)
    if refused:
        print(refused, file=sys.stderr)
        return 2
    try:
        return int(args.handler(args) or 0)
    except InputError as exc:
        if len(exc.faults) == 1:
            print(f"输入有误：{exc.faults[0]}", file=sys.stderr)
        else:
            print(f"输入有误，共 {len(exc.faults)} 处：", file=sys.stderr)
            for fault in exc.faults:
                print(f"  {fault}", file=sys.stderr)
        return 2
    except StoreError as exc:  # refused saves and workflow steps: the message says why
        print(str(exc), file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("\n已中断。", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (head, less) closed the pipe: nothing left to say to anyone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0
    except OSError as exc:  # a file the user named cannot be read or written: say which and why
        print(crash.os_error_line(exc), file=sys.stderr)
        return 2
    except Exception:  # a bug: the traceback goes to a log file, the screen gets one line
        print(crash.report(args.command), file=sys.stderr)
        return 70


def _choose_home(args: argparse.Namespace) -> str:
    """Export --home as RUBRIC_KERNEL_HOME (kernels and batch workers inherit it); "" or why it is refused.

    Only ``init`` may create a working folder that does not exist yet, so a mistyped --home is never
    silently turned into a new, empty store.
    """
    chosen = args.home or os.environ.get(HOME_ENV)
    if not chosen:
        return ""
    folder = Path(chosen).expanduser()
    if folder.exists() and not folder.is_dir():
        return f"工作目录 {chosen} 已存在且不是目录"
    if not folder.exists() and args.command != "init":
        return f"工作目录 {chosen} 不存在；请先运行 rubric-kernel --home {chosen} init"
    os.environ[HOME_ENV] = str(folder.resolve())
    return ""


if __name__ == "__main__":
    sys.exit(main())
