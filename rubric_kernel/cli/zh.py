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
}


def install() -> None:
    original = argparse._  # type: ignore[attr-defined]
    argparse._ = lambda text: MESSAGES.get(text, original(text))  # type: ignore[attr-defined]
