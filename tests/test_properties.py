"""Properties of the scoring core over random valid sheets and random credit records (hypothesis)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rubric_kernel.evidence import CreditRecord, Evidence, classify_authority
from rubric_kernel.roster import load_roster
from rubric_kernel.rubric import SEVERITIES, load_rubric
from rubric_kernel.scoring import grade_for, in_window, score
from rubric_kernel.sheet import (
    Adjustment,
    Finding,
    FreeEntry,
    IndicatorJudgment,
    Sheet,
    VetoDecision,
    check_sheet,
    tick_limit,
)
from rubric_kernel.workspace import ROSTER_PATH, RUBRIC_PATH

# Loaded at import: hypothesis strategies are built from the rubric and must not depend on fixtures.
RUBRIC = load_rubric(RUBRIC_PATH)
INST = load_roster(ROSTER_PATH)[13]
AS_OF = dt.date(2023, 7, 31)
AUTHORITIES = ("四川省人力资源和社会保障厅", "四川省职业技能鉴定指导中心", "成都市市场监督管理局", "成都市中级人民法院")
TAKES_FINDING = sorted(n for n, i in RUBRIC.indicators.items() if i.finding)  # the centre's, never the experts'
FULL_WITH_ITEMS = sorted(n for n, i in RUBRIC.indicators.items() if i.base == "full" and i.items and not i.finding)
FULL_BASE = sorted(n for n, i in RUBRIC.indicators.items() if i.base == "full" and not i.finding)
CAP = RUBRIC.bonus.cap
TOTAL = RUBRIC.meta.total_points

# derandomize: the same examples on every run; database=None: nothing stored between runs.
# max_examples comes from the active profile: 100 by default, fewer under `make mutation` (conftest).
SETTINGS = settings(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])

reasons = st.text(alphabet="扣分理由证据材料缺失ABC", min_size=1, max_size=8)


@st.composite
def judgments(draw, number: int) -> IndicatorJudgment:
    ind = RUBRIC.indicators[number]
    ticks = {}
    for it in draw(st.lists(st.sampled_from(ind.items), unique_by=lambda it: it.id)) if ind.items else []:
        ticks[it.id] = draw(st.integers(1, tick_limit(ind.max_points, it.points))) if it.unit else 1
    free = draw(
        st.lists(
            st.builds(
                FreeEntry,
                st.floats(min_value=0.5, max_value=ind.max_points).map(lambda x: round(x, 1)),
                reasons,
            ),
            max_size=2,
        )
    )
    return IndicatorJudgment(ticks=ticks, free=tuple(free))


@st.composite
def sheets(draw, record_ids: tuple[str, ...] = ()) -> Sheet:
    numbers = draw(st.lists(st.sampled_from(sorted(set(RUBRIC.indicators) - set(TAKES_FINDING))), unique=True))
    indicators = {n: draw(judgments(n)) for n in sorted(numbers)}
    findings = {
        n: Finding("人社部门数据", AS_OF, draw(judgments(n)).ticks)
        for n in draw(st.lists(st.sampled_from(TAKES_FINDING), unique=True))
    }
    bonus = {b: "" for b in draw(st.lists(st.sampled_from(sorted(RUBRIC.bonus_items)), unique=True))}
    veto = {
        c: VetoDecision(draw(st.sampled_from(["raised", "rejected", "confirmed"])), "核查情况说明")
        for c in draw(st.lists(st.sampled_from(sorted(RUBRIC.veto_clauses)), unique=True, max_size=3))
    }
    dismissed = {}
    if record_ids:
        dismissed = {rid: "信用修复" for rid in draw(st.lists(st.sampled_from(record_ids), unique=True))}
    adjustments = {}
    for n in draw(st.lists(st.sampled_from(sorted(RUBRIC.indicators)), unique=True, max_size=2)):
        top = RUBRIC.indicators[n].max_points
        adjustments[n] = Adjustment(draw(st.integers(0, int(top))), "复核调整")
    return Sheet(
        indicators=indicators, dismissed=dismissed, bonus=bonus, veto=veto, adjustments=adjustments, findings=findings
    )


@st.composite
def records(draw, prefix: str = "R", min_size: int = 0, max_size: int = 6) -> tuple[CreditRecord, ...]:
    n = draw(st.integers(min_size, max_size))
    out = []
    for k in range(n):
        authority = draw(st.sampled_from(AUTHORITIES))
        out.append(
            CreditRecord(
                f"{prefix}{k}",
                INST.number,
                draw(st.sampled_from(sorted(RUBRIC.record_types_by_code))),
                authority,
                classify_authority(authority, RUBRIC),
                AS_OF + dt.timedelta(days=draw(st.integers(-1200, 60))),
                draw(st.sampled_from(SEVERITIES)),
                "",
                "随机记录",
                "测试",
            )
        )
    return tuple(out)


@st.composite
def outside_record(draw, id_: str) -> CreditRecord:
    severity = draw(st.sampled_from(SEVERITIES))
    days = RUBRIC.look_back_days[severity]
    offset = draw(st.one_of(st.integers(1, 400), st.integers(-days - 800, -days)))
    authority = draw(st.sampled_from(AUTHORITIES))
    return CreditRecord(
        id_,
        INST.number,
        draw(st.sampled_from(sorted(RUBRIC.record_types_by_code))),
        authority,
        classify_authority(authority, RUBRIC),
        AS_OF + dt.timedelta(days=offset),
        severity,
        "",
        "回溯期外记录",
        "测试",
    )


@st.composite
def cases(draw):
    recs = draw(records())
    sheet = draw(sheets(tuple(r.id for r in recs)))
    return Evidence(records=recs), sheet


def run(evidence: Evidence, sheet: Sheet, rubric=RUBRIC):
    assert check_sheet(sheet, rubric, evidence, "property") == []
    return score(rubric, INST, evidence, sheet, AS_OF)


def same_outcome(a, b) -> None:
    assert a.total == b.total
    assert a.grade == b.grade
    assert a.status == b.status
    assert [i.score for i in a.indicators] == [i.score for i in b.indicators]
    assert [(v.clause, v.status) for v in a.veto] == [(v.clause, v.status) for v in b.veto]


@SETTINGS
@given(cases())
def test_every_indicator_score_within_bounds(case):
    evidence, sheet = case
    r = run(evidence, sheet)
    for i in r.indicators:
        assert 0 <= i.score <= i.max_points, i.number
    assert 0 <= r.bonus <= CAP
    assert r.subtotal <= TOTAL


@SETTINGS
@given(cases())
def test_pending_is_exactly_what_waits_for_an_expert_or_the_centre(case):
    """An unjudged judgment indicator and an indicator without the centre's 人社 finding are pending, and
    hold their current score in the open range: never 0, never counted as judged."""
    evidence, sheet = case
    r = run(evidence, sheet)
    waits = {
        n
        for n, i in RUBRIC.indicators.items()
        if (i.needs_judgment and n not in sheet.indicators) or (i.finding and n not in sheet.findings)
    }
    assert set(r.pending) == waits == {i.number for i in r.indicators if i.pending}
    assert r.pending_points == round(sum(i.score for i in r.indicators if i.number in waits), 4)
    assert (r.status == "provisional") is bool(waits)
    if waits and not r.effective_veto:
        assert r.grade is None


@SETTINGS
@given(cases())
def test_total_never_exceeds_total_points_plus_cap(case):
    evidence, sheet = case
    r = run(evidence, sheet)
    assert 0 <= r.total <= TOTAL + CAP
    assert abs(r.total - (r.subtotal + r.bonus)) < 1e-6


@SETTINGS
@given(cases(), st.sampled_from(FULL_WITH_ITEMS), st.data())
def test_adding_a_tick_never_raises_the_total(case, number, data):
    evidence, sheet = case
    before = run(evidence, sheet)
    ind = RUBRIC.indicators[number]
    j = sheet.indicators.get(number, IndicatorJudgment())
    item = data.draw(st.sampled_from(ind.items))
    ticks = dict(j.ticks)
    if item.id in ticks and (not item.unit or ticks[item.id] >= tick_limit(ind.max_points, item.points)):
        ticks = {k: v for k, v in ticks.items() if k != item.id}  # take it back, then tick it again below
        j = dataclasses.replace(j, ticks=ticks)
        sheet = dataclasses.replace(sheet, indicators={**sheet.indicators, number: j})
        before = run(evidence, sheet)
    ticks[item.id] = ticks.get(item.id, 0) + 1 if item.unit else 1
    after = run(
        evidence,
        dataclasses.replace(sheet, indicators={**sheet.indicators, number: dataclasses.replace(j, ticks=ticks)}),
    )
    assert after.total <= before.total
    assert after.subtotal <= before.subtotal


@SETTINGS
@given(cases(), st.sampled_from(FULL_BASE), st.data())
def test_adding_a_free_deduction_never_raises_the_total(case, number, data):
    evidence, sheet = case
    before = run(evidence, sheet)
    top = RUBRIC.indicators[number].max_points
    points = data.draw(st.floats(min_value=0.5, max_value=top).map(lambda x: round(x, 1)))
    j = sheet.indicators.get(number, IndicatorJudgment())
    j = dataclasses.replace(j, free=(*j.free, FreeEntry(points, "新增扣分")))
    after = run(evidence, dataclasses.replace(sheet, indicators={**sheet.indicators, number: j}))
    assert after.total <= before.total
    for a, b in zip(after.indicators, before.indicators, strict=True):
        assert a.score <= b.score


@SETTINGS
@given(cases(), st.sampled_from(sorted(RUBRIC.veto_clauses)))
def test_confirmed_veto_always_gives_lowest_grade(case, clause):
    evidence, sheet = case
    sheet = dataclasses.replace(sheet, veto={**sheet.veto, clause: VetoDecision("confirmed", "核实属实")})
    r = run(evidence, sheet)
    assert r.grade == RUBRIC.grades.lowest == "A"
    assert clause in [v.clause for v in r.effective_veto]


@SETTINGS
@given(cases())
def test_without_confirmed_veto_grade_follows_total(case):
    evidence, sheet = case
    sheet = dataclasses.replace(sheet, veto={c: d for c, d in sheet.veto.items() if d.status != "confirmed"})
    r = run(evidence, sheet)
    if r.status == "complete":
        assert r.grade == grade_for(r.total, RUBRIC)
    else:
        assert r.grade is None and r.pending


@SETTINGS
@given(
    st.lists(st.floats(min_value=0, max_value=TOTAL + CAP, allow_nan=False), min_size=2, max_size=10),
    st.sampled_from(sorted(RUBRIC.grades.presets)),
)
def test_grade_never_drops_as_total_rises(totals, preset):
    rubric = RUBRIC.with_preset(preset)
    order = [c.grade for c in rubric.cutoffs]
    if rubric.grades.lowest not in order:
        order.append(rubric.grades.lowest)
    ranks = [len(order) - order.index(grade_for(t, rubric)) for t in sorted(totals)]
    assert ranks == sorted(ranks)


@SETTINGS
@given(
    cases(),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=4, unique=True).flatmap(
        lambda ks: st.tuples(*[outside_record(f"OUT{k}") for k in ks])
    ),
)
def test_records_outside_their_window_change_nothing(case, outside):
    evidence, sheet = case
    assert not any(in_window(r, RUBRIC, AS_OF) for r in outside)
    base = run(evidence, sheet)
    more = run(Evidence(records=evidence.records + tuple(outside)), sheet)
    same_outcome(base, more)


@SETTINGS
@given(cases(), records(prefix="X", min_size=1, max_size=3))
def test_dismissed_record_changes_nothing(case, extra):
    evidence, sheet = case
    absent = run(evidence, sheet)
    dismissed = dataclasses.replace(sheet, dismissed={**sheet.dismissed, **{r.id: "信用修复" for r in extra}})
    present = run(Evidence(records=evidence.records + extra), dismissed)
    same_outcome(absent, present)
    shown = {ln.ref for i in present.indicators for ln in i.lines if ln.kind == "dismissed"}
    assert {r.id for r in extra} <= shown
