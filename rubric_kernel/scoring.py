"""The scoring core: (rubric, institution, evidence, sheet, as-of date) -> Result. Pure, no I/O.

Semantics (DESIGN §3): each indicator starts at its max (``full``) or at 0 (``zero``); ticked rule
items, free entries and counted credit records move it, clamped to [0, max]. Records count only
inside their severity's look-back window and unless dismissed. A veto clause becomes effective
only once confirmed. A result is complete only when every judgment indicator is judged and every
indicator scored from 人社部门's own data has the centre's finding (``Sheet.findings``).

Speed: everything that depends on the rubric alone (placements, record effects, item lines, the
result of an indicator nothing touches) is resolved once in a ``Scorer``, so scoring one more
institution only does the work its own sheet and records call for. The caller that scores many
institutions with one rubric owns the ``Scorer`` (the workspace does); there is no module-level cache.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from operator import attrgetter

from .evidence import CreditRecord, Evidence
from .roster import Institution
from .rubric import Cutoff, RecordType, Rubric, RuleItem
from .sheet import Adjustment, IndicatorJudgment, Sheet

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
    needs_finding: bool = False  # scored from the centre's finding on 人社部门 data, not the experts'

    @property
    def pending(self) -> bool:
        return (self.needs_judgment or self.needs_finding) and not self.judged


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
    # Points the pending indicators still contribute at their starting value (a deduction-style
    # indicator starts at its maximum): the provisional total may fall by up to this much.
    pending_points: float = 0.0
    # Points the pending indicators could still add (an award-style indicator starts at 0).
    pending_upside: float = 0.0

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
            "pending_points": self.pending_points,
            "pending_upside": self.pending_upside,
            "indicators": {str(i.number): i.score for i in self.indicators},
        }


def in_window(record: CreditRecord, rubric: Rubric, as_of: dt.date) -> bool:
    """A record counts when dated on or before the as-of date and within its severity's look-back."""
    days = rubric.look_back_days[record.severity]  # type: ignore[index]
    return as_of - dt.timedelta(days=days) < record.date <= as_of


_points = attrgetter("points")  # sum(map(_points, lines)): no per-call comprehension frame on 3.11
Effect = tuple[int, float, str | None]  # indicator, signed points, veto clause raised (if any)


@dataclass(frozen=True, slots=True)
class _IndicatorPlan:
    """One indicator's rubric-derived constants, resolved once instead of for every institution."""

    number: int
    name: str
    base: str
    max_points: float
    needs_judgment: bool
    needs_finding: bool
    level1: str
    level2: str
    slot1: int  # index into _Plan.level1_names
    slot2: int  # index into _Plan.level2_names
    sign: float  # direction of ticks and free entries: deductions on ``full``, awards on ``zero``
    start: float
    items: dict[str, RuleItem]
    # (item id, count) -> its line, filled on first use. Line is immutable, so results share them;
    # counts are validated ints (``check_sheet``), so equal keys always format the same text.
    item_lines: dict[tuple[str, int], Line]

    def new_item_line(self, item_id: str, count: int) -> Line:
        """Build and remember the line for a tick not seen before."""
        it = self.items[item_id]
        times = f"（{count}{it.unit}）" if it.unit else ""
        line = self.item_lines[item_id, count] = Line(
            "item", f"{it.text}{times}", self.sign * it.points * count, item_id
        )
        return line


@dataclass(frozen=True, slots=True)
class _Plan:
    """A rubric resolved for scoring; it lives as long as the ``Scorer`` that owns it."""

    # each indicator with its result when no judgment, record or adjustment touches it
    indicators: tuple[tuple[_IndicatorPlan, IndicatorResult], ...]
    level1_names: tuple[str, ...]
    level2_names: tuple[str, ...]
    record_types: dict[str, RecordType]
    effects: dict[tuple[str, str, str], tuple[Effect, ...]]  # (type, system, severity), filled on first use
    ascending: tuple[Cutoff, ...]  # the active cut-offs by rising minimum, for the next-grade distance

    def record_effects(self, r: CreditRecord) -> tuple[Effect, ...]:
        """What a record of this type, authority system and severity does to which indicators."""
        key = (r.type, r.system, r.severity)
        found = self.effects.get(key)  # pragma: no mutate (cache lookup: a miss only recomputes)
        if found is None:
            rtype = self.record_types[r.type]
            sign = 1.0 if rtype.polarity == "positive" else -1.0
            found = self.effects[key] = tuple(
                (e.indicator, sign * e.points, e.veto)
                for e in rtype.effects
                if e.authority in ("任意", r.system) and (e.severity is None or e.severity == r.severity)
            )
        return found


