"""The batch's memory between runs: per institution, the fingerprint and outputs of its last success.

Saved atomically after every finished institution, so an interrupted run (Ctrl-C, kill -9) loses
nothing that completed and the next run resumes from there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..files import atomic_write

STATE_FILE = "state.json"


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

    @classmethod
    def load(cls, out: Path) -> State:
        path = out / STATE_FILE
        if not path.exists():
            return cls(path)
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, {int(k): Entry(**v) for k, v in raw.get("institutions", {}).items()})

    def save(self) -> None:
        """Called after every finished institution: ``vars``, not ``asdict``, which deep-copied every
        stored result, and compact JSON; together they took more of a cold batch than its floor's gap."""
        data = {"institutions": {str(k): vars(v) for k, v in sorted(self.entries.items())}}
        atomic_write(self.path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
