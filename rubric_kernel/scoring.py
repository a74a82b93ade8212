"""The scoring core: (rubric, institution, evidence, sheet, as-of date) -> Result. Pure, no I/O.

Semantics (DESIGN §3): each indicator starts at its max (``full``) or at 0 (``zero``); ticked rule
items, free entries and counted credit records move it, clamped to [0, max]. Records count only
inside their severity's look-back window and unless dismissed. A veto clause becomes effective
only once confirmed. A result is complete only when every judgment indicator is judged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .evidence import CreditRecord, Evidence
from .roster import Institution
from .rubric import Indicator, Level1, Level2, Rubric
from .sheet import Sheet

LineKind = str  # "item" | "free" | "record" | "dismissed" | "outside" | "clamp" | "adjusted"


@dataclass(frozen=True, slots=True)
class Line:
    """One reason an indicator's score moved (signed points), or why a record did not count (0)."""

    kind: LineKind
    text: str
    points: float
    ref: str = ""


@dataclass(frozen=True, slots=True)
class IndicatorResult:
    number: int
    name: str
    level1: str
    level2: str
    max_points: float
    base: str
    score: float
    judged: bool
    needs_judgment: bool
    lines: tuple[Line, ...]
    evidence: str = ""

    @property
    def pending(self) -> bool:
        return self.needs_judgment and not self.judged


@dataclass(frozen=True, slots=True)
class VetoState:
    clause: str
    text: str
    status: str  # raised | confirmed | rejected
    reason: str
    raised_by: tuple[str, ...]  # record ids or "专家"


@dataclass(frozen=True, slots=True)
class Result:
    institution: int
    name: str
    klass: str
    as_of: dt.date
    indicators: tuple[IndicatorResult, ...]
    level1: dict[str, float]
    level2: dict[str, float]
    bonus: float
    bonus_lines: tuple[Line, ...]
    veto: tuple[VetoState, ...]
    subtotal: float
    total: float
    grade: str | None
    status: str  # "complete" | "provisional"
    pending: tuple[int, ...]
    next_grade: str | None
    to_next_grade: float | None

    @property
    def effective_veto(self) -> tuple[VetoState, ...]:
        return tuple(v for v in self.veto if v.status == "confirmed")

    def as_json(self) -> dict:
        """The stable machine-readable summary (CLI ``score --json``, batch summary rows)."""
        return {
            "institution": self.institution,
            "name": self.name,
            "class": self.klass,
            "as_of": self.as_of.isoformat(),
            "total": self.total,
            "grade": self.grade,
            "status": self.status,
            "bonus": self.bonus,
            "veto": [v.clause for v in self.effective_veto],
            "level1": self.level1,
            "pending": list(self.pending),
            "next_grade": self.next_grade,
            "to_next_grade": self.to_next_grade,
            "indicators": {str(i.number): i.score for i in self.indicators},
        }


def in_window(record: CreditRecord, rubric: Rubric, as_of: dt.date) -> bool:
    """A record counts when dated on or before the as-of date and within its severity's look-back."""
    days = rubric.look_back_days[record.severity]  # type: ignore[index]
    return as_of - dt.timedelta(days=days) < record.date <= as_of


def _effects(record: CreditRecord, rubric: Rubric):
    rtype = rubric.record_types_by_code[record.type]
    for e in rtype.effects:
        if e.authority not in ("任意", record.system):
            continue
        if e.severity is not None and e.severity != record.severity:
            continue
        yield e


def _record_text(r: CreditRecord) -> str:
    return f"{r.type}（{r.severity}，{r.authority}，{r.date.isoformat()}{'，' + r.ref if r.ref else ''}）：{r.summary}"


def _score_indicator(
    ind: Indicator, sheet: Sheet, record_lines: list[Line], place: tuple[Level1, Level2]
) -> IndicatorResult:
    sign = -1.0 if ind.base == "full" else 1.0
    lines: list[Line] = []
    j = sheet.indicators.get(ind.number)
    if j is not None:
        items = {it.id: it for it in ind.items}
        for item_id, count in j.ticks.items():
            it = items[item_id]
            times = f"（{count}{it.unit}）" if it.unit else ""
            lines.append(Line("item", f"{it.text}{times}", sign * it.points * count, item_id))
        lines.extend(Line("free", e.reason, sign * e.points) for e in j.free)
    lines.extend(record_lines)
    raw = (ind.max_points if ind.base == "full" else 0.0) + sum(ln.points for ln in lines)
    score = min(max(raw, 0.0), ind.max_points)
    if score != raw:
        lines.append(Line("clamp", "扣完为止" if raw < 0 else "加满为止", score - raw))
    adj = sheet.adjustments.get(ind.number)
    if adj is not None:
        lines.append(Line("adjusted", f"复核调整：{adj.reason}", adj.score - score, adj.by))
        score = adj.score
    return IndicatorResult(
        ind.number,
        ind.name,
        place[0].name,
        place[1].name,
        ind.max_points,
        ind.base,
        score,
        j is not None,
        ind.needs_judgment,
        tuple(lines),
        j.evidence if j else "",
    )