def _build_plan(rubric: Rubric) -> _Plan:
    """Everything scoring needs from the rubric that does not depend on one institution."""
    level1_names = tuple(dict.fromkeys(lv.name for lv in rubric.levels))
    level2_names = tuple(dict.fromkeys(g.name for lv in rubric.levels for g in lv.groups))
    indicators = []
    for n, ind in rubric.indicators.items():
        lv, g = rubric.placement[n]
        p = _IndicatorPlan(
            ind.number,
            ind.name,
            ind.base,
            ind.max_points,
            ind.needs_judgment,
            ind.finding is not None,
            lv.name,
            g.name,
            level1_names.index(lv.name),
            level2_names.index(g.name),
            -1.0 if ind.base == "full" else 1.0,
            ind.max_points if ind.base == "full" else 0.0,
            {it.id: it for it in ind.items},
            {},
        )
        indicators.append((p, _score_indicator(p, None, None, None)))
    return _Plan(
        tuple(indicators),
        level1_names,
        level2_names,
        dict(rubric.record_types_by_code),
        {},
        tuple(sorted(rubric.cutoffs, key=lambda c: c.min)),
    )


def _record_text(r: CreditRecord) -> str:
    return f"{r.type}（{r.severity}，{r.authority}，{r.date.isoformat()}{'，' + r.ref if r.ref else ''}）：{r.summary}"


def _score_indicator(
    p: _IndicatorPlan, j: IndicatorJudgment | None, record_lines: list[Line] | None, adj: Adjustment | None
) -> IndicatorResult:
    """Lines in a fixed order (ticks, free entries, records, clamp, adjustment) and the score they give."""
    lines: list[Line] = []
    if j is not None:
        item_lines = p.item_lines
        for key in j.ticks.items():
            known = item_lines.get(key)  # pragma: no mutate (cache lookup: a miss only rebuilds the line)
            lines.append(known or p.new_item_line(*key))
        for e in j.free:
            lines.append(Line("free", e.reason, p.sign * e.points))
    if record_lines:
        lines += record_lines
    raw = p.start + sum(map(_points, lines))
    # clamped to [0, max_points]; a clamp line says by how much (none when exactly on a bound)
    score = raw
    if raw < 0.0:
        score = 0.0
        lines.append(Line("clamp", "扣完为止", -raw))
    elif raw > p.max_points:
        score = p.max_points
        lines.append(Line("clamp", "加满为止", p.max_points - raw))
    if adj is not None:
        lines.append(Line("adjusted", f"复核调整：{adj.reason}", adj.score - score, adj.by))
        score = adj.score
    return IndicatorResult(
        p.number,
        p.name,
        p.level1,
        p.level2,
        p.max_points,
        p.base,
        score,
        j is not None,
        p.needs_judgment,
        tuple(lines),
        j.evidence if j is not None else "",
        p.needs_finding,
    )


def grade_for(total: float, rubric: Rubric) -> str:
    for cut in rubric.cutoffs:
        if total >= cut.min:
            return cut.grade
    return rubric.grades.lowest


def _next_grade(total: float, ascending: tuple[Cutoff, ...]) -> tuple[str | None, float | None]:
    for c in ascending:
        if c.min > total:
            return c.grade, round(c.min - total, 4)
    return None, None


