"""Digests of everything a report was computed from, so anyone can check it against the store later."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ..assessment import Assessment
from ..sheet_codec import digest
from ..store import Event
from ..workspace import Workspace


def plain(obj: object) -> object:
    """Dataclasses, dicts and sequences as plain JSON values, dates as ISO strings, ready for canonical
    JSON: what ``plain(dataclasses.asdict(obj))`` gives, without asdict's deep copy of every leaf (half
    the time of an unchanged batch re-run's 75 fingerprints)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if hasattr(obj, "isoformat"):
        return obj.isoformat()  # type: ignore[union-attr]
    return obj


def rubric_digest(ws: Workspace) -> str:
    return ws.rubric_ref.digest


def institution_digests(
    ws: Workspace, number: int, judgments: Mapping[str, dict], events: list[Event]
) -> dict[str, str]:
    """The inputs that belong to one institution: roster row, evidence, current judgments (the live
    contents of its group sheet, as ``Snapshot.live``), workflow events."""
    return {
        "roster": digest(plain(ws.roster[number])),
        "evidence": digest(plain(ws.dataset.for_institution(number))),
        "judgments": digest(judgments),
        "workflow": digest([[e.id, e.kind, e.payload] for e in events]),
    }


def input_digests(a: Assessment) -> dict[str, str]:
    """Per-input SHA-256 plus one over all of them and the identifying fields."""
    parts = {
        "institution": str(a.institution.number),
        "dataset": a.dataset,
        "as-of": a.as_of.isoformat(),
        "rubric": rubric_digest(a.ws),
        **institution_digests(
            a.ws, a.institution.number, a.snapshot().live, [*a.programme_events(), *a.recorded_events()]
        ),
    }
    parts["inputs"] = digest(parts)
    return parts
