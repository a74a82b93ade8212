"""A sheet as keyed JSON entries, the unit the store versions.

Each judgment is one key ("indicator:12", "dismiss:R013-02", "bonus:party", "veto:1(2)",
"adjust:12", and "opinion" for the group's 专家组意见) so two experts editing different indicators never conflict, and each key has its
own history of who changed it, when and why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from .sheet import Adjustment, FreeEntry, IndicatorJudgment, Sheet, VetoDecision

Entries = dict[str, dict]
OPINION_KEY = "opinion"  # not an indicator: one free text per sheet


def sheet_to_entries(sheet: Sheet) -> Entries:
    out: Entries = {}
    for n, j in sheet.indicators.items():
        out[f"indicator:{n}"] = {
            "ticks": dict(sorted(j.ticks.items())),
            "free": [{"points": f.points, "reason": f.reason} for f in j.free],
            "evidence": j.evidence,
            "note": j.note,
        }
    out.update({f"dismiss:{rid}": {"reason": reason} for rid, reason in sheet.dismissed.items()})
    out.update({f"bonus:{bid}": {"evidence": ev} for bid, ev in sheet.bonus.items()})
    out.update({f"veto:{c}": {"status": d.status, "reason": d.reason, "by": d.by} for c, d in sheet.veto.items()})
    out.update(
        {f"adjust:{n}": {"score": a.score, "reason": a.reason, "by": a.by} for n, a in sheet.adjustments.items()}
    )
    if sheet.opinion:
        out[OPINION_KEY] = {"text": sheet.opinion}
    return out


def entries_to_sheet(entries: Mapping[str, Mapping]) -> Sheet:
    indicators, dismissed, bonus, veto, adjustments = {}, {}, {}, {}, {}
    opinion = ""
    for key, c in entries.items():
        kind, _, ident = key.partition(":")
        if kind == "indicator":
            indicators[int(ident)] = IndicatorJudgment(
                dict(c.get("ticks", {})),
                tuple(FreeEntry(float(f["points"]), f["reason"]) for f in c.get("free", [])),
                c.get("evidence", ""),
                c.get("note", ""),
            )
        elif kind == "dismiss":
            dismissed[ident] = c["reason"]
        elif kind == "bonus":
            bonus[ident] = c.get("evidence", "")
        elif kind == "veto":
            veto[ident] = VetoDecision(c["status"], c["reason"], c.get("by", ""))
        elif kind == "adjust":
            adjustments[int(ident)] = Adjustment(float(c["score"]), c["reason"], c.get("by", ""))
        elif key == OPINION_KEY:
            opinion = c.get("text", "")
        else:
            raise ValueError(f"unknown entry key {key!r}")
    return Sheet(dict(sorted(indicators.items())), dismissed, bonus, veto, adjustments, opinion)


def canonical(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest(obj: object) -> str:
    """SHA-256 of the canonical JSON of any plain structure (a sheet's entries, a signed sheet…)."""
    return hashlib.sha256(canonical(obj).encode("utf-8")).hexdigest()
