"""One test per scoring rule (DESIGN §3), on the real rubric with hand-built evidence and sheets.

The institution is no. 13 of the roster (四川旅游学院). A "complete" sheet judges every judgment
indicator with no deduction: full-base indicators then sit at their max and zero-base ones (49–54,
60–61, 90 points in all) at 0, so its total is 910. ``run`` records the centre's 人社 finding for
16 (no problem) unless a sheet brings its own: these tests are about the experts' judgments, and
test_findings covers a missing finding.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from rubric_kernel.evidence import CreditRecord, Evidence, classify_authority
from rubric_kernel.rubric import parse_rubric
from rubric_kernel.scoring import grade_for, in_window, score
from rubric_kernel.sheet import Adjustment, Finding, FreeEntry, IndicatorJudgment, Sheet, VetoDecision, check_sheet

AS_OF = dt.date(2023, 7, 31)
HRSS = "四川省人力资源和社会保障厅"
MARKET = "成都市市场监督管理局"
COMPLETE_TOTAL = 910.0


@pytest.fixture(scope="module")
def inst(roster):
    return roster[13]


def record(rubric, type_="行政处罚", *, authority=HRSS, severity="一般", date=AS_OF, id_="T-1", institution=13):
    return CreditRecord(
        id_,
        institution,
        type_,
        authority,
        classify_authority(authority, rubric),
        date,
        severity,
        "测试〔2023〕1号",
        "测试记录",
        "测试",
    )


def complete(rubric, **overrides) -> dict[int, IndicatorJudgment]:
    """Every judgment indicator judged with no deduction, with some replaced by ``overrides`` (n=...)."""
    judged = {n: IndicatorJudgment() for n, i in rubric.indicators.items() if i.needs_judgment}
    judged.update({int(k.lstrip("n")): v for k, v in overrides.items()})
    return judged


def with_finding(sheet: Sheet) -> Sheet:
    """The sheet with the centre's no-problem 人社 finding on 16, unless it brings its own findings."""
    return sheet if sheet.findings else dataclasses.replace(sheet, findings={16: Finding("人社部门数据", AS_OF)})


def run(rubric, inst, sheet=None, records=(), as_of=AS_OF):
    sheet = with_finding(sheet or Sheet())
    evidence = Evidence(records=tuple(records))
    assert check_sheet(sheet, rubric, evidence, "test") == []
    return score(rubric, inst, evidence, sheet, as_of)


def ind(result, number):
    (out,) = [i for i in result.indicators if i.number == number]
    return out


# ── starting points ─────────────────────────────────────────────────────────────────────────────


def test_full_base_starts_at_max(rubric, inst):
    r = run(rubric, inst, Sheet(indicators={1: IndicatorJudgment()}))
    one = ind(r, 1)
    assert one.base == "full"
    assert one.score == one.max_points == 15
    assert one.lines == ()
    # unjudged full-base indicators also show their max (pending is a status, not a score)
    assert ind(r, 2).score == ind(r, 2).max_points


def test_zero_base_starts_at_zero(rubric, inst):
    r = run(rubric, inst, Sheet(indicators=complete(rubric)))
    for n in (49, 50, 51, 52, 53, 54, 60, 61):
        assert ind(r, n).base == "zero"
        assert ind(r, n).score == 0
    assert r.total == COMPLETE_TOTAL


# ── expert judgments ────────────────────────────────────────────────────────────────────────────


def test_ticked_item_subtracts_its_points(rubric, inst):
    r = run(rubric, inst, Sheet(indicators={1: IndicatorJudgment(ticks={"1b": 1})}))
    one = ind(r, 1)
    assert one.score == 10
    assert [(ln.kind, ln.points, ln.ref) for ln in one.lines] == [("item", -5, "1b")]


def test_ticked_award_item_adds_on_zero_base(rubric, inst):
    r = run(rubric, inst, Sheet(indicators={49: IndicatorJudgment(ticks={"49b": 1})}))
    assert ind(r, 49).score == 3
    assert ind(r, 49).lines[0].points == 3


def test_counted_item_multiplies_by_count(rubric, inst):
    r = run(rubric, inst, Sheet(indicators={1: IndicatorJudgment(ticks={"1a": 3})}))
    one = ind(r, 1)
    assert one.score == 15 - 3 * 3
    (line,) = one.lines
    assert line.points == -9
    assert "3岗位" in line.text


