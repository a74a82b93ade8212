"""Every branch of ``sheet.check_sheet``, the one check every sheet passes before it is scored.

Sheets reach the core from a judgments file, the store's current versions, the form and the
review decisions; only ``check_sheet`` sees all of them (the judgments-file model checks types,
not blank reasons or rubric membership), so each rule is tested here, on the sheet itself.
"""

from __future__ import annotations

import datetime as dt

import pytest

from rubric_kernel.errors import Fault
from rubric_kernel.evidence import CreditRecord, Evidence
from rubric_kernel.sheet import Adjustment, FreeEntry, IndicatorJudgment, Sheet, VetoDecision, check_sheet

FILE = "judgments/13.yaml"
RECORD = CreditRecord(
    "R-1", 13, "行政处罚", "成都市市场监督管理局", "其他", dt.date(2023, 5, 1), "一般", "", "测试记录", "测试"
)
EVIDENCE = Evidence((RECORD,))


def check(rubric, **parts) -> list[Fault]:
    return check_sheet(Sheet(**parts), rubric, EVIDENCE, FILE)


def ticks(rubric, number: int, **counts) -> list[Fault]:
    return check(rubric, indicators={number: IndicatorJudgment(ticks=counts)})


def test_an_empty_sheet_passes(rubric):
    assert check(rubric) == []


def test_a_sheet_using_every_part_correctly_passes(rubric):
    sheet = {
        "indicators": {
            1: IndicatorJudgment(ticks={"1a": 2, "1b": 1}, free=(FreeEntry(15.0, "全部缺失"),)),
            49: IndicatorJudgment(ticks={"49c": 1}, free=(FreeEntry(0.5, "另有一项"),)),
        },
        "dismissed": {"R-1": "已撤销"},
        "bonus": {"party": "支部记录"},
        "veto": {"1(1)": VetoDecision("rejected", "经核实不属实")},
        "adjustments": {1: Adjustment(0.0, "复核认定"), 2: Adjustment(15.0, "复核认定")},
    }
    assert check(rubric, **sheet) == []


def test_an_unknown_indicator_does_not_stop_the_rest_being_checked(rubric):
    faults = check(rubric, indicators={999: IndicatorJudgment(), 1: IndicatorJudgment(ticks={"2a": 1})})
    assert faults == [
        Fault(FILE, "指标 999 不存在", indicator=999),
        Fault(FILE, "细则 2a 不属于该指标", indicator=1),
    ]


@pytest.mark.parametrize("count", [0, -1, 1.5, True, "2", None])
def test_a_count_must_be_a_positive_whole_number(rubric, count):
    assert ticks(rubric, 1, **{"1a": count}) == [
        Fault(FILE, f"细则 1a 的次数必须是正整数，而不是 {count!r}", indicator=1)
    ]


def test_counts_only_on_items_counted_by_occurrence(rubric):
    assert ticks(rubric, 1, **{"1a": 3}) == []  # 1a counts per 岗位
    assert ticks(rubric, 1, **{"1b": 1}) == []
    assert ticks(rubric, 1, **{"1b": 2}) == [Fault(FILE, "细则 1b 不按次数计分，只能勾选一次", indicator=1)]


def test_every_bad_tick_of_an_indicator_is_reported(rubric):
    assert ticks(rubric, 1, **{"9a": 1, "1a": 0, "1c": 2}) == [
        Fault(FILE, "细则 9a 不属于该指标", indicator=1),
        Fault(FILE, "细则 1a 的次数必须是正整数，而不是 0", indicator=1),
        Fault(FILE, "细则 1c 不按次数计分，只能勾选一次", indicator=1),
    ]


@pytest.mark.parametrize("points", [0.5, 1.0, 14.5, 15.0])
def test_a_free_deduction_may_be_fractional_up_to_the_maximum(rubric, points):
    assert check(rubric, indicators={1: IndicatorJudgment(free=(FreeEntry(points, "理由"),))}) == []


@pytest.mark.parametrize("points", [0.0, -1.0, 15.5])
def test_a_free_deduction_outside_its_range_is_refused(rubric, points):
    assert check(rubric, indicators={1: IndicatorJudgment(free=(FreeEntry(points, "理由"),))}) == [
        Fault(FILE, f"自由扣分 {points:g} 必须大于 0 且不超过满分 15", indicator=1)
    ]


