"""The rule for indicators scored from 人社部门's own data (rubric ``finding``: 16 题库建设), pure and fast.

Without the centre's finding the indicator is pending (待评), never full marks and never 0; a
finding's ticks score it. No store, no files: these run against every mutant (docs/mutation.md).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rubric_kernel.errors import InputError
from rubric_kernel.evidence import Evidence
from rubric_kernel.labels import FINDING_PENDING, describe_version, unchanged_text
from rubric_kernel.roster import load_roster
from rubric_kernel.rubric import load_rubric, parse_rubric
from rubric_kernel.scoring import IndicatorResult, score
from rubric_kernel.sheet import Finding, IndicatorJudgment, Sheet, check_sheet, tick_limit
from rubric_kernel.sheet_codec import entries_to_sheet, finding_key, orphans, parse_key, sheet_to_entries
from rubric_kernel.workspace import ROSTER_PATH, RUBRIC_PATH

RUBRIC = load_rubric(RUBRIC_PATH)
INST = load_roster(ROSTER_PATH)[13]
AS_OF = dt.date(2023, 7, 31)
SOURCE = "人力资源和社会保障部门 技能人才评价管理信息系统"
DAY = dt.date(2023, 6, 30)


def judged_all() -> dict[int, IndicatorJudgment]:
    return {n: IndicatorJudgment() for n, i in RUBRIC.indicators.items() if i.needs_judgment}


def run(sheet: Sheet):
    assert check_sheet(sheet, RUBRIC, Evidence(), "test") == []
    return score(RUBRIC, INST, Evidence(), sheet, AS_OF)


def ind(result, number: int) -> IndicatorResult:
    return next(i for i in result.indicators if i.number == number)


# ── the rubric says which indicators take a finding ────────────────────────────────────────────


def test_only_indicator_16_takes_a_finding_and_its_one_source_is_the_hrss():
    takes = [i for i in RUBRIC.indicators.values() if i.finding is not None]
    assert [i.number for i in takes] == [16]
    assert takes[0].sources == ["人力资源和社会保障部门"]
    assert takes[0].finding.source == SOURCE


def _ind16(data: dict) -> dict:
    return next(i for lv in data["levels"] for g in lv["groups"] for i in g["indicators"] if i["number"] == 16)


def _faults(data: dict) -> list[str]:
    with pytest.raises(InputError) as exc:
        parse_rubric(data, "rubric.yaml")
    return [str(f) for f in exc.value.faults]


def test_an_hrss_only_indicator_without_a_finding_is_refused(rubric_dict):
    del _ind16(rubric_dict)["finding"]
    assert _faults(rubric_dict) == [
        "rubric.yaml 指标16: 信息来源仅为人力资源和社会保障部门，须设 finding（由省职鉴中心录入人社部门数据）"
    ]


def test_a_finding_on_an_expert_judged_indicator_is_refused(rubric_dict):
    _ind16(rubric_dict)["needs_judgment"] = True
    assert any(
        "finding）不由专家评分，needs_judgment 必须为 false" in f and "指标16" in f for f in _faults(rubric_dict)
    )


def test_a_finding_needs_the_hrss_among_the_sources(rubric_dict):
    _ind16(rubric_dict)["sources"] = ["大数据采集"]
    assert _faults(rubric_dict) == ["rubric.yaml 指标16: finding 只用于信息来源含人力资源和社会保障部门的指标"]


def test_a_finding_rule_must_name_its_data_and_source(rubric_dict):
    _ind16(rubric_dict)["finding"] = {"data": "题库建设技术评估结果", "source": ""}
    faults = _faults(rubric_dict)
    assert len(faults) == 1 and "finding.source" in faults[0] and "指标16" in faults[0]


# ── scoring: pending until recorded, then scored by the finding ─────────────────────────────────


def test_without_a_finding_16_is_pending_holding_its_start_and_the_result_is_provisional():
    r = run(Sheet(judged_all()))
    i16 = ind(r, 16)
    assert i16.pending and i16.needs_finding and not i16.judged
    assert r.pending == (16,)
    assert r.status == "provisional" and r.grade is None and r.next_grade is None
    assert i16.score == 20.0 and r.pending_points == 20.0 and r.pending_upside == 0.0


def test_a_no_problem_finding_completes_the_result_and_cites_source_and_date():
    finding = Finding(SOURCE, DAY, note="技术评估通过", by="中心复核员")
    r = run(Sheet(judged_all(), findings={16: finding}))
    i16 = ind(r, 16)
    assert not i16.pending and i16.judged and i16.score == 20.0 and i16.lines == ()
    assert r.status == "complete" and r.pending == () and r.grade is not None
    assert i16.evidence == f"人社部门数据：{SOURCE}（2023-06-30，中心复核员录入）；技术评估通过"


@pytest.mark.parametrize(("ticks", "expected"), [({"16a": 1}, 10.0), ({"16b": 2}, 10.0), ({"16a": 1, "16b": 2}, 0.0)])
def test_a_finding_deducts_by_its_rule_items(ticks, expected):
    r = run(Sheet(judged_all(), findings={16: Finding(SOURCE, DAY, ticks)}))
    assert ind(r, 16).score == expected
    assert [ln.ref for ln in ind(r, 16).lines if ln.kind == "item"] == list(ticks)
    assert r.total == run(Sheet(judged_all(), findings={16: Finding(SOURCE, DAY)})).total - (20.0 - expected)


def test_an_experts_judgment_never_stands_in_for_the_finding():
    sheet = Sheet({**judged_all(), 16: IndicatorJudgment({"16a": 1})})
    assert [f.message for f in check_sheet(sheet, RUBRIC, Evidence(), "t")] == [
        "该指标由省职鉴中心录入人社部门数据，不由专家评分"
    ]
    r = score(RUBRIC, INST, Evidence(), sheet, AS_OF)
    assert ind(r, 16).pending and ind(r, 16).score == 20.0 and 16 in r.pending


def test_a_finding_leaves_other_indicators_to_the_experts():
    r = run(Sheet(findings={16: Finding(SOURCE, DAY)}))
    expected = sorted(n for n, i in RUBRIC.indicators.items() if i.needs_judgment)
    assert list(r.pending) == expected and 16 not in r.pending


def test_pending_property_covers_judgment_and_finding_indicators():
    base = dict(number=1, name="x", level1="a", level2="b", max_points=5.0, base="full", score=5.0, lines=())
    assert IndicatorResult(**base, judged=False, needs_judgment=False, needs_finding=True).pending
    assert IndicatorResult(**base, judged=False, needs_judgment=True).pending
    assert not IndicatorResult(**base, judged=True, needs_judgment=False, needs_finding=True).pending
    assert not IndicatorResult(**base, judged=False, needs_judgment=False).pending


@settings(deadline=None, derandomize=True, database=None)
@given(
    present=st.booleans(),
    a=st.integers(0, 1),
    b=st.integers(0, tick_limit(20, 5)),
)
def test_a_missing_finding_is_never_counted_as_zero_or_as_judged(present, a, b):
    """Property: 16 is pending exactly when no finding is recorded; a pending 16 holds its full start in
    the provisional total and the whole of it in ``pending_points`` (what the total may still lose)."""
    ticks = {k: v for k, v in (("16a", a), ("16b", b)) if v}
    sheet = Sheet(judged_all(), findings={16: Finding(SOURCE, DAY, ticks)} if present else {})
    r = run(sheet)
    i16 = ind(r, 16)
    assert i16.pending is (not present) and (16 in r.pending) is (not present)
    if present:
        assert i16.score == max(0.0, 20.0 - 10 * a - 5 * b) and r.status == "complete"
    else:
        assert i16.score == 20.0 and r.pending_points == 20.0 and r.grade is None and r.status == "provisional"


# ── the sheet's checks and the store's entries ─────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("finding", "number", "message"),
    [
        (Finding(SOURCE, DAY), 15, "指标 15 不由省职鉴中心录入人社部门数据"),
        (Finding(" ", DAY), 16, "人社部门数据必须写明来源"),
        (Finding(SOURCE, DAY, {"15a": 1}), 16, "细则 15a 不属于该指标"),
        (Finding(SOURCE, DAY, {"16a": 2}), 16, "细则 16a 不按次数计分，只能勾选一次"),
        (Finding(SOURCE, DAY, {"16b": 5}), 16, "细则 16b 的次数最多为 4（每次 5 分，满分 20 分，更多次数不再计分）"),
    ],
)
def test_a_bad_finding_is_refused_naming_the_indicator(finding, number, message):
    faults = check_sheet(Sheet(findings={number: finding}), RUBRIC, Evidence(), "评分库")
    assert [(f.message, f.indicator) for f in faults] == [(message, number)]


def test_findings_round_trip_through_the_stores_entries():
    f = Finding(SOURCE, DAY, {"16b": 2}, "备注", "中心复核员", "迟报")
    entries = sheet_to_entries(Sheet(findings={16: f}), RUBRIC)
    key = finding_key(RUBRIC, 16)
    assert key == "finding:sc-2023:ind:16" and parse_key(RUBRIC, key) == ("finding", 16)
    assert entries[key]["ticks"] == {"sc-2023:item:16b": 2} and entries[key]["date"] == "2023-06-30"
    assert entries_to_sheet(entries, RUBRIC).findings == {16: f}
    assert orphans(RUBRIC, {key: {"ticks": {"sc-2023:item:99z": 1}}}) == ["sc-2023:item:99z"]
    assert orphans(RUBRIC, {"finding:sc-2023:ind:999": {}}) == ["sc-2023:ind:999"]
    assert (
        describe_version(RUBRIC, key, entries[key]) == f"指标 16 人社部门数据：扣分 16b×2；备注（{SOURCE}，2023-06-30）"
    )


def test_pending_rows_say_what_they_wait_for():
    assert unchanged_text(True, "full", True) == FINDING_PENDING == "待评：待省职鉴中心录入人社部门数据"
    assert unchanged_text(True, "full") == "待评"
    assert unchanged_text(False, "full", True) == "无扣分"


def test_a_late_finding_says_so_where_it_is_cited():
    late = Finding(SOURCE, DAY, note="补报", by="甲", late="系统延迟")
    assert late.shown == f"人社部门数据：{SOURCE}（2023-06-30，补录：系统延迟，甲录入）；补报"
    assert Finding(SOURCE, DAY).shown == f"人社部门数据：{SOURCE}（2023-06-30）"
    assert late.as_judgment().evidence == late.shown and dict(late.as_judgment().ticks) == {}
