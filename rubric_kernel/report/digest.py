"""Digests of everything a report was computed from, so anyone can check it against the store later."""

from __future__ import annotations

from collections.abc import Mapping

from ..assessment import Assessment
from ..input_cache import JUDGMENT_DIGESTS
from ..sheet_codec import digest
from ..store import Event, Store
from ..workspace import Workspace


def rubric_digest(ws: Workspace) -> str:
    return ws.rubric_ref.digest


def institution_digests(ws: Workspace, number: int, judgments: str, events: list[Event]) -> dict[str, str]:
    """The inputs that belong to one institution: roster row, evidence, current judgments (``judgments``:
    ``judgments_digest`` of the live contents of its group sheet), workflow events."""
    roster, evidence = ws.static_digests[number]
    return {
        "roster": roster,
        "evidence": evidence,
        "judgments": judgments,
        "workflow": digest([[e.id, e.kind, e.payload] for e in events]),
    }


def judgments_digest(live: Mapping[str, dict]) -> str:
    """The digest of one institution's current judgments (``Snapshot.live``: key -> content)."""
    return digest(live)


def live_judgment_digests(ws: Workspace, store: Store) -> dict[int, str]:
    """``judgments_digest`` of every institution with stored judgments (absent: none stored).

    Every batch run digests all 75 to decide what to execute: reading and decoding some 4,000 versions
    was a tenth of an unchanged re-run. A SQLite store's digests are kept in ``var/cache`` under its
    state (``Store.derived_key``) and the inputs and code (``Workspace.inputs``); a server's store is
    read every time."""
    key = store.derived_key(ws.dataset.name, ws.inputs)  # the state before the contents it keys

    def read() -> dict[int, str]:
        return {n: judgments_digest(live) for n, live in store.live_contents(ws.dataset.name).items()}

    return JUDGMENT_DIGESTS.get_keyed(key, read)


def input_digests(a: Assessment) -> dict[str, str]:
    """Per-input SHA-256 plus one over all of them and the identifying fields."""
    parts = {
        "institution": str(a.institution.number),
        "dataset": a.dataset,
        "as-of": a.as_of.isoformat(),
        "rubric": rubric_digest(a.ws),
        **institution_digests(
            a.ws,
            a.institution.number,
            judgments_digest(a.snapshot().live),
            [*a.programme_events(), *a.recorded_events()],
        ),
    }
    parts["inputs"] = digest(parts)
    return parts
