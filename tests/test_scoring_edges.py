"""The scoring core at its edges: totals on a cut-off, fractions, two pending indicators, the capped
bonus's lines, the reviewer on an adjustment, and the ``score --json`` schema pinned field by field.

Institution no. 13, as in test_scoring_rules: a complete sheet with no deduction totals 910, and
``run`` records the centre's no-problem 人社 finding on 16 unless a sheet brings its own findings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from rubric_kernel.evidence import CreditRecord, Evidence, classify_authority
from rubric_kernel.rubric import Cutoff, parse_rubric
from rubric_kernel.scoring import Line, Scorer, score
from rubric_kernel.sheet import Adjustment, Finding, FreeEntry, IndicatorJudgment, Sheet, VetoDecision, check_sheet

AS_OF = dt.date(2023, 7, 31)
COMPLETE_TOTAL = 910.0
MARKET = "成都市市场监督管理局"


@pytest.fixture(scope="module")
def inst(roster):
    return roster[13]


def judged(rubric, **overrides: IndicatorJudgment) -> dict[int, IndicatorJudgment]:
    out = {n: IndicatorJudgment() for n, i in rubric.indicators.items() if i.needs_judgment}
    out.update({int(k[1:]): v for k, v in overrides.items()})
    return out


def free(*points: float) -> IndicatorJudgment:
    return IndicatorJudgment(free=tuple(FreeEntry(p, f"扣 {p:g}") for p in points))


def run(rubric, inst, sheet: Sheet, records=()):
    if not sheet.findings:
        sheet = dataclasses.replace(sheet, findings={16: Finding("人社部门数据", AS_OF)})
    evidence = Evidence(tuple(records))
    assert check_sheet(sheet, rubric, evidence, "test") == []
    return Scorer(rubric).score(inst, evidence, sheet, AS_OF)


def record(rubric, type_="行政处罚", *, severity="一般", date=AS_OF, id_="T-1", ref="测试〔2023〕1号"):
    return CreditRecord(
        id_, 13, type_, MARKET, classify_authority(MARKET, rubric), date, severity, ref, "测试记录", "测试"
    )


def ind(result, number):
    (out,) = [i for i in result.indicators if i.number == number]
    return out


# ── totals on and around each cut-off ───────────────────────────────────────────────────────────
CUTOFFS = [(900.0, "AAAAA", None, None), (800.0, "AAAA", "AAAAA", 100.0), (700.0, "AAA", "AAAA", 100.0)]
CUTOFFS += [(600.0, "AA", "AAA", 100.0)]


@pytest.mark.parametrize(("total", "grade", "nxt", "gap"), CUTOFFS)
def test_a_total_exactly_on_a_cut_off_has_that_grade_and_the_next_one_a_full_step_away(
    rubric, inst, total, grade, nxt, gap
):
    # deduct 910 - total across indicators of 15 points or more (each at most its maximum)
    left, overrides = COMPLETE_TOTAL - total, {}
    for n, i in rubric.indicators.items():
        if left <= 0:
            break
        if i.needs_judgment and i.base == "full":
            take = min(left, i.max_points)
            overrides[f"n{n}"] = free(take)
            left -= take
    r = run(rubric, inst, Sheet(indicators=judged(rubric, **overrides)))
    assert (r.total, r.grade, r.next_grade, r.to_next_grade) == (total, grade, nxt, gap)


def test_just_below_a_cut_off_the_distance_is_kept_to_four_places(rubric, inst):
    r = run(rubric, inst, Sheet(indicators=judged(rubric, n1=free(10.25))))
    assert (r.total, r.subtotal, r.grade, r.next_grade, r.to_next_grade) == (899.75, 899.75, "AAAA", "AAAAA", 0.25)
    assert r.level1["基本情况"] == 109.75


def test_results_are_rounded_to_four_places_not_fewer_nor_more(rubric, inst):
    r = run(rubric, inst, Sheet(indicators=judged(rubric, n1=free(0.00001), n2=free(0.0002))))
    assert r.total == r.subtotal == 909.9998  # 909.99979 to four places
    assert ind(r, 1).score == 14.99999  # the indicator itself is not rounded
    assert rubric.placement[1][1].name == rubric.placement[2][1].name == "机构设置"  # a 30-point group
    assert (r.level1["基本情况"], r.level2["机构设置"]) == (119.9998, 29.9998)


def test_the_next_grade_distance_is_rounded_to_four_places(rubric, inst):
    # a cut-off with more places than the result keeps: the distance is stated to four
    grades = rubric.grades.model_copy(
        update={
            "presets": {
                **rubric.grades.presets,
                "fine": [Cutoff(grade="AAAAA", min=910.00001), Cutoff(grade="A", min=0)],
            }
        }
    )
    fine = rubric.model_copy(update={"grades": grades}).with_preset("fine")
    r = run(fine, inst, Sheet(indicators=judged(fine)))
    assert (r.total, r.grade, r.next_grade, r.to_next_grade) == (910.0, "A", "AAAAA", 0.0)


# ── one indicator: fractions, scores between 0 and 1, clamps ────────────────────────────────────
def test_fractional_free_deductions_add_up(rubric, inst):
    r = run(rubric, inst, Sheet(indicators=judged(rubric, n1=free(0.5, 0.25, 1.75))))
    one = ind(r, 1)
    assert one.score == 12.5
    assert [(ln.kind, ln.text, ln.points) for ln in one.lines] == [
        ("free", "扣 0.5", -0.5),
        ("free", "扣 0.25", -0.25),
        ("free", "扣 1.75", -1.75),
    ]
    assert r.total == 907.5


def test_a_score_between_zero_and_one_stays_as_it_is(rubric, inst):
    r = run(
        rubric,
        inst,
        Sheet(indicators=judged(rubric, n1=free(14.5), n49=IndicatorJudgment(free=(FreeEntry(0.5, "奖"),)))),
    )
    assert ind(r, 1).score == 0.5 and [ln.kind for ln in ind(r, 1).lines] == ["free"]
    assert ind(r, 49).score == 0.5 and [ln.kind for ln in ind(r, 49).lines] == ["free"]


def test_exactly_zero_and_exactly_full_need_no_clamp(rubric, inst):
    ticks = IndicatorJudgment(ticks={"49a": 2})  # 2 × 5 = 10 = max
    r = run(rubric, inst, Sheet(indicators=judged(rubric, n1=free(15.0), n49=ticks)))
    assert (ind(r, 1).score, [ln.kind for ln in ind(r, 1).lines]) == (0.0, ["free"])
    assert (ind(r, 49).score, [ln.kind for ln in ind(r, 49).lines]) == (10.0, ["item"])


def test_clamps_say_which_way_and_by_how_much(rubric, inst):
    over = IndicatorJudgment(ticks={"49a": 2, "49c": 1})  # 11 on a 10-point award indicator
    r = run(rubric, inst, Sheet(indicators=judged(rubric, n1=free(14.5, 1.0), n49=over)))
    assert ind(r, 1).score == 0.0 and ind(r, 1).lines[-1] == Line("clamp", "扣完为止", 0.5)
    assert ind(r, 49).score == 10.0 and ind(r, 49).lines[-1] == Line("clamp", "加满为止", -1.0)


def test_item_lines_give_text_count_and_signed_points(rubric, inst):
    r = run(rubric, inst, Sheet(indicators=judged(rubric, n1=IndicatorJudgment(ticks={"1a": 2, "1b": 1}))))
    items = {it.id: it for it in rubric.indicators[1].items}
    assert ind(r, 1).lines == (
        Line("item", f"{items['1a'].text}（2岗位）", -6.0, "1a"),
        Line("item", items["1b"].text, -5.0, "1b"),
    )
    award = run(rubric, inst, Sheet(indicators=judged(rubric, n49=IndicatorJudgment(ticks={"49b": 3}))))
    assert ind(award, 49).lines == (Line("item", f"{rubric.indicators[49].items[1].text}（3项）", 9.0, "49b"),)


def test_the_same_tick_scores_the_same_for_a_second_institution(rubric, inst, roster):
    scorer = Scorer(rubric)
    sheet = Sheet(indicators=judged(rubric, n1=IndicatorJudgment(ticks={"1a": 2})))
    first = scorer.score(inst, Evidence(), sheet, AS_OF)
    second = scorer.score(roster[14], Evidence(), sheet, AS_OF)
    assert ind(first, 1) == ind(second, 1) and ind(first, 1).score == 9.0
    assert first.total == second.total == 904.0


def test_adjustment_line_names_the_reviewer_and_the_change(rubric, inst):
    sheet = Sheet(
        indicators=judged(rubric, n1=free(5.0)),
        adjustments={1: Adjustment(12.5, "复核认定部分材料有效", "王五"), 8: Adjustment(4.0, "核减", "赵六")},
    )
    r = run(rubric, inst, sheet)
    assert ind(r, 1).score == 12.5 and ind(r, 1).lines[-1] == Line(
        "adjusted", "复核调整：复核认定部分材料有效", 2.5, "王五"
    )
    assert ind(r, 8).score == 4.0 and ind(r, 8).lines == (Line("adjusted", "复核调整：核减", -6.0, "赵六"),)
    assert (ind(r, 8).judged, ind(r, 8).evidence, ind(r, 42).evidence) == (False, "", "")  # not judged: no evidence
    assert r.total == COMPLETE_TOTAL - 5 + 2.5 - 6


def test_judged_indicator_keeps_its_evidence_note(rubric, inst):
    sheet = Sheet(indicators=judged(rubric, n1=IndicatorJudgment(evidence="档案 13-01")))
    r = run(rubric, inst, sheet)
    assert (ind(r, 1).evidence, ind(r, 1).judged, ind(r, 2).evidence) == ("档案 13-01", True, "")


# ── pending ─────────────────────────────────────────────────────────────────────────────────────
def test_two_pending_deduction_indicators_both_count_in_the_open_range(rubric, inst):
    sheet = judged(rubric, n1=free(0.5))
    del sheet[4], sheet[23]  # 20 and 30 points, deduction-style
    r = run(rubric, inst, Sheet(indicators=sheet))
    assert r.pending == (4, 23)
    assert (r.pending_points, r.pending_upside) == (50.0, 0.0)
    assert (r.status, r.grade, r.next_grade, r.to_next_grade) == ("provisional", None, None, None)
    assert r.total == 909.5


def test_two_pending_award_indicators_both_count_in_the_upside(rubric, inst):
    sheet = judged(rubric)
    del sheet[49], sheet[52], sheet[4]  # 10 and 5 points of awards, 20 of deductions
    r = run(rubric, inst, Sheet(indicators=sheet))
    assert (r.pending, r.pending_points, r.pending_upside) == ((4, 49, 52), 20.0, 15.0)


def test_an_adjusted_pending_indicator_counts_its_adjusted_score(rubric, inst):
    sheet = judged(rubric)
    del sheet[4], sheet[49]
    r = run(
        rubric, inst, Sheet(indicators=sheet, adjustments={4: Adjustment(12.25, "复核"), 49: Adjustment(2.5, "复核")})
    )
    assert (r.pending_points, r.pending_upside) == (14.75, 15.25)


def test_a_confirmed_veto_decides_the_grade_even_when_pending(rubric, inst):
    sheet = judged(rubric)
    del sheet[4]
    r = run(rubric, inst, Sheet(indicators=sheet, veto={"3": VetoDecision("confirmed", "行政处罚属实", "省职鉴中心")}))
    assert (r.status, r.grade, r.next_grade, r.to_next_grade) == ("provisional", "A", None, None)
    assert [(v.clause, v.status, v.reason, v.raised_by) for v in r.veto] == [
        ("3", "confirmed", "行政处罚属实", ("专家",))
    ]


# ── records, bonus and veto lines ───────────────────────────────────────────────────────────────
def test_record_lines_say_what_counted_and_why_not(rubric, inst):
    counted = record(rubric, id_="R-1")
    dismissed = record(rubric, id_="R-2", ref="")
    old = record(rubric, id_="R-3", date=dt.date(2022, 7, 31))  # 365 days before: outside 一般's window
    sheet = Sheet(indicators=judged(rubric), dismissed={"R-2": "已撤销"})
    r = run(rubric, inst, sheet, records=[counted, dismissed, old])
    assert ind(r, 66).lines == (
        Line("record", f"行政处罚（一般，{MARKET}，2023-07-31，测试〔2023〕1号）：测试记录", -10.0, "R-1"),
        Line("dismissed", f"行政处罚（一般，{MARKET}，2023-07-31）：测试记录；已排除：已撤销", 0.0, "R-2"),
        Line(
            "outside",
            f"行政处罚（一般，{MARKET}，2022-07-31，测试〔2023〕1号）：测试记录；不在回溯期内，不计分",
            0.0,
            "R-3",
        ),
    )
    assert ind(r, 58).lines == ()  # an 其他 authority's record does not touch the 人社 indicator
    assert r.total == COMPLETE_TOTAL - 10


def test_a_veto_raised_by_records_lists_them_until_decided(rubric, inst):
    a = record(rubric, id_="R-1", severity="严重")
    b = record(rubric, id_="R-2", severity="严重", date=dt.date(2023, 1, 2))
    r = run(rubric, inst, Sheet(indicators=judged(rubric)), records=[a, b])
    assert [(v.clause, v.status, v.reason, v.raised_by) for v in r.veto] == [
        ("3", "raised", "由信用记录触发，待省职鉴中心核实", ("R-1", "R-2"))
    ]
    assert r.effective_veto == () and r.grade == "AAAA"
    decided = Sheet(indicators=judged(rubric), veto={"3": VetoDecision("confirmed", "属实")})
    r = run(rubric, inst, decided, records=[a])
    assert [(v.status, v.reason, v.raised_by) for v in r.veto] == [("confirmed", "属实", ("R-1",))]
    assert r.grade == "A" and r.as_json()["veto"] == ["3"]


def test_several_veto_clauses_come_in_clause_order(rubric, inst):
    veto = {"8": VetoDecision("rejected", "不属实"), "1(2)": VetoDecision("raised", "待核实")}
    r = run(rubric, inst, Sheet(indicators=judged(rubric), veto=veto))
    assert [(v.clause, v.text) for v in r.veto] == [(c, rubric.veto_clauses[c]) for c in ("1(2)", "8")]
    assert r.grade == "AAAAA"


def test_a_capped_bonus_keeps_every_line_and_states_the_cap(rubric_dict, inst):
    rubric_dict["bonus"]["items"].append(
        {"id": "extra", "urn": "sc-2023:bonus:extra", "text": "测试加分项", "points": 20}
    )
    rubric = parse_rubric(rubric_dict)
    bonus = dict.fromkeys(rubric.bonus_items, "")
    bonus["party"] = "支部记录"
    r = run(rubric, inst, Sheet(indicators=judged(rubric), bonus=bonus))
    items = rubric.bonus_items
    assert r.bonus_lines == (
        *(Line("item", items[b].text + ("（支部记录）" if b == "party" else ""), items[b].points, b) for b in bonus),
        Line("clamp", "加分项以 50 分为限", -20.0),
    )
    assert (r.bonus, r.total) == (50.0, COMPLETE_TOTAL + 50)


def test_a_bonus_under_the_cap_has_no_clamp_line(rubric, inst):
    r = run(rubric, inst, Sheet(indicators=judged(rubric), bonus={"party": "", "qms": "证书"}))
    assert [ln.kind for ln in r.bonus_lines] == ["item", "item"] and r.bonus_lines[1].text.endswith("（证书）")


# ── the score --json schema ─────────────────────────────────────────────────────────────────────
def test_score_json_schema_is_pinned(rubric, inst):
    """docs/evidence-formats.md § ``score --json`` documents exactly these keys, in this order."""
    sheet = judged(rubric, n1=free(0.5))
    del sheet[4], sheet[49]
    r = run(rubric, inst, Sheet(indicators=sheet, bonus={"party": ""}, veto={"3": VetoDecision("raised", "待核实")}))
    payload = r.as_json()
    assert payload == {
        "institution": 13,
        "name": inst.name,
        "class": inst.klass,
        "as_of": "2023-07-31",
        "total": 919.5,
        "grade": None,
        "status": "provisional",
        "bonus": 10.0,
        "veto": [],
        "level1": r.level1,
        "pending": [4, 49],
        "next_grade": None,
        "to_next_grade": None,
        "pending_points": 20.0,
        "pending_upside": 10.0,
        "indicators": {str(n): ind(r, n).score for n in rubric.indicators},
    }
    assert list(payload) == [
        "institution", "name", "class", "as_of", "total", "grade", "status", "bonus", "veto", "level1",
        "pending", "next_grade", "to_next_grade", "pending_points", "pending_upside", "indicators",
    ]  # fmt: skip
    assert list(payload["level1"]) == [lv.name for lv in rubric.levels]
    assert sum(payload["level1"].values()) == 909.5
    assert (payload["indicators"]["1"], payload["indicators"]["4"], payload["indicators"]["49"]) == (14.5, 20.0, 0.0)
    assert inst.klass and inst.name == "四川旅游学院"


def test_score_json_of_a_complete_result_with_a_next_grade(rubric, inst):
    r = run(rubric, inst, Sheet(indicators=judged(rubric, n1=free(15.0))))
    payload = r.as_json()
    assert {k: payload[k] for k in ("total", "grade", "status", "next_grade", "to_next_grade", "pending")} == {
        "total": 895.0,
        "grade": "AAAA",
        "status": "complete",
        "next_grade": "AAAAA",
        "to_next_grade": 5.0,
        "pending": [],
    }


def test_module_score_matches_a_kept_scorer(rubric, inst):
    sheet = Sheet(indicators=judged(rubric, n1=free(2.0)))
    assert score(rubric, inst, Evidence(), sheet, AS_OF) == Scorer(rubric).score(inst, Evidence(), sheet, AS_OF)


def test_every_indicator_result_carries_its_rubric_place(rubric, inst):
    r = run(rubric, inst, Sheet(indicators=judged(rubric, n1=free(1.0))))  # 1 scored anew, the rest untouched
    assert [i.number for i in r.indicators] == list(rubric.indicators)
    for i in r.indicators:
        spec = rubric.indicators[i.number]
        lv, g = rubric.placement[i.number]
        assert (i.name, i.level1, i.level2, i.max_points, i.base, i.needs_judgment) == (
            spec.name,
            lv.name,
            g.name,
            spec.max_points,
            spec.base,
            spec.needs_judgment,
        )
    assert list(r.level2) == list(dict.fromkeys(g.name for lv in rubric.levels for g in lv.groups))


def test_records_of_different_kinds_each_have_their_own_effect(rubric, inst):
    scorer = Scorer(rubric)
    records = [
        record(rubric, "行政处罚", severity="一般", id_="R-1"),
        record(rubric, "行政处罚", severity="较重", id_="R-2"),
        record(rubric, "约谈", severity="一般", id_="R-3"),
        record(rubric, "红名单", id_="R-4"),
    ]
    sheet = Sheet(indicators=judged(rubric))
    r = scorer.score(inst, Evidence(tuple(records)), sheet, AS_OF)
    assert [(ln.ref, ln.points) for ln in ind(r, 66).lines] == [("R-1", -10.0), ("R-2", -20.0)]
    assert [(ln.ref, ln.points) for ln in ind(r, 65).lines] == [("R-3", -2.0)]
    assert [(ln.ref, ln.points) for ln in ind(r, 60).lines] == [("R-4", 10.0)]
    again = scorer.score(inst, Evidence(tuple(reversed(records))), sheet, AS_OF)
    assert again.total == r.total == COMPLETE_TOTAL - 30 - 2 + 10


def test_ticks_free_entries_and_records_on_one_indicator_all_count(rubric, inst):
    sheet = Sheet(indicators=judged(rubric, n13=IndicatorJudgment(ticks={"13b": 1}, free=(FreeEntry(1.5, "台账"),))))
    r = run(rubric, inst, sheet, records=[record(rubric, "有责投诉", id_="R-1")])
    assert [(ln.kind, ln.points) for ln in ind(r, 13).lines] == [("item", -3.0), ("free", -1.5), ("record", -3.0)]
    assert ind(r, 13).score == 7.5


def test_the_pending_range_is_rounded_to_four_places(rubric, inst):
    sheet = judged(rubric)
    del sheet[4], sheet[49]
    adjusted = {4: Adjustment(12.00001, "复核"), 49: Adjustment(2.00001, "复核")}
    r = run(rubric, inst, Sheet(indicators=sheet, adjustments=adjusted))
    assert (r.pending_points, r.pending_upside) == (14.0, 16.0)  # 14.00002 and 15.99998 to four places
