"""What the user sees when a command fails unexpectedly: one Chinese line and a log file with the details.

The traceback matters to whoever fixes the bug, not to the credit expert reading the screen; it is
written to a new file in the system's temporary folder (created exclusively, readable by its owner only).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import tempfile
import traceback

from .. import __version__
from ..errors import display_path


def write_log(command: str) -> str:
    """The current exception's traceback in a fresh log file; returns its path ("" if none could be written)."""
    try:
        fd, path = tempfile.mkstemp(prefix="rubric-kernel-error-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"rubric-kernel {__version__}, Python {platform.python_version()}\n")
            fh.write(f"{dt.datetime.now().isoformat(timespec='seconds')} command: {command}\n")
            fh.write(f"argv: {sys.argv!r}\n\n")
            fh.write(traceback.format_exc())
        return path
    except OSError:
        return ""


def report(command: str) -> str:
    """The one line shown for an unexpected error (the caller is inside its ``except`` block)."""
    kind = type(sys.exc_info()[1]).__name__
    path = write_log(command)
    where = f"详细信息已写入 {path}" if path else "且无法写入错误日志"
    return f"内部错误（{kind}）：命令 {command} 未能完成，{where}；请将该文件提交给维护人员。"


def os_error_line(exc: OSError) -> str:
    """A file the command could not read or write, named, with the system's reason."""
    name = f"{display_path(str(exc.filename))}：" if exc.filename else ""
    reason = exc.strerror or type(exc).__name__
    return f"文件操作失败：{name}{reason}。请检查路径与权限。"
