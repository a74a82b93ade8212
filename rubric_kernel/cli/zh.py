"""argparse's own words (usage, errors, help headings) in Chinese, for the command line only.

argparse looks its messages up through a module-level ``_`` at call time; ``install`` points that
lookup at this table. Anything not listed stays as argparse wrote it.
"""

from __future__ import annotations

import argparse

MESSAGES = {
    "usage: ": "用法：",
    "positional arguments": "位置参数",
    "options": "选项",
    "show this help message and exit": "显示本帮助并退出",
    "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
    "the following arguments are required: %s": "缺少必需参数：%s",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "invalid %(type)s value: %(value)r": "%(value)r 不是有效的值（应为 %(type)s）",
    "invalid choice: %(value)r (choose from %(choices)s)": "无效的选择 %(value)r（可选：%(choices)s）",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "expected one argument": "需要一个值",
    "ambiguous option: %(option)s could match %(matches)s": "选项 %(option)s 有歧义，可能是 %(matches)s",
    "expected at least one argument": "至少需要一个值",
}


def _translate(text: str) -> str:
    return MESSAGES.get(text, _ORIGINAL(text))


_ORIGINAL = argparse._  # type: ignore[attr-defined]


def install() -> None:
    """Idempotent; affects argparse in this process only (the command line's own process)."""
    argparse._ = _translate  # type: ignore[attr-defined]