def test_deduction_clamped_at_zero_with_clamp_line(rubric, inst):
    r = run(rubric, inst, Sheet(indicators={1: IndicatorJudgment(ticks={"1a": 5, "1b": 1})}))  # 20 > 15
    one = ind(r, 1)
    assert one.score == 0
    clamp = [ln for ln in one.lines if ln.kind == "clamp"]
    assert len(clamp) == 1
    assert clamp[0].text == "扣完为止"
    assert clamp[0].points == 5
    assert sum(ln.points for ln in one.lines) == -15  # lines still explain the score


def test_award_clamped_at_max_with_clamp_line(rubric, inst):
    r = run(rubric, inst, Sheet(indicators={49: IndicatorJudgment(ticks={"49a": 2, "49b": 1})}))  # 13 > 10
    i49 = ind(r, 49)
    assert i49.score == i49.max_points == 10
    clamp = [ln for ln in i49.lines if ln.kind == "clamp"]
    assert len(clamp) == 1 and clamp[0].points == -3
    assert clamp[0].text == "加满为止"


def test_free_deduction_with_reason(rubric, inst):
    r = run(rubric, inst, Sheet(indicators={1: IndicatorJudgment(free=(FreeEntry(4, "岗位职责文件未盖章"),))}))
    one = ind(r, 1)
    assert one.score == 11
    assert [(ln.kind, ln.points, ln.text) for ln in one.lines] == [("free", -4, "岗位职责文件未盖章")]


def test_adjustment_replaces_score_with_a_line(rubric, inst):
    sheet = Sheet(
        indicators={1: IndicatorJudgment(ticks={"1b": 1})},
        adjustments={1: Adjustment(12, "补充材料证明已整改", "省职鉴中心")},
    )
    one = ind(run(rubric, inst, sheet), 1)
    assert one.score == 12
    adjusted = [ln for ln in one.lines if ln.kind == "adjusted"]
    assert len(adjusted) == 1
    assert adjusted[0].points == 12 - 10
    assert "补充材料证明已整改" in adjusted[0].text


# ── credit records ──────────────────────────────────────────────────────────────────────────────


def test_authority_classification(rubric):
    assert classify_authority(HRSS, rubric) == "人社"
    assert classify_authority("四川省职业技能鉴定指导中心", rubric) == "人社"
    assert classify_authority(MARKET, rubric) == "其他"
    assert classify_authority("成都市中级人民法院", rubric) == "其他"


@pytest.mark.parametrize(
    ("type_", "authority", "expected"),
    [
        ("行政处罚", HRSS, 58),
        ("行政处罚", MARKET, 66),
        ("通报批评", HRSS, 55),
        ("通报批评", MARKET, 65),
        ("约谈", HRSS, 56),
        ("督促整改", HRSS, 57),
        ("行政强制", HRSS, 59),
        ("行政强制", MARKET, 68),
    ],
)
def test_record_in_window_counts_on_mapped_indicator(rubric, inst, type_, authority, expected):
    rec = record(rubric, type_, authority=authority, date=AS_OF - dt.timedelta(days=30))
    base = run(rubric, inst)
    r = run(rubric, inst, records=[rec])
    effect = next(
        e
        for e in rubric.record_types_by_code[type_].effects
        if e.authority in ("任意", rec.system) and e.severity in (None, "一般")
    )
    assert effect.indicator == expected
    target = ind(r, expected)
    assert target.score == target.max_points - effect.points
    assert [(ln.kind, ln.ref, ln.points) for ln in target.lines] == [("record", "T-1", -effect.points)]
    # nothing else moved
    changed = {i.number for i, j in zip(r.indicators, base.indicators, strict=True) if i.score != j.score}
    assert changed == {expected}
    hrss_side, other_side = set(range(55, 60)), set(range(62, 69))
    assert expected in (hrss_side if rec.system == "人社" else other_side)


def test_severity_selects_points(rubric, inst):
    for severity, pts in (("一般", 10), ("较重", 20), ("严重", 30)):
        r = run(rubric, inst, records=[record(rubric, "行政处罚", authority=MARKET, severity=severity)])
        assert ind(r, 66).score == 30 - pts


