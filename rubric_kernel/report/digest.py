"""Digests of everything a report was computed from, so anyone can check it against the store later."""

from __future__ import annotations

import dataclasses

from ..assessment import Assessment
from ..sheet_codec import digest


def _plain(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if hasattr(obj, "isoformat"):
        return obj.isoformat()  # type: ignore[union-attr]
    return obj


def input_digests(a: Assessment) -> dict[str, str]:
    """Per-input SHA-256 plus one over all of them and the identifying fields."""
    ws = a.ws
    inst = a.institution
    parts = {
        "institution": str(inst.number),
        "dataset": a.dataset,
        "as-of": a.as_of.isoformat(),
        "rubric": digest(ws.rubric.model_dump(mode="json")),
        "roster": digest(_plain(dataclasses.asdict(inst))),
        "evidence": digest(_plain(dataclasses.asdict(a.evidence))),
        "judgments": digest(a.snapshot().live),
    }
    parts["inputs"] = digest(parts)
    return parts
