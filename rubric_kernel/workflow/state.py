"""Where an institution stands in the workflow, derived from its events; and the guards on each step.

Pure: the event log is the only input. Stages follow the seed's 工作流程:
待评估 → 现场评估 → 初评 → 复核 → 公示 → (异议处理) → 公告.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ..records import Event

STAGES = ("待评估", "现场评估", "初评", "复核", "公示", "异议处理", "公告")
NEXT = {
    "待评估": ("现场评估",),
    "现场评估": ("初评",),
    "初评": ("复核",),
    "复核": ("公示",),
    "公示": ("异议处理", "公告"),
    "异议处理": ("公告",),
    "公告": ("复核",),  # reopened only by a new recorded review decision
}
SIGNED = ("初评", "复核", "公示", "异议处理", "公告")


@dataclass(frozen=True)
class Signature:
    expert: str
    at: str
    digest: str
    event: Event | None = field(default=None, compare=False)  # the stored event, to check its key signature


@dataclass(frozen=True)
class Acknowledgement:
    """The institution's confirmation of the on-site result (评价机构签字盖章), or its refusal."""

    person: str
    date: dt.date
    accepted: bool
    reason: str
    recorded_by: str
    at: str


@dataclass
class Objection:
    id: int
    applicant: str
    date: dt.date
    grounds: str
    evidence: str
    decision: str = ""  # "" open, "upheld", "rejected"
    decided_by: str = ""
    change: str = ""
    finding: str = ""  # the centre's 核实情况 recorded with the decision
    decided_at: str = ""  # when the decision was recorded (UTC ISO time)
    letter: dt.date | None = None  # when the decision letter was sent to the applicant (告知申请人)
    letter_late: str = ""
    letter_by: str = ""

    @property
    def open(self) -> bool:
        return not self.decision


@dataclass
class WorkflowState:
    stage: str = "待评估"
    history: list[Event] = field(default_factory=list)
    group: list[str] = field(default_factory=list)
    signatures: dict[str, Signature] = field(default_factory=dict)
    commitment: dt.date | None = None
    acknowledgement: Acknowledgement | None = None
    visit: dt.date | None = None
    visit_group: str = ""
    notified: dt.date | None = None
    publicity: tuple[dt.date, dt.date] | None = None
    objections: list[Objection] = field(default_factory=list)
    announced: dt.date | None = None
    valid_years: int = 2  # validity of the announced result, as recorded when it was announced
    review: Signature | None = None  # the centre's approving review awaiting 领导审签 (signer, time, sheet digest)
    last_seq: int = 0  # the newest event this state was derived from; steps based on it pass it as ``after``

    def valid_signatures(self, digest: str) -> list[str]:
        return [e for e, s in self.signatures.items() if s.digest == digest]

    def void_signatures(self, digest: str) -> list[str]:
        return [e for e, s in self.signatures.items() if s.digest != digest]

    @property
    def open_objections(self) -> list[Objection]:
        return [o for o in self.objections if o.open]


