"""The batch's memory between runs: per institution, the fingerprint and outputs of its last success.

Every finished institution is appended to a journal (``state.journal``, one JSON line, flushed to
disk) before the next is reported, so an interrupted run (Ctrl-C, kill -9) loses nothing that
completed and the next run resumes from there. The whole state (``state.json``) is rewritten only
at the start and end of a run, which then removes the journal: rewriting it after every institution
made a run quadratic in the number of institutions (for 1,000, about a gigabyte written and synced).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..files import NOFOLLOW, atomic_write

STATE_FILE = "state.json"
JOURNAL_FILE = "state.journal"


@dataclass
class Entry:
    fingerprint: str = ""  # empty after a failure: the next run retries
    run: str = ""  # the run folder holding its last good outputs
    result: dict | None = None
    seconds: float = 0.0
    error: str = ""


@dataclass
class State:
    path: Path
    entries: dict[int, Entry] = field(default_factory=dict)

    @property
    def journal(self) -> Path:
        return self.path.with_name(JOURNAL_FILE)

    @classmethod
    def load(cls, out: Path) -> State:
        """The last saved state with the journal's entries after it, in the order they were recorded."""
        path = out / STATE_FILE
        state = cls(path)
        if path.exists():
            raw = json.loads(path.read_text(encoding="utf-8"))
            state.entries = {int(k): Entry(**v) for k, v in raw.get("institutions", {}).items()}
        try:
            lines = state.journal.read_bytes().splitlines()  # a kill may cut a character in two: decoded per line
        except FileNotFoundError:
            return state
        for line in lines:
            try:
                record = json.loads(line)
                number = int(record.pop("n"))
                state.entries[number] = Entry(**record)
            except (ValueError, TypeError, KeyError, AttributeError):
                continue  # the line a kill cut short: always the last (a run saves before it appends)
        return state

    def record(self, number: int, entry: Entry) -> None:
        """One institution's new entry, appended to the journal and synced: its cost does not grow with
        the number of entries."""
        self.entries[number] = entry
        line = json.dumps({"n": number, **vars(entry)}, ensure_ascii=False, separators=(",", ":")) + "\n"
        fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NOFOLLOW, 0o644)
        with os.fdopen(fd, "ab") as fh:
            fh.write(line.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())

    def save(self) -> None:
        """The whole state, atomically, then the journal it now holds is removed. ``vars``, not ``asdict``,
        which deep-copied every stored result, and compact JSON."""
        data = {"institutions": {str(k): vars(v) for k, v in sorted(self.entries.items())}}
        atomic_write(self.path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        self.journal.unlink(missing_ok=True)
