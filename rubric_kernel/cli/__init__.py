"""``rubric-kernel`` command line: argument parsing and dispatch; each command lives in its own module.

No traceback reaches the screen: a user error ends in Chinese lines naming the place and a non-zero
exit; anything unexpected ends in one Chinese line pointing at a log file that holds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import NoReturn

from ..bundled import HOME_ENV
from ..errors import InputError, StoreError
from . import crash, zh

# Each command's module, in the order of the help. Only the module of the command being run is
# imported: a command then loads what it uses and nothing else (the workflow, signing and notebook
# modules cost a command that needs none of them most of a second). tests/test_cli_lazy.py keeps this
# table equal to what the modules register.
COMMANDS: dict[str, tuple[str, ...]] = {
    "init_cmds": ("init",),
    "core_cmds": ("validate", "score", "summary", "rubric"),
    "store_cmds": ("import-judgments", "export-sheet", "remap-ids", "history"),
    "report_cmds": ("report", "verify"),
    "batch_cmds": ("batch",),
    "workflow_cmds": (
        "status",
        "schedule",
        "stage",
        "group",
        "commitment",
        "sign",
        "acknowledge",
        "consolidate",
        "review",
        "approve",
        "publicity",
        "objection",
        "decide",
        "letter",
        "collect",
        "announce",
    ),
    "finding_cmds": ("finding", "import-findings"),
    "keys_cmds": ("keys",),
    "people_cmds": ("people", "db-setup"),
    "maintenance_cmds": ("backup", "restore", "check-store", "init-store", "upgrade-store"),
}
MODULE_OF = {command: module for module, commands in COMMANDS.items() for command in commands}


class Parser(argparse.ArgumentParser):
    """argparse, ending a bad option with one line (what is wrong, and how to see the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}：错误：{message}（用法：{self.prog} -h）\n")


class Probe(argparse.ArgumentParser):
    """A silent first look at the arguments: its errors are left to the full parser."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: with a known command only its module is registered; otherwise (help,
    a mistyped command) every module, so the usage and the error read as before."""
    parser = Parser(prog="rubric-kernel", description="技能人才评价机构信用评估工具")
    parser.add_argument(
        "--home",
        help=f"工作目录，存放 var/（评分库）与 outputs/（默认取 {HOME_ENV}，在源码目录中运行时为源码目录，否则为当前目录）",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令")
    for module in command_modules(argv):
        module.register(sub)
    return parser


def command_modules(argv: Sequence[str] | None) -> list[ModuleType]:
    """The module registering the command named in ``argv``, or every module when none is recognised."""
    first = Probe(add_help=False)
    first.add_argument("--home")
    first.add_argument("command", nargs="?")
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        known, _ = first.parse_known_args(words)
    except ValueError:  # e.g. --home without its value: the full parser says what is wrong
        known = argparse.Namespace(command=None)
    if known.command not in MODULE_OF or {"-h", "--help"} & set(words[: words.index(known.command)]):
        names = list(COMMANDS)
    else:
        names = [MODULE_OF[known.command]]
    return [importlib.import_module(f".{name}", __package__) for name in names]


def main(argv: Sequence[str] | None = None) -> int:
    zh.install()
    args = build_parser(argv).parse_args(argv)
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