def derive(events: Sequence[Event]) -> WorkflowState:
    st = WorkflowState()
    for e in events:
        st.last_seq = max(st.last_seq, e.seq)
        p = e.payload
        if e.kind == "transition":
            st.stage = p["to"]
            st.history.append(e)
            if p["to"] == "公告":
                st.announced = dt.date.fromisoformat(p.get("date", e.created_at[:10]))
                st.valid_years = int(p.get("valid_years", st.valid_years))
            if p["to"] == "复核" and p.get("from") == "公告":
                st.announced = None
        elif e.kind == "group":
            st.group = list(p["experts"])
            st.signatures = {k: v for k, v in st.signatures.items() if k in st.group}
        elif e.kind == "signature":
            st.signatures[p["expert"]] = Signature(p["expert"], e.created_at, p["digest"], e)
        elif e.kind == "remap":  # the same judgments under new ids (remap-ids): signatures follow them
            st.signatures = {
                k: replace(v, digest=p["after"]) if v.digest == p["before"] else v for k, v in st.signatures.items()
            }
        elif e.kind == "acknowledgement":
            st.acknowledgement = Acknowledgement(
                p["person"],
                dt.date.fromisoformat(p["date"]),
                bool(p["accepted"]),
                p.get("reason", ""),
                e.actor,
                e.created_at,
            )
        elif e.kind == "commitment":
            st.commitment = dt.date.fromisoformat(p["date"])
        elif e.kind == "schedule":
            st.visit = dt.date.fromisoformat(p["visit"])
            st.notified = dt.date.fromisoformat(p["notified"])
            st.visit_group = p.get("group", "")
        elif e.kind == "review":
            st.review = Signature(e.actor, e.created_at, p["digest"])
        elif e.kind == "publicity":
            st.publicity = (dt.date.fromisoformat(p["start"]), dt.date.fromisoformat(p["end"]))
        elif e.kind == "objection":
            st.objections.append(
                Objection(e.id, p["applicant"], dt.date.fromisoformat(p["date"]), p["grounds"], p.get("evidence", ""))
            )
        elif e.kind == "objection_decision":
            for o in st.objections:
                if o.id == p["objection"]:
                    o.decision, o.decided_by, o.change = p["decision"], e.actor, p.get("change", "")
                    o.finding, o.decided_at = e.note, e.created_at
        elif e.kind == "objection_letter":
            for o in st.objections:
                if o.id == p["objection"]:
                    o.letter, o.letter_late, o.letter_by = dt.date.fromisoformat(p["date"]), p.get("late", ""), e.actor
    return st


@dataclass(frozen=True)
class Facts:
    """What the guards need to know beyond the events: the sheet and its result right now."""

    digest: str
    pending: int
    undecided_veto: tuple[str, ...]
    today: dt.date


def transition_problems(st: WorkflowState, to: str, facts: Facts) -> list[str]:
    """Every reason the move is not allowed now (empty: allowed); messages are for the user."""
    if to not in STAGES:
        return [f"未知阶段“{to}”"]
    if to not in NEXT[st.stage]:
        return [f"当前阶段“{st.stage}”不能直接进入“{to}”（可进入：{'、'.join(NEXT[st.stage])}）"]
    problems: list[str] = []
    if to == "初评":
        if not st.group:
            problems.append("尚未登记评估小组成员")
        missing = [e for e in st.group if e not in st.valid_signatures(facts.digest)]
        if missing:
            problems.append(f"评估小组成员尚未在当前评分表上签字：{'、'.join(missing)}")
        if facts.pending:
            problems.append(f"尚有 {facts.pending} 项指标待评")
        if st.commitment is None:
            problems.append("尚未收到机构签署的《信用承诺书》")
    if to == "复核" and st.stage == "初评" and facts.undecided_veto:
        problems.append(f"否定项第 {'、'.join(facts.undecided_veto)} 条尚未核实（确认或驳回）")
    if to == "公示" and st.publicity is None:
        problems.append("尚未设定公示期")
    if to == "公告":
        if st.open_objections:
            problems.append(f"尚有 {len(st.open_objections)} 件异议未处理")
        if st.publicity and facts.today <= st.publicity[1]:
            problems.append(f"公示期至 {st.publicity[1].isoformat()} 止，尚未结束")
    return problems


def edit_problems(st: WorkflowState, stage: str, reason: str) -> list[str]:
    """Whether the judgments may change now: signed and later sheets change only by a recorded decision."""
    if st.stage not in SIGNED:
        return []
    if st.stage == "公告":
        return ["结果已公告：须先由省职鉴中心作出复核决定（rubric-kernel review --reopen）才能修改"]
    allowed = "复核" if st.stage in ("初评", "复核") else "异议处理"
    problems = []
    if stage != allowed:
        problems.append(f"评分表已签字（当前阶段“{st.stage}”），只能在“{allowed}”阶段修改")
    if not reason.strip():
        problems.append("修改已签字的评分必须填写理由")
    return problems