def grade_for(total: float, rubric: Rubric) -> str:
    for cut in rubric.cutoffs:
        if total >= cut.min:
            return cut.grade
    return rubric.grades.lowest


def _next_grade(total: float, rubric: Rubric) -> tuple[str | None, float | None]:
    above = [c for c in rubric.cutoffs if c.min > total]
    if not above:
        return None, None
    nxt = min(above, key=lambda c: c.min)
    return nxt.grade, round(nxt.min - total, 4)


def score(rubric: Rubric, institution: Institution, evidence: Evidence, sheet: Sheet, as_of: dt.date) -> Result:
    """Score one institution. Inputs must already be validated (``check_sheet``, loaders)."""
    record_lines: dict[int, list[Line]] = {}
    raised: dict[str, list[str]] = {}
    for r in evidence.records:
        effects = list(_effects(r, rubric))
        text = _record_text(r)
        if r.id in sheet.dismissed:
            kind, why = "dismissed", f"已排除：{sheet.dismissed[r.id]}"
        elif not in_window(r, rubric, as_of):
            kind, why = "outside", "不在回溯期内，不计分"
        else:
            kind, why = "record", ""
        for e in effects:
            sign = 1.0 if rubric.record_types_by_code[r.type].polarity == "positive" else -1.0
            pts = sign * e.points if kind == "record" else 0.0
            record_lines.setdefault(e.indicator, []).append(Line(kind, f"{text}{'；' + why if why else ''}", pts, r.id))
            if e.veto and kind == "record":
                raised.setdefault(e.veto, []).append(r.id)

    results = tuple(
        _score_indicator(ind, sheet, record_lines.get(n, []), rubric.placement[n])
        for n, ind in rubric.indicators.items()
    )
    level1 = {lv.name: 0.0 for lv in rubric.levels}
    level2 = {g.name: 0.0 for lv in rubric.levels for g in lv.groups}
    for ir in results:
        level1[ir.level1] += ir.score
        level2[ir.level2] += ir.score

    bonus_lines = tuple(
        Line("item", rubric.bonus_items[b].text + (f"（{ev}）" if ev else ""), rubric.bonus_items[b].points, b)
        for b, ev in sheet.bonus.items()
    )
    bonus_raw = sum(ln.points for ln in bonus_lines)
    bonus = min(bonus_raw, rubric.bonus.cap)
    if bonus != bonus_raw:
        bonus_lines += (Line("clamp", f"加分项以 {rubric.bonus.cap:g} 分为限", bonus - bonus_raw),)

    veto = []
    for clause in sorted(set(raised) | set(sheet.veto)):
        d = sheet.veto.get(clause)
        by = tuple(raised.get(clause, [])) + (("专家",) if d is not None and not raised.get(clause) else ())
        veto.append(
            VetoState(
                clause,
                rubric.veto_clauses[clause],
                d.status if d else "raised",
                d.reason if d else "由信用记录触发，待省职鉴中心核实",
                by,
            )
        )
    effective = any(v.status == "confirmed" for v in veto)

    subtotal = sum(level1.values())
    total = subtotal + bonus
    if not rubric.bonus.may_exceed_total:
        total = min(total, rubric.meta.total_points)
    total = round(total, 4)
    pending = tuple(ir.number for ir in results if ir.pending)
    status = "provisional" if pending else "complete"
    if effective:
        grade, nxt, gap = rubric.grades.lowest, None, None
    else:
        grade = None if pending else grade_for(total, rubric)
        nxt, gap = _next_grade(total, rubric)
    return Result(
        institution.number,
        institution.name,
        institution.klass,
        as_of,
        results,
        {k: round(v, 4) for k, v in level1.items()},
        {k: round(v, 4) for k, v in level2.items()},
        bonus,
        bonus_lines,
        tuple(veto),
        round(subtotal, 4),
        total,
        grade,
        status,
        pending,
        nxt,
        gap,
    )