def test_positive_record_awards_zero_base_indicator(rubric, inst):
    r = run(rubric, inst, records=[record(rubric, "红名单", authority=MARKET)])
    assert ind(r, 60).score == 10
    r = run(rubric, inst, records=[record(rubric, "红名单", authority=MARKET, id_=f"T-{k}") for k in range(3)])
    assert ind(r, 60).score == 20  # capped at max


def test_record_deductions_clamp_at_zero(rubric, inst):
    recs = [record(rubric, "行政处罚", authority=HRSS, severity="较重", id_=f"T-{k}") for k in range(3)]
    i58 = ind(run(rubric, inst, records=recs), 58)
    assert i58.score == 0
    assert any(ln.kind == "clamp" and ln.text == "扣完为止" for ln in i58.lines)


@pytest.mark.parametrize("severity", ["一般", "较重", "严重"])
def test_record_outside_its_window_does_not_count(rubric, inst, severity):
    days = rubric.look_back_days[severity]
    inside = record(rubric, "行政处罚", authority=MARKET, severity=severity, date=AS_OF - dt.timedelta(days=days - 1))
    outside = record(rubric, "行政处罚", authority=MARKET, severity=severity, date=AS_OF - dt.timedelta(days=days))
    assert in_window(inside, rubric, AS_OF)
    assert not in_window(outside, rubric, AS_OF)
    r = run(rubric, inst, records=[outside])
    i66 = ind(r, 66)
    assert i66.score == i66.max_points
    assert [(ln.kind, ln.points) for ln in i66.lines] == [("outside", 0)]
    assert r.veto == ()
    assert ind(run(rubric, inst, records=[inside]), 66).score < i66.max_points


def test_window_lengths_grow_with_severity(rubric):
    days = rubric.look_back_days
    assert days["一般"] < days["较重"] < days["严重"]
    assert 300 <= days["一般"] <= 400 and days["严重"] <= 3 * 366


def test_record_dated_after_as_of_does_not_count(rubric, inst):
    late = record(rubric, "行政处罚", authority=MARKET, date=AS_OF + dt.timedelta(days=1))
    on_day = record(rubric, "行政处罚", authority=MARKET, date=AS_OF, id_="T-2")
    assert not in_window(late, rubric, AS_OF)
    assert in_window(on_day, rubric, AS_OF)
    assert ind(run(rubric, inst, records=[late]), 66).score == 30
    assert ind(run(rubric, inst, records=[on_day]), 66).score == 20


def test_dismissed_record_does_not_count_and_stays_visible(rubric, inst):
    rec = record(rubric, "行政处罚", authority=MARKET)
    sheet = Sheet(dismissed={"T-1": "已完成信用修复"})
    r = run(rubric, inst, sheet, records=[rec])
    i66 = ind(r, 66)
    assert i66.score == i66.max_points
    (line,) = i66.lines
    assert (line.kind, line.points, line.ref) == ("dismissed", 0, "T-1")
    assert "已完成信用修复" in line.text
    assert r.total == run(rubric, inst).total


# ── veto ────────────────────────────────────────────────────────────────────────────────────────


def test_record_raising_veto_is_only_raised(rubric, inst):
    rec = record(rubric, "行政处罚", authority=HRSS, severity="严重")
    r = run(rubric, inst, Sheet(indicators=complete(rubric)), records=[rec])
    (v,) = r.veto
    assert (v.clause, v.status, v.raised_by) == ("3", "raised", ("T-1",))
    assert r.effective_veto == ()
    assert r.total == COMPLETE_TOTAL - 30
    assert r.status == "complete"
    assert r.grade == grade_for(r.total, rubric) == "AAAA"
    assert r.as_json()["veto"] == []


def test_dismissed_record_does_not_raise_veto(rubric, inst):
    rec = record(rubric, "行政处罚", authority=HRSS, severity="严重")
    r = run(rubric, inst, Sheet(indicators=complete(rubric), dismissed={"T-1": "经核实系误报"}), records=[rec])
    assert r.veto == ()


