"""Input faults that name their place: file, row, column or indicator.

Every loader collects faults instead of stopping at the first, so a user fixes a file in one pass.
Messages are Chinese because users read them; the structure stays machine-readable for tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Fault:
    """One problem in one place of one input file."""

    file: str
    message: str
    row: int | None = None
    column: str | None = None
    indicator: int | None = None

    def where(self) -> str:
        place = self.file
        if self.row is not None:
            place += f":{self.row}"
        if self.column:
            place += f" [{self.column}]"
        if self.indicator is not None:
            place += f" 指标{self.indicator}"
        return place

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}"


class InputError(Exception):
    """Raised with every fault found in an input; nothing was stored or scored."""

    def __init__(self, faults: Iterable[Fault]):
        self.faults = list(faults)
        super().__init__("\n".join(str(f) for f in self.faults))


def display_path(path: Path | str) -> str:
    """Relative to the working directory when possible, so messages stay short and machine-neutral."""
    p = os.path.abspath(path)  # not resolve(): keep symlinks such as outputs/latest as the user sees them
    rel = os.path.relpath(p, os.getcwd())
    return p if rel.startswith("..") else rel


def excerpt(value: object, limit: int = 40) -> str:
    """At most ``limit`` characters of file content for a message, control characters removed.

    Messages quote what they refuse so a user can find it, but never a whole line of a file that
    may not be ours (a symlinked system file) nor a 100,000-character cell.
    """
    text = "".join(ch if ch.isprintable() else " " for ch in str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class StoreError(Exception):
    """A save the store refused; the message is for the user (Chinese).

    Defined here, not in ``store``, so the command line can catch it without importing the store."""