def test_a_free_deduction_needs_a_reason_and_each_entry_is_checked(rubric):
    free = (FreeEntry(1.0, "  "), FreeEntry(0.0, ""))
    assert check(rubric, indicators={2: IndicatorJudgment(free=free)}) == [
        Fault(FILE, "自由扣分必须填写理由", indicator=2),
        Fault(FILE, "自由扣分必须填写理由", indicator=2),
        Fault(FILE, "自由扣分 0 必须大于 0 且不超过满分 15", indicator=2),
    ]


def test_dismissals_name_a_record_of_the_institution_and_a_reason(rubric):
    assert check(rubric, dismissed={"R-1": " ", "R-9": "不属实"}) == [
        Fault(FILE, "排除信用记录 R-1 必须填写理由"),
        Fault(FILE, "排除的信用记录 R-9 不属于该机构"),
    ]
    assert check(rubric, dismissed={"R-9": ""}) == [
        Fault(FILE, "排除的信用记录 R-9 不属于该机构"),
        Fault(FILE, "排除信用记录 R-9 必须填写理由"),
    ]


def test_bonus_items_must_exist(rubric):
    assert check(rubric, bonus={"nobel": "", "party": ""}) == [Fault(FILE, "加分项 nobel 不存在")]


def test_veto_decisions_name_a_clause_and_give_facts(rubric):
    assert check(rubric, veto={"1(1)": VetoDecision("confirmed", "\t")}) == [
        Fault(FILE, "否定项条款 1(1) 必须填写事实与理由")
    ]
    assert check(rubric, veto={"99": VetoDecision("raised", "")}) == [
        Fault(FILE, "否定项条款 99 不存在"),
        Fault(FILE, "否定项条款 99 必须填写事实与理由"),
    ]


@pytest.mark.parametrize("value", [-0.5, 15.5])
def test_an_adjusted_score_stays_within_the_indicator(rubric, value):
    assert check(rubric, adjustments={1: Adjustment(value, "复核")}) == [
        Fault(FILE, f"调整后得分 {value:g} 超出 [0, 15]", indicator=1)
    ]


def test_an_adjustment_names_an_indicator_and_gives_a_reason(rubric):
    assert check(rubric, adjustments={999: Adjustment(1.0, ""), 1: Adjustment(1.0, " ")}) == [
        Fault(FILE, "调整的指标 999 不存在", indicator=999),
        Fault(FILE, "复核调整必须填写理由", indicator=999),
        Fault(FILE, "复核调整必须填写理由", indicator=1),
    ]


def test_faults_of_every_part_are_reported_together(rubric):
    faults = check(
        rubric,
        indicators={1: IndicatorJudgment(ticks={"1b": 2})},
        dismissed={"R-9": "x"},
        bonus={"nobel": ""},
        veto={"99": VetoDecision("raised", "x")},
        adjustments={1: Adjustment(99.0, "x")},
    )
    assert [f.message for f in faults] == [
        "细则 1b 不按次数计分，只能勾选一次",
        "排除的信用记录 R-9 不属于该机构",
        "加分项 nobel 不存在",
        "否定项条款 99 不存在",
        "调整后得分 99 超出 [0, 15]",
    ]


@pytest.mark.parametrize(
    ("max_points", "item_points", "most"),
    [(15, 3, 5), (10, 3, 4), (0.9, 0.3, 3), (1, 0.3, 4), (2, 2, 1)],
)
def test_tick_limit_is_the_count_that_can_still_move_the_score(max_points, item_points, most):
    from rubric_kernel.sheet import tick_limit

    assert tick_limit(max_points, item_points) == most


def test_a_count_at_the_limit_passes_and_one_more_is_refused(rubric):
    from rubric_kernel.sheet import tick_limit

    ind = next(i for i in rubric.indicators.values() if any(it.unit for it in i.items))
    it = next(it for it in ind.items if it.unit)
    most = tick_limit(ind.max_points, it.points)
    assert ticks(rubric, ind.number, **{it.id: most}) == []
    (fault,) = ticks(rubric, ind.number, **{it.id: most + 1})
    assert f"最多为 {most}" in fault.message and fault.indicator == ind.number
