"""Digests of everything a report was computed from, so anyone can check it against the store later."""

from __future__ import annotations

from collections.abc import Mapping

from ..assessment import Assessment
from ..sheet_codec import digest
from ..store import Event
from ..workspace import Workspace


def rubric_digest(ws: Workspace) -> str:
    return ws.rubric_ref.digest


def institution_digests(
    ws: Workspace, number: int, judgments: Mapping[str, dict], events: list[Event]
) -> dict[str, str]:
    """The inputs that belong to one institution: roster row, evidence, current judgments (the live
    contents of its group sheet, as ``Snapshot.live``), workflow events."""
    roster, evidence = ws.static_digests[number]
    return {
        "roster": roster,
        "evidence": evidence,
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
