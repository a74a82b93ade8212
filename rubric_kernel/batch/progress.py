"""A one-line progress bar on stderr: done, failed, remaining, ETA (one line per step when not a TTY)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, width: int = 28):
        self.total, self.stream, self.width = total, stream or sys.stderr, width
        self.done = self.failed = 0
        self.start = time.monotonic()
        self.tty = self.stream.isatty()

    def step(self, ok: bool, label: str = "") -> None:
        self.done += ok
        self.failed += not ok
        self._draw(label)

    def _draw(self, label: str) -> None:
        finished = self.done + self.failed
        remaining = self.total - finished
        elapsed = time.monotonic() - self.start
        eta = elapsed / finished * remaining if finished else 0.0
        filled = int(self.width * finished / max(self.total, 1))
        bar = "█" * filled + "░" * (self.width - filled)
        line = (
            f"[{bar}] 完成 {self.done}/{self.total}  失败 {self.failed}  剩余 {remaining}  "
            f"预计剩余 {int(eta // 60)}:{int(eta % 60):02d}  {label}"
        )
        if self.tty:
            self.stream.write("\r\033[K" + line)
            if not remaining:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
