"""A sheet as keyed JSON entries, the unit the store versions; the one place that maps between them.

Each judgment is one key, so two experts editing different indicators never conflict and each key
has its own history of who changed it, when and why. Keys name the rubric's stable ids, never a
position, so renumbering the indicators does not move a judgment:

    sc-2023:ind:12                 the judgment of an indicator (its ticks keyed by rule item id, e.g. sc-2023:item:12a)
    sc-2023:bonus:party            a bonus item claimed
    sc-2023:veto:1(2)              a veto clause raised or decided
    adjust:sc-2023:ind:12          the centre's adjustment of an indicator's score
    finding:sc-2023:ind:16         the centre's finding from 人社部门 data (source, date, ticks, note)
    dismiss:R013-02                a credit record dismissed (records are the dataset's, not the rubric's)
    opinion                        the group's 专家组意见 (one free text per sheet)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import NamedTuple

from .rubric import Rubric
from .sheet import Adjustment, Finding, FreeEntry, IndicatorJudgment, Sheet, VetoDecision

Entries = dict[str, dict]
ADJUST = "adjust:"
FINDING = "finding:"
INDICATOR_PREFIXES = (ADJUST, FINDING)  # keys that name an indicator's urn after a prefix
CENTRE_KINDS = frozenset({"adjust", "finding"})  # key kinds only the centre writes, never an expert
DISMISS = "dismiss:"
OPINION_KEY = "opinion"  # not an indicator: one free text per sheet


class Key(NamedTuple):
    """What a stored key names, in the rubric's own terms (an indicator's number, a clause's id…)."""

    kind: str  # "indicator", "bonus", "veto", "adjust", "finding", "dismiss", "opinion"
    ident: int | str


def indicator_key(rubric: Rubric, number: int) -> str:
    return rubric.indicators[number].urn


def bonus_key(rubric: Rubric, bonus_id: str) -> str:
    return rubric.bonus_items[bonus_id].urn


def veto_key(rubric: Rubric, clause: str) -> str:
    return rubric.veto_urns[clause]


def adjust_key(rubric: Rubric, number: int) -> str:
    return ADJUST + indicator_key(rubric, number)


def finding_key(rubric: Rubric, number: int) -> str:
    return FINDING + indicator_key(rubric, number)


def dismiss_key(record: str) -> str:
    return DISMISS + record


def parse_key(rubric: Rubric, key: str) -> Key | None:
    """The element a stored key names; None when this rubric has no such id (an orphan)."""
    if key.startswith(DISMISS):
        return Key("dismiss", key.removeprefix(DISMISS))
    if key == OPINION_KEY:
        return Key("opinion", "")
    for prefix in INDICATOR_PREFIXES:
        if key.startswith(prefix):
            found = rubric.by_urn.get(key.removeprefix(prefix))
            return Key(prefix[:-1], found[1]) if found and found[0] == "ind" else None  # type: ignore[arg-type]
    found = rubric.by_urn.get(key)
    if found is None or found[0] == "item":
        return None
    kind, ident = found
    return Key("indicator" if kind == "ind" else kind, ident)  # type: ignore[arg-type]


def orphans(rubric: Rubric, entries: Mapping[str, Mapping | None]) -> list[str]:
    """Stored ids this rubric does not know: keys, and rule items ticked inside an indicator's judgment."""
    out: set[str] = set()
    for key, content in entries.items():
        parsed = parse_key(rubric, key)
        if parsed is None:
            out.add(_urn_of(key))
            items = {u for u, (kind, _ident) in rubric.by_urn.items() if kind == "item"}
        elif parsed.kind in ("indicator", "finding"):
            items = {it.urn for it in rubric.indicators[parsed.ident].items}  # type: ignore[index]
        else:
            continue
        out.update(u for u in (content or {}).get("ticks", {}) if u not in items)
    return sorted(out)


def _urn_of(key: str) -> str:
    """The stable id a key names (an adjustment or a finding names its indicator's)."""
    for prefix in INDICATOR_PREFIXES:
        if key.startswith(prefix):
            return key.removeprefix(prefix)
    return key


def sheet_to_entries(sheet: Sheet, rubric: Rubric) -> Entries:
    """The sheet's judgments keyed by stable id (the sheet must have been checked against the rubric)."""
    out: Entries = {}
    for n, j in sheet.indicators.items():
        items = {it.id: it.urn for it in rubric.indicators[n].items}
        out[indicator_key(rubric, n)] = {
            "ticks": dict(sorted((items[i], c) for i, c in j.ticks.items())),
            "free": [{"points": f.points, "reason": f.reason} for f in j.free],
            "evidence": j.evidence,
            "note": j.note,
        }
    out.update({dismiss_key(rid): {"reason": reason} for rid, reason in sheet.dismissed.items()})
    out.update({bonus_key(rubric, bid): {"evidence": ev} for bid, ev in sheet.bonus.items()})
    out.update(
        {veto_key(rubric, c): {"status": d.status, "reason": d.reason, "by": d.by} for c, d in sheet.veto.items()}
    )
    out.update(
        {
            adjust_key(rubric, n): {"score": a.score, "reason": a.reason, "by": a.by}
            for n, a in sheet.adjustments.items()
        }
    )
    for n, f in sheet.findings.items():
        items = {it.id: it.urn for it in rubric.indicators[n].items}
        out[finding_key(rubric, n)] = {
            "ticks": dict(sorted((items[i], c) for i, c in f.ticks.items())),
            "source": f.source,
            "date": f.date.isoformat(),
            "note": f.note,
            "by": f.by,
            **({"late": f.late} if f.late else {}),
        }
    if sheet.opinion:
        out[OPINION_KEY] = {"text": sheet.opinion}
    return out


def entries_to_sheet(entries: Mapping[str, Mapping], rubric: Rubric) -> Sheet:
    """The sheet stored entries describe; an id the rubric does not know is refused (see ``orphans``)."""
    lost = orphans(rubric, entries)
    if lost:
        raise ValueError(f"unknown stored ids {lost!r}")
    indicators, dismissed, bonus, veto, adjustments, findings = {}, {}, {}, {}, {}, {}
    opinion = ""
    for key, c in entries.items():
        kind, ident = parse_key(rubric, key)  # type: ignore[misc]
        if kind == "indicator":
            items = {it.urn: it.id for it in rubric.indicators[ident].items}  # type: ignore[index]
            indicators[ident] = IndicatorJudgment(
                {items[u]: n for u, n in c.get("ticks", {}).items()},
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
            adjustments[ident] = Adjustment(float(c["score"]), c["reason"], c.get("by", ""))
        elif kind == "finding":
            items = {it.urn: it.id for it in rubric.indicators[ident].items}  # type: ignore[index]
            findings[ident] = Finding(
                c["source"],
                dt.date.fromisoformat(c["date"]),
                {items[u]: n for u, n in c.get("ticks", {}).items()},
                c.get("note", ""),
                c.get("by", ""),
                c.get("late", ""),
            )
        else:
            opinion = c.get("text", "")
    return Sheet(
        dict(sorted(indicators.items())),
        dismissed,  # type: ignore[arg-type]
        bonus,  # type: ignore[arg-type]
        veto,  # type: ignore[arg-type]
        adjustments,  # type: ignore[arg-type]
        opinion,
        dict(sorted(findings.items())),  # type: ignore[arg-type]
    )


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


def canonical(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest(obj: object) -> str:
    """SHA-256 of the canonical JSON of any plain structure (a sheet's entries, a signed sheet…)."""
    return hashlib.sha256(canonical(obj).encode("utf-8")).hexdigest()
