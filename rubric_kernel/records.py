"""The plain records the store reads and writes: stored judgment versions and workflow events.

They live apart from the store so that pure code (the workflow's state machine) can read an event
log without importing the database layer; ``store`` re-exports them for its callers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RubricRef:
    """The rubric a version or event was made under: its own id and the digest of its whole content."""

    id: str
    digest: str


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
    rubric: RubricRef | None = None  # None: written before the store recorded it (schema 1)
    login: str | None = None  # the acting person's login; None: written before r0004 recorded it


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
    rubric: RubricRef | None = None  # None: written before the store recorded it (schema 1)
    login: str | None = None  # the acting person's login; None: written before r0004 recorded it