def test_confirmed_veto_gives_grade_a_total_still_computed(rubric, inst):
    sheet = Sheet(
        indicators=complete(rubric),
        veto={"1(2)": VetoDecision("confirmed", "招生简章含“包过”字样", "省职鉴中心")},
    )
    r = run(rubric, inst, sheet)
    assert r.grade == rubric.grades.lowest == "A"
    assert r.total == COMPLETE_TOTAL
    (v,) = r.effective_veto
    assert v.clause == "1(2)"
    assert v.raised_by == ("专家",)
    assert "虚假宣传" in v.text
    assert r.as_json()["veto"] == ["1(2)"]
    assert r.next_grade is None and r.to_next_grade is None


def test_confirmed_record_veto_gives_grade_a(rubric, inst):
    rec = record(rubric, "行政处罚", authority=HRSS, severity="严重")
    sheet = Sheet(indicators=complete(rubric), veto={"3": VetoDecision("confirmed", "听证程序处罚属实")})
    r = run(rubric, inst, sheet, records=[rec])
    (v,) = r.veto
    assert (v.status, v.raised_by) == ("confirmed", ("T-1",))
    assert r.grade == "A"
    assert r.total == COMPLETE_TOTAL - 30


def test_rejected_veto_has_no_effect(rubric, inst):
    rec = record(rubric, "行政处罚", authority=HRSS, severity="严重")
    sheet = Sheet(indicators=complete(rubric), veto={"3": VetoDecision("rejected", "非听证程序作出")})
    r = run(rubric, inst, sheet, records=[rec])
    assert r.veto[0].status == "rejected"
    assert r.effective_veto == ()
    assert r.grade == grade_for(r.total, rubric) == "AAAA"


# ── bonus and total ─────────────────────────────────────────────────────────────────────────────


def test_bonus_adds(rubric, inst):
    r = run(rubric, inst, Sheet(indicators=complete(rubric), bonus={"party": "党支部活动记录", "qms": ""}))
    assert r.bonus == 20
    assert r.total == COMPLETE_TOTAL + 20
    assert r.subtotal == COMPLETE_TOTAL
    assert [ln.ref for ln in r.bonus_lines] == ["party", "qms"]


def test_bonus_all_items_reach_cap_50(rubric, inst):
    assert rubric.bonus.cap == 50
    r = run(rubric, inst, Sheet(indicators=complete(rubric), bonus=dict.fromkeys(rubric.bonus_items, "")))
    assert r.bonus == 50
    assert r.total == COMPLETE_TOTAL + 50


def test_bonus_capped_at_cap(rubric_dict, inst):
    rubric_dict["bonus"]["items"].append(
        {"id": "extra", "urn": "sc-2023:bonus:extra", "text": "测试加分项", "points": 20}
    )
    rubric = parse_rubric(rubric_dict)
    r = run(rubric, inst, Sheet(indicators=complete(rubric), bonus=dict.fromkeys(rubric.bonus_items, "")))
    assert r.bonus == 50
    clamp = [ln for ln in r.bonus_lines if ln.kind == "clamp"]
    assert len(clamp) == 1 and clamp[0].points == -20
    assert r.total == COMPLETE_TOTAL + 50


