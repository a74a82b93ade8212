"""The workflow's pure stage machine: state derived from events, and the guards on each step.

No store: events are built directly, so these run in milliseconds (and under ``make mutation``).
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from rubric_kernel.store import Event
from rubric_kernel.workflow.state import (
    NEXT,
    STAGES,
    Facts,
    Objection,
    Signature,
    WorkflowState,
    derive,
    edit_problems,
    transition_problems,
)

_ids = itertools.count(1)


def ev(
    kind: str, payload: dict, *, seq: int | None = None, actor: str = "张三", at: str = "2023-08-01T09:30:00"
) -> Event:
    n = next(_ids)
    return Event(n, "demo", 13, n if seq is None else seq, kind, actor, at, payload, "")


def facts(**kw) -> Facts:
    base = {"digest": "d1", "pending": 0, "undecided_veto": (), "today": dt.date(2023, 9, 1)}
    return Facts(**(base | kw))


# ------------------------------------------------------------------------------------------ derive
def test_no_events_is_the_first_stage():
    assert derive([]) == WorkflowState()
    assert WorkflowState().stage == STAGES[0] == "待评估"


def test_every_event_kind_lands_in_its_field():
    group = ev("group", {"experts": ["甲", "乙", "丙"]})
    sig_a = ev("signature", {"expert": "甲", "digest": "d1"}, at="2023-08-02T10:00:00")
    sig_b = ev("signature", {"expert": "乙", "digest": "d0"}, at="2023-08-02T11:00:00")
    to_site = ev("transition", {"from": "待评估", "to": "现场评估"})
    objection = ev(
        "objection", {"applicant": "某机构", "date": "2023-08-20", "grounds": "扣分有误", "evidence": "票据"}
    )
    bare_objection = ev("objection", {"applicant": "另一人", "date": "2023-08-21", "grounds": "漏计加分"})
    events = [
        group,
        sig_a,
        sig_b,
        ev("commitment", {"date": "2023-07-10"}),
        ev("schedule", {"visit": "2023-07-20", "notified": "2023-07-13", "group": "第二组"}),
        to_site,
        ev("publicity", {"start": "2023-08-10", "end": "2023-08-16"}),
        objection,
        bare_objection,
        ev(
            "objection_decision",
            {"objection": objection.id, "decision": "upheld", "change": "指标 5 改为 3 分"},
            actor="省职鉴中心",
        ),
        ev("objection_decision", {"objection": bare_objection.id, "decision": "rejected"}, actor="李四"),
        ev(
            "objection_letter",
            {"objection": bare_objection.id, "date": "2023-08-25", "late": "补录纸质告知书"},
            actor="省职鉴中心",
            at="2023-08-26T08:00:00",
        ),
    ]
    st = derive(events)
    assert st == WorkflowState(
        stage="现场评估",
        history=[to_site],
        group=["甲", "乙", "丙"],
        signatures={
            "甲": Signature("甲", "2023-08-02T10:00:00", "d1"),
            "乙": Signature("乙", "2023-08-02T11:00:00", "d0"),
        },
        commitment=dt.date(2023, 7, 10),
        visit=dt.date(2023, 7, 20),
        visit_group="第二组",
        notified=dt.date(2023, 7, 13),
        publicity=(dt.date(2023, 8, 10), dt.date(2023, 8, 16)),
        objections=[
            Objection(
                objection.id,
                "某机构",
                dt.date(2023, 8, 20),
                "扣分有误",
                "票据",
                "upheld",
                "省职鉴中心",
                "指标 5 改为 3 分",
                decided_at="2023-08-01T09:30:00",
            ),
            Objection(
                bare_objection.id,
                "另一人",
                dt.date(2023, 8, 21),
                "漏计加分",
                "",
                "rejected",
                "李四",
                "",
                decided_at="2023-08-01T09:30:00",
                letter=dt.date(2023, 8, 25),
                letter_late="补录纸质告知书",
                letter_by="省职鉴中心",
            ),
        ],
        last_seq=events[-1].seq,
    )
    assert st.valid_signatures("d1") == ["甲"]
    assert st.void_signatures("d1") == ["乙"]
    assert st.open_objections == []


def test_a_schedule_without_a_group_name_leaves_it_blank():
    st = derive([ev("schedule", {"visit": "2023-07-20", "notified": "2023-07-13"})])
    assert (st.visit, st.notified, st.visit_group) == (dt.date(2023, 7, 20), dt.date(2023, 7, 13), "")


def test_an_undecided_objection_stays_open():
    a = ev("objection", {"applicant": "甲", "date": "2023-08-20", "grounds": "g"})
    b = ev("objection", {"applicant": "乙", "date": "2023-08-21", "grounds": "h"})
    st = derive([a, b, ev("objection_decision", {"objection": b.id, "decision": "rejected"})])
    assert [o.id for o in st.open_objections] == [a.id]
    assert [o.open for o in st.objections] == [True, False]


def test_a_new_group_drops_the_signatures_of_those_no_longer_in_it():
    st = derive(
        [
            ev("group", {"experts": ["甲", "乙"]}),
            ev("signature", {"expert": "甲", "digest": "d1"}),
            ev("signature", {"expert": "乙", "digest": "d1"}),
            ev("group", {"experts": ["乙", "丙"]}),
        ]
    )
    assert st.group == ["乙", "丙"]
    assert list(st.signatures) == ["乙"]


def test_last_seq_is_the_newest_event_whatever_the_order():
    st = derive([ev("commitment", {"date": "2023-07-10"}, seq=7), ev("commitment", {"date": "2023-07-11"}, seq=3)])
    assert st.last_seq == 7
    assert st.commitment == dt.date(2023, 7, 11)  # the later event wins


def test_announcement_records_its_date_and_validity_and_a_reopening_clears_the_date():
    announce = ev(
        "transition", {"from": "公示", "to": "公告", "date": "2023-09-05", "valid_years": "3"}, at="2023-09-06T08:00:00"
    )
    st = derive([announce])
    assert (st.stage, st.announced, st.valid_years) == ("公告", dt.date(2023, 9, 5), 3)
    reopen = ev("transition", {"from": "公告", "to": "复核"})
    st = derive([announce, reopen])
    assert (st.stage, st.announced, st.valid_years) == ("复核", None, 3)
    assert st.history == [announce, reopen]
    # announced again without a recorded validity: the one recorded before still holds
    again = ev("transition", {"from": "公示", "to": "公告"}, at="2023-10-01T16:00:00")
    st = derive([announce, reopen, again])
    assert (st.announced, st.valid_years) == (dt.date(2023, 10, 1), 3)


def test_an_announcement_without_date_uses_the_event_time_and_default_validity():
    st = derive([ev("transition", {"from": "公示", "to": "公告"}, at="2023-09-07T23:59:00")])
    assert (st.announced, st.valid_years) == (dt.date(2023, 9, 7), 2)


def test_only_a_review_coming_from_the_announcement_clears_it():
    announce = ev("transition", {"from": "公示", "to": "公告", "date": "2023-09-05"})
    for other in (
        ev("transition", {"from": "初评", "to": "复核"}),
        ev("transition", {"from": "公告", "to": "异议处理"}),
    ):
        assert derive([announce, other]).announced == dt.date(2023, 9, 5)
    assert derive([announce, ev("transition", {"to": "复核"})]).announced == dt.date(2023, 9, 5)


# ------------------------------------------------------------------------------ transition guards
def test_unknown_stage():
    assert transition_problems(WorkflowState(), "终审", facts()) == ["未知阶段“终审”"]


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_not_next_names_the_ones_that_are(stage):
    wrong = next(s for s in STAGES if s not in NEXT[stage])
    assert transition_problems(WorkflowState(stage=stage), wrong, facts()) == [
        f"当前阶段“{stage}”不能直接进入“{wrong}”（可进入：{'、'.join(NEXT[stage])}）"
    ]


def test_the_first_step_has_no_guard():
    assert transition_problems(WorkflowState(), "现场评估", facts(pending=5)) == []


def _on_site(**kw) -> WorkflowState:
    return WorkflowState(stage="现场评估", **kw)


def test_initial_result_lists_every_missing_condition():
    assert transition_problems(_on_site(), "初评", facts(pending=2)) == [
        "尚未登记评估小组成员",
        "尚有 2 项指标待评",
        "尚未收到机构签署的《信用承诺书》",
    ]


def test_initial_result_names_members_without_a_valid_signature():
    st = _on_site(
        group=["甲", "乙", "丙"],
        signatures={"甲": Signature("甲", "t", "d1"), "乙": Signature("乙", "t", "old")},
        commitment=dt.date(2023, 7, 1),
    )
    assert transition_problems(st, "初评", facts(digest="d1")) == ["评估小组成员尚未在当前评分表上签字：乙、丙"]


def test_initial_result_allowed_when_all_is_in_place():
    st = _on_site(group=["甲"], signatures={"甲": Signature("甲", "t", "d1")}, commitment=dt.date(2023, 7, 1))
    assert transition_problems(st, "初评", facts(digest="d1")) == []


def test_review_waits_for_every_raised_veto_only_after_the_initial_result():
    undecided = facts(undecided_veto=("2", "5.1"))
    assert transition_problems(WorkflowState(stage="初评"), "复核", undecided) == [
        "否定项第 2、5.1 条尚未核实（确认或驳回）"
    ]
    assert transition_problems(WorkflowState(stage="初评"), "复核", facts()) == []
    assert transition_problems(WorkflowState(stage="公告"), "复核", undecided) == []


def test_publicity_needs_its_period():
    assert transition_problems(WorkflowState(stage="复核"), "公示", facts()) == ["尚未设定公示期"]
    period = (dt.date(2023, 8, 10), dt.date(2023, 8, 16))
    assert transition_problems(WorkflowState(stage="复核", publicity=period), "公示", facts()) == []


def test_announcement_waits_for_objections_and_the_end_of_publicity():
    period = (dt.date(2023, 8, 10), dt.date(2023, 8, 16))
    objections = [
        Objection(1, "甲", dt.date(2023, 8, 11), "g", ""),
        Objection(2, "乙", dt.date(2023, 8, 12), "g", ""),
        Objection(3, "丙", dt.date(2023, 8, 12), "g", "", decision="rejected"),
    ]
    st = WorkflowState(stage="公示", publicity=period, objections=objections)
    on_last_day = facts(today=dt.date(2023, 8, 16))
    assert transition_problems(st, "公告", on_last_day) == ["尚有 2 件异议未处理", "公示期至 2023-08-16 止，尚未结束"]
    assert (
        transition_problems(WorkflowState(stage="公示", publicity=period), "公告", facts(today=dt.date(2023, 8, 17)))
        == []
    )
    assert transition_problems(WorkflowState(stage="异议处理"), "公告", on_last_day) == []


# ----------------------------------------------------------------------------------- edit guards
@pytest.mark.parametrize("stage", ["待评估", "现场评估"])
def test_unsigned_sheets_may_change_freely(stage):
    assert edit_problems(WorkflowState(stage=stage), "待评估", "") == []


def test_an_announced_result_changes_only_after_a_review_decision():
    assert edit_problems(WorkflowState(stage="公告"), "复核", "有理由") == [
        "结果已公告：须先由省职鉴中心作出复核决定（rubric-kernel review --reopen）才能修改"
    ]


@pytest.mark.parametrize(
    ("stage", "allowed"), [("初评", "复核"), ("复核", "复核"), ("公示", "异议处理"), ("异议处理", "异议处理")]
)
def test_signed_sheets_change_only_in_their_stage_and_with_a_reason(stage, allowed):
    st = WorkflowState(stage=stage)
    assert edit_problems(st, allowed, "核实后更正") == []
    wrong = "初评" if allowed != "初评" else "公示"
    assert edit_problems(st, wrong, "  ") == [
        f"评分表已签字（当前阶段“{stage}”），只能在“{allowed}”阶段修改",
        "修改已签字的评分必须填写理由",
    ]
