"""The plain records the store reads and writes: stored judgment versions and workflow events.

They live apart from the store so that pure code (the workflow's state machine) can read an event
log without importing the database layer; ``store`` re-exports them for its callers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Version:
    id: int
    dataset: str
    institution: int
    sheet: str
    key: str
    seq: int
    stage: str
    expert: str
    created_at: str
    content: dict | None
    reason: str
    replaces: int | None


@dataclass(frozen=True, slots=True)
class Event:
    """A workflow fact (stage change, signature, objection…); like versions, never edited or deleted."""

    id: int
    dataset: str
    institution: int
    seq: int
    kind: str
    actor: str
    created_at: str
    payload: dict
    note: str