def full_marks(rubric):
    """A complete sheet that also fills every zero-base indicator to its max (total 1000)."""
    awards = {}
    for n, i in rubric.indicators.items():
        if i.base == "zero":
            top = max(i.items, key=lambda it: it.points)
            count = int(-(-i.max_points // top.points)) if top.unit else 1
            awards[f"n{n}"] = IndicatorJudgment(ticks={top.id: count})
    return complete(rubric, **awards)


def test_bonus_may_exceed_total_when_allowed(rubric, inst):
    assert rubric.bonus.may_exceed_total is True
    r = run(rubric, inst, Sheet(indicators=full_marks(rubric), bonus={"party": ""}))
    assert r.subtotal == 1000
    assert r.total == 1010


def test_may_exceed_total_false_clamps_at_1000(rubric, inst):
    capped = rubric.model_copy(update={"bonus": rubric.bonus.model_copy(update={"may_exceed_total": False})})
    r = run(capped, inst, Sheet(indicators=full_marks(capped), bonus={"party": "", "qms": ""}))
    assert r.subtotal == 1000
    assert r.bonus == 20
    assert r.total == 1000
    # below 1000 the bonus still counts in full
    r = run(capped, inst, Sheet(indicators=complete(capped), bonus={"party": ""}))
    assert r.total == COMPLETE_TOTAL + 10


def test_may_exceed_total_false_via_parse_rubric(rubric_dict, inst):
    rubric_dict["bonus"]["may_exceed_total"] = False
    rubric = parse_rubric(rubric_dict)
    r = run(rubric, inst, Sheet(indicators=full_marks(rubric), bonus=dict.fromkeys(rubric.bonus_items, "")))
    assert r.total == rubric.meta.total_points == 1000


# ── status and grade ────────────────────────────────────────────────────────────────────────────


def test_pending_indicators_make_result_provisional_without_grade(rubric, inst):
    judged = complete(rubric)
    del judged[4], judged[23]
    r = run(rubric, inst, Sheet(indicators=judged))
    assert r.status == "provisional"
    assert r.grade is None
    assert r.pending == (4, 23)
    assert r.as_json()["pending"] == [4, 23]
    assert ind(r, 4).pending and not ind(r, 8).pending


def test_nothing_judged_lists_every_judgment_indicator(rubric, inst):
    r = run(rubric, inst)
    assert r.status == "provisional" and r.grade is None
    assert set(r.pending) == {n for n, i in rubric.indicators.items() if i.needs_judgment}
    assert not {8, 42, 55, 56, 57, 58, 59, 62, 63, 64, 65, 66, 67, 68} & set(r.pending)


def test_complete_sheet_is_complete(rubric, inst):
    r = run(rubric, inst, Sheet(indicators=complete(rubric)))
    assert r.status == "complete"
    assert r.pending == ()
    assert r.grade == "AAAAA"


@pytest.mark.parametrize(
    ("total", "grade"),
    [
        (1050, "AAAAA"),
        (900, "AAAAA"),
        (899.99, "AAAA"),
        (800, "AAAA"),
        (799.5, "AAA"),
        (700, "AAA"),
        (600, "AA"),
        (599.99, "A"),
        (0, "A"),
    ],
)
def test_default_cutoffs(rubric, total, grade):
    assert rubric.grades.active == "default"
    assert grade_for(total, rubric) == grade


@pytest.mark.parametrize(
    ("total", "grade"),
    [(950, "AAAAA"), (949.9, "AAAA"), (900, "AAAA"), (850, "AAA"), (849, "AA"), (800, "AA"), (799, "A")],
)
def test_strict_cutoffs(rubric, total, grade):
    strict = rubric.with_preset("strict")
    assert grade_for(total, strict) == grade
    assert rubric.grades.active == "default"  # the original is unchanged


def test_strict_preset_changes_grade_of_a_result(rubric, inst):
    sheet = Sheet(indicators=complete(rubric))
    assert run(rubric, inst, sheet).grade == "AAAAA"
    r = run(rubric.with_preset("strict"), inst, sheet)
    assert r.total == COMPLETE_TOTAL
    assert r.grade == "AAAA"


def test_unknown_preset_refused(rubric):
    with pytest.raises(KeyError):
        rubric.with_preset("lenient")


def test_to_next_grade_distance(rubric, inst):
    rec = record(rubric, "行政处罚", authority=MARKET, severity="严重")  # 910 - 30 = 880
    sheet = Sheet(indicators=complete(rubric), veto={"3": VetoDecision("rejected", "非听证程序")})
    r = run(rubric, inst, sheet, records=[rec])
    assert r.total == 880
    assert (r.grade, r.next_grade, r.to_next_grade) == ("AAAA", "AAAAA", 20)
    top = run(rubric, inst, Sheet(indicators=complete(rubric)))
    assert (top.grade, top.next_grade, top.to_next_grade) == ("AAAAA", None, None)
    strict = run(rubric.with_preset("strict"), inst, Sheet(indicators=complete(rubric)))
    assert (strict.next_grade, strict.to_next_grade) == ("AAAAA", 40)


def test_level_sums_add_up(rubric, inst):
    r = run(rubric, inst, Sheet(indicators=complete(rubric, n1=IndicatorJudgment(ticks={"1b": 1}))))
    assert list(r.level1) == [lv.name for lv in rubric.levels]
    assert r.level1["基本情况"] == 115
    assert sum(r.level1.values()) == r.subtotal
    assert sum(r.level2.values()) == r.subtotal