class Scorer:
    """A rubric resolved once for scoring many institutions.

    Whoever scores repeatedly with one rubric keeps one (``Workspace.scorer``, the benchmark), so
    its tables live exactly as long as their owner. It is not stored on the rubric because
    ``Rubric.with_preset`` (``model_copy``) would carry it over to a rubric with other cut-offs.
    """

    __slots__ = ("_plan", "rubric")

    def __init__(self, rubric: Rubric) -> None:
        self.rubric = rubric
        self._plan = _build_plan(rubric)

    def score(self, institution: Institution, evidence: Evidence, sheet: Sheet, as_of: dt.date) -> Result:
        """Score one institution. Inputs must already be validated (``check_sheet``, loaders)."""
        rubric, plan = self.rubric, self._plan
        record_lines: dict[int, list[Line]] = {}
        raised: dict[str, list[str]] = {}
        for r in evidence.records:
            effects = plan.record_effects(r)
            text = _record_text(r)
            if r.id in sheet.dismissed:
                kind, why = "dismissed", f"已排除：{sheet.dismissed[r.id]}"
            elif not in_window(r, rubric, as_of):
                kind, why = "outside", "不在回溯期内，不计分"
            else:
                kind, why = "record", ""
            for indicator, points, veto in effects:
                pts = points if kind == "record" else 0.0
                record_lines.setdefault(indicator, []).append(
                    Line(kind, f"{text}{'；' + why if why else ''}", pts, r.id)
                )
                if veto and kind == "record":
                    raised.setdefault(veto, []).append(r.id)

        judgments, adjustments, findings = sheet.indicators, sheet.adjustments, sheet.findings
        results: list[IndicatorResult] = []
        pending: list[int] = []
        pending_points = pending_upside = 0.0
        level1 = [0.0] * len(plan.level1_names)
        level2 = [0.0] * len(plan.level2_names)
        for p, untouched in plan.indicators:
            n = p.number
            if p.needs_finding:  # the centre's finding stands in for a judgment; none yet: pending
                f = findings.get(n)
                j = f.as_judgment() if f is not None else None
            else:
                j = judgments.get(n)
            # Fast paths (excluded from mutation, docs/mutation.md): skip lookups in empty mappings, and
            # reuse the plan's result for an indicator nothing touches instead of scoring it again.
            recs = record_lines.get(n) if record_lines else None  # pragma: no mutate
            adj = adjustments.get(n) if adjustments else None  # pragma: no mutate
            fast = j is None and recs is None and adj is None  # pragma: no mutate
            ir = untouched if fast else _score_indicator(p, j, recs, adj)  # pragma: no mutate
            results.append(ir)
            level1[p.slot1] += ir.score
            level2[p.slot2] += ir.score
            if j is None and (p.needs_judgment or p.needs_finding):
                pending.append(n)
                pending_points += ir.score
                pending_upside += ir.max_points - ir.score

        bonus_items = rubric.bonus_items
        bonus_lines = tuple(
            Line("item", bonus_items[b].text + (f"（{ev}）" if ev else ""), bonus_items[b].points, b)
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

        subtotal = sum(level1)
        total = subtotal + bonus
        if not rubric.bonus.may_exceed_total:
            total = min(total, rubric.meta.total_points)
        total = round(total, 4)
        status = "provisional" if pending else "complete"
        if effective:  # a confirmed veto decides the grade whatever is still pending
            grade, nxt, gap = rubric.grades.lowest, None, None
        elif pending:  # unjudged indicators still hold their starting points: no grade, no distance
            grade, nxt, gap = None, None, None
        else:
            grade = grade_for(total, rubric)
            nxt, gap = _next_grade(total, plan.ascending)
        return Result(
            institution.number,
            institution.name,
            institution.klass,
            as_of,
            tuple(results),
            {name: round(level1[i], 4) for i, name in enumerate(plan.level1_names)},
            {name: round(level2[i], 4) for i, name in enumerate(plan.level2_names)},
            bonus,
            bonus_lines,
            tuple(veto),
            round(subtotal, 4),
            total,
            grade,
            status,
            tuple(pending),
            nxt,
            gap,
            round(pending_points, 4),
            round(pending_upside, 4),
        )


def score(rubric: Rubric, institution: Institution, evidence: Evidence, sheet: Sheet, as_of: dt.date) -> Result:
    """Score one institution with a throwaway ``Scorer``; to score many, keep one ``Scorer(rubric)``."""
    return Scorer(rubric).score(institution, evidence, sheet, as_of)
