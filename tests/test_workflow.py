"""The workflow from scheduling to announcement (DESIGN §4; the seed's 工作流程): guards, transitions,
signatures voided by later changes, signed sheets edited only by a recorded decision, a full walk via
the command line, traceability, public lists without personal names, and the experts' consolidation.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import re
import shutil
from html import escape
from pathlib import Path
from types import SimpleNamespace

import chinese_calendar
import pytest
from openpyxl import load_workbook

from rubric_kernel import people
from rubric_kernel.assessment import Assessment, open_assessment
from rubric_kernel.cli import main
from rubric_kernel.errors import InputError
from rubric_kernel.identity import ACTOR_ENV
from rubric_kernel.judgments import bootstrap, current_sheet
from rubric_kernel.programme import load_materials
from rubric_kernel.report.loader import load_context
from rubric_kernel.report.render import report_body
from rubric_kernel.sheet_codec import sheet_to_entries
from rubric_kernel.store import Store, StoreError
from rubric_kernel.workflow.consolidate import consolidate, expert_sheet
from rubric_kernel.workflow.documents import SHARING_FIELDS, sharing_records
from rubric_kernel.workflow.service import Workflow, WorkflowError
from rubric_kernel.workflow.state import NEXT, STAGES, Facts, WorkflowState, transition_problems
from rubric_kernel.workspace import DEMO_DATA, load_workspace

D = dt.date
EXPERTS = ("林晓峰", "陈静怡")  # registered below as experts of every institution
AGENT, CENTRE, LEADER = "demo_organiser", "demo_centre", "demo_leader"  # logins of the demo registry
CENTRE_NAME = "省职鉴中心复核员（演示）"
PUBLICITY = (D(2023, 9, 1), D(2023, 9, 7))
LATE = ("--late", "演示：补录 2023 年的评估过程")


def act(who: str) -> None:
    """The person acting from now on (RUBRIC_KERNEL_ACTOR: a login or a name), as a script would set it."""
    os.environ[ACTOR_ENV] = who


@pytest.fixture(autouse=True)
def _actor_restored():
    before = os.environ.get(ACTOR_ENV)
    yield
    if before is None:
        os.environ.pop(ACTOR_ENV, None)
    else:
        os.environ[ACTOR_ENV] = before


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ws():
    return load_workspace()


@pytest.fixture(scope="module")
def template(tmp_path_factory, ws) -> Path:
    """One bootstrapped store per module (importing the demo judgments takes ~2 s); tests use copies."""
    path = tmp_path_factory.mktemp("template") / "s.sqlite"
    store = Store(f"sqlite:///{path}")
    bootstrap(store, ws)
    everyone = range(1, 76)
    for login, name in zip(("lin_xiaofeng", "chen_jingyi"), EXPERTS, strict=True):
        people.add(store, ws.dataset.name, login, name, ["expert"], by="demo_admin")
        people.assign(store, ws.dataset.name, login, by="demo_admin", institutions=everyone, group="测试组")
    store.close()
    return path


def fresh_db(template: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in template.parent.glob(template.name + "*"):
        shutil.copy(f, folder / f.name)
    return folder / template.name


@pytest.fixture
def db(template, tmp_path) -> Path:
    return fresh_db(template, tmp_path)


@pytest.fixture
def store(db, ws):
    s = Store(f"sqlite:///{db}")
    bootstrap(s, ws)  # a copy of a bootstrapped store: nothing to import
    yield s
    s.close()


@pytest.fixture
def wf(ws, store) -> Workflow:
    return Workflow(ws, store)


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def on_site(wf: Workflow, n: int, experts=EXPERTS, *, commitment=True, sign=True) -> None:
    """待评估 → 现场评估 with the group registered, the commitment letter received and every signature."""
    act(AGENT)
    wf.move(n, "现场评估")
    act(AGENT)
    wf.set_group(n, list(experts))
    if commitment:
        act(AGENT)
        wf.commitment(n, D(2023, 5, 20))
    if sign:
        for e in experts:
            act(e)
            wf.sign(n)


def to_initial(wf: Workflow, n: int) -> None:
    on_site(wf, n)
    act(AGENT)
    wf.move(n, "初评")


def to_reviewed(wf: Workflow, n: int, veto=None) -> None:
    to_initial(wf, n)
    act(CENTRE)
    wf.review(n, veto=veto or {}, adjust={}, approve=True)
    act(LEADER)
    wf.approve_review(n)
    assert wf.state(n).stage == "复核"


def assessment(ws, store, n: int, stage: str) -> Assessment:
    return Assessment(ws, store, ws.institution(n), ws.dataset.as_of, stage)


def with_free_deduction(a: Assessment, key: str, points: float, reason: str) -> dict:
    entry = dict(a.snapshot(refresh=True).live[key])
    entry["free"] = [*entry.get("free", []), {"points": points, "reason": reason}]
    return entry


def stage_of(wf: Workflow, n: int) -> str:
    return wf.state(n).stage


# --- transitions ---------------------------------------------------------------------------------

PERMISSIVE = Facts(digest="d", pending=0, undecided_veto=(), today=D(2030, 1, 1))


@pytest.mark.parametrize("frm", STAGES)
@pytest.mark.parametrize("to", STAGES)
def test_only_the_next_stage_may_be_entered(frm, to):
    problems = transition_problems(WorkflowState(stage=frm), to, PERMISSIVE)
    if to in NEXT[frm]:
        assert not any("不能直接进入" in p for p in problems)
    else:
        assert problems and "不能直接进入" in problems[0]


def test_stage_order_follows_the_seed():
    assert STAGES == ("待评估", "现场评估", "初评", "复核", "公示", "异议处理", "公告")
    assert transition_problems(WorkflowState(), "已完成", PERMISSIVE) == ["未知阶段“已完成”"]


def test_cannot_skip_stages(wf, store, ws):
    before = store.events(ws.dataset.name, 13)
    for to, owner in (("初评", AGENT), ("复核", LEADER), ("公示", CENTRE), ("公告", CENTRE)):
        act(owner)  # the role that owns the move: refused for the order, not for the role
        with pytest.raises(WorkflowError, match=f"当前阶段“待评估”不能直接进入“{to}”"):
            wf.move(13, to)
    assert store.events(ws.dataset.name, 13) == before
    assert stage_of(wf, 13) == "待评估"


def test_cli_refusal_is_exit_code_3_with_a_chinese_message(db):
    act(AGENT)
    rc, _, err = cli("stage", "13", "初评", "--db", str(db))
    assert rc == 3
    assert "操作被拒绝" in err and "不能直接进入“初评”" in err


def test_initial_result_needs_the_group(wf):
    act(AGENT)
    wf.move(13, "现场评估")
    act(AGENT)
    wf.commitment(13, D(2023, 5, 20))
    with pytest.raises(WorkflowError) as exc:
        act(AGENT)
        wf.move(13, "初评")
    assert exc.value.problems == ["机构 13：尚未登记评估小组成员"]
    assert stage_of(wf, 13) == "现场评估"


def test_initial_result_needs_every_members_signature(wf):
    on_site(wf, 13, sign=False)
    with pytest.raises(WorkflowError, match=f"尚未在当前评分表上签字：{'、'.join(EXPERTS)}"):
        act(AGENT)
        wf.move(13, "初评")
    act(EXPERTS[0])
    wf.sign(13)
    with pytest.raises(WorkflowError) as exc:
        act(AGENT)
        wf.move(13, "初评")
    assert exc.value.problems == [f"机构 13：评估小组成员尚未在当前评分表上签字：{EXPERTS[1]}"]
    act(EXPERTS[1])
    wf.sign(13)
    act(AGENT)
    wf.move(13, "初评")
    assert stage_of(wf, 13) == "初评"


def test_only_members_sign_and_only_on_site(wf):
    with pytest.raises(WorkflowError, match="只有现场评估阶段可以签字"):
        act(EXPERTS[0])
        wf.sign(13)
    on_site(wf, 13, sign=False)
    with pytest.raises(WorkflowError, match="不是机构 13 评估小组成员"):
        act("demo_expert_14")  # a registered expert of the same 演示 group, not in 13's group
        wf.sign(13)
    with pytest.raises(WorkflowError, match="至少需要一名专家"):
        act(AGENT)
        wf.set_group(13, [" ", ""])


def test_initial_result_needs_no_pending_indicators(wf):
    on_site(wf, 75)
    pending = len(wf.result(75).pending)
    assert pending > 0
    with pytest.raises(WorkflowError) as exc:
        act(AGENT)
        wf.move(75, "初评")
    assert exc.value.problems == [f"机构 75：尚有 {pending} 项指标待评"]


def test_initial_result_refused_after_a_judgment_is_withdrawn(wf, ws, store):
    act(AGENT)
    wf.move(13, "现场评估")
    a = assessment(ws, store, 13, "现场评估")
    act(EXPERTS[0])
    a.save({"sc-2023:ind:1": None}, a.snapshot().base, reason="撤回待补充材料")
    act(AGENT)
    wf.set_group(13, list(EXPERTS))
    act(AGENT)
    wf.commitment(13, D(2023, 5, 20))
    for e in EXPERTS:
        act(e)
        wf.sign(13)
    with pytest.raises(WorkflowError) as exc:
        act(AGENT)
        wf.move(13, "初评")
    assert exc.value.problems == ["机构 13：尚有 1 项指标待评"]


def test_initial_result_needs_the_commitment_letter(wf):
    on_site(wf, 13, commitment=False)
    with pytest.raises(WorkflowError) as exc:
        act(AGENT)
        wf.move(13, "初评")
    assert exc.value.problems == ["机构 13：尚未收到机构签署的《信用承诺书》"]
    act(AGENT)
    wf.commitment(13, D(2023, 5, 20))
    act(AGENT)
    wf.move(13, "初评")
    assert wf.state(13).commitment == D(2023, 5, 20)


def test_group_cannot_change_after_signing_off(wf):
    to_initial(wf, 13)
    with pytest.raises(WorkflowError, match="不能再更换评估小组"):
        act(AGENT)
        wf.set_group(13, ["王新"])


def test_review_only_after_the_initial_result(wf):
    act(AGENT)
    wf.move(13, "现场评估")
    with pytest.raises(WorkflowError, match="复核须在初评之后进行"):
        act(CENTRE)
        wf.review(13, veto={}, adjust={}, approve=True)


@pytest.mark.parametrize(("n", "clause"), [(29, "7"), (44, "1(2)")])
@pytest.mark.parametrize("decision", ["confirmed", "rejected"])
def test_review_refused_while_a_raised_veto_is_undecided(wf, n, clause, decision):
    assert [(v.clause, v.status) for v in wf.result(n).veto] == [(clause, "raised")]
    to_initial(wf, n)
    with pytest.raises(WorkflowError, match=re.escape(f"否定项第 {clause} 条尚未核实")):
        act(CENTRE)
        wf.review(n, veto={}, adjust={}, approve=True)
    assert stage_of(wf, n) == "初评"
    act(CENTRE)
    wf.review(n, veto={clause: (decision, "经省职鉴中心核实")}, adjust={}, approve=True)
    assert stage_of(wf, n) == "初评"  # the review takes effect only with 领导审签
    act(LEADER)
    wf.approve_review(n)
    assert stage_of(wf, n) == "复核"
    r = wf.result(n)
    assert [(v.clause, v.status) for v in r.veto] == [(clause, decision)]
    assert [v.clause for v in r.effective_veto] == ([clause] if decision == "confirmed" else [])
    if decision == "confirmed":
        assert r.grade == "A"


def test_review_decision_must_be_confirmed_or_rejected(wf):
    to_initial(wf, 29)
    with pytest.raises(WorkflowError, match="confirmed（属实）或 rejected（不属实）"):
        act(CENTRE)
        wf.review(29, veto={"7": ("maybe", "x")}, adjust={}, approve=True)


def test_a_refused_review_writes_nothing(wf, store, ws):
    """service.py: "Refusals raise WorkflowError … and leave the store untouched"."""
    to_initial(wf, 29)
    before = store.history(ws.dataset.name, 29)
    with pytest.raises(WorkflowError, match="否定项第 7 条尚未核实"):
        act(CENTRE)
        wf.review(29, veto={}, adjust={10: (5.0, "复核调整")}, approve=True)
    assert store.history(ws.dataset.name, 29) == before
    assert stage_of(wf, 29) == "初评"


@pytest.mark.parametrize(
    ("veto", "adjust"),
    [({}, {9: (99.0, "超出满分的调整")}), ({"99": ("confirmed", "不存在的条款")}, {})],
    ids=["adjust-out-of-range", "unknown-veto-clause"],
)
def test_an_invalid_review_decision_is_refused_and_writes_nothing(wf, store, ws, veto, adjust):
    to_initial(wf, 13)
    before = store.history(ws.dataset.name, 13)
    with pytest.raises((StoreError, InputError)):
        act(CENTRE)
        wf.review(13, veto=veto, adjust=adjust, approve=False)
    assert store.history(ws.dataset.name, 13) == before
    wf.result(13)  # the institution can still be scored


def test_publicity_needs_a_window(wf):
    to_reviewed(wf, 13)
    with pytest.raises(WorkflowError, match="尚未设定公示期"):
        act(CENTRE)
        wf.move(13, "公示")
    for days in (0, 61):
        with pytest.raises(WorkflowError, match=f"公示天数 {days} 超出允许范围 1–60"):
            act(CENTRE)
            wf.open_publicity(PUBLICITY[0], days)
    assert wf.state(13).stage == "复核"
    act(CENTRE)
    assert wf.open_publicity(PUBLICITY[0], 7) == [13]
    st = wf.state(13)
    assert (st.stage, st.publicity) == ("公示", PUBLICITY)
    with pytest.raises(WorkflowError, match="没有已复核的机构可以公示"):
        act(CENTRE)
        wf.open_publicity(PUBLICITY[0], 7)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("publicity", "--start", "2023-09-01", "--days", "100000000"), "--days: 公示天数 100000000 超出允许范围 1–60"),
        (("publicity", "--start", "2023-09-01", "--days", "0"), "--days: 公示天数 0 超出允许范围 1–60"),
        (("announce", "--date", "2023-09-08", "--valid-years", "100000"), "--valid-years: 结果有效期（年） 100000"),
        (("announce", "--date", "2023-09-08", "--valid-years", "-1"), "超出允许范围 1–10"),
    ],
    ids=["publicity-huge", "publicity-zero", "announce-huge", "announce-negative"],
)
def test_out_of_range_overrides_are_refused_before_anything_is_written(wf, store, db, tmp_path, argv, message):
    """Each step would go ahead with sane values (13 reviewed, then in publicity that has ended)."""
    to_reviewed(wf, 13)
    if argv[0] == "announce":
        act(CENTRE)
        wf.open_publicity(PUBLICITY[0], 7)
    before = len(store.events(wf.dataset))
    out = tmp_path / "out"
    act(CENTRE)
    rc, stdout, err = cli(*argv, *LATE, "--db", str(db), "--out", str(out))
    assert rc == 2, (stdout, err)
    assert message in err and "Traceback" not in err
    assert len(store.events(wf.dataset)) == before and not out.exists()
    sane = [a for a in argv if a not in ("--days", "--valid-years") and not a.lstrip("-").isdigit()]
    rc, stdout, err = cli(*sane, *LATE, "--db", str(db), "--out", str(out))  # the programme's default goes through
    assert rc == 0, (stdout, err)
    assert len(store.events(wf.dataset)) > before


def test_objections_and_announcement_guards(wf):
    to_reviewed(wf, 13)
    to_reviewed(wf, 2)
    act(CENTRE)
    assert wf.open_publicity(PUBLICITY[0], 7) == [2, 13]
    args = {"applicant": "赵晓明", "grounds": "得分有误", "evidence": "表彰证书复印件"}
    act(CENTRE)
    for day in (D(2023, 8, 31), D(2023, 9, 8)):
        with pytest.raises(WorkflowError, match="不在公示期"):
            wf.add_objection(13, date=day, **args)
    with pytest.raises(WorkflowError, match="实质性依据"):
        wf.add_objection(13, date=D(2023, 9, 3), **{**args, "evidence": " "})
    with pytest.raises(WorkflowError, match="不在公示期"):
        wf.add_objection(29, date=D(2023, 9, 3), **args)
    objection = wf.add_objection(13, date=PUBLICITY[1], **args)  # the last day still counts
    assert stage_of(wf, 13) == "异议处理"

    # the window has not ended: nobody is announced
    with pytest.raises(WorkflowError) as exc:
        act(CENTRE)
        wf.announce(PUBLICITY[1])
    assert "机构 2：公示期至 2023-09-07 止，尚未结束" in exc.value.problems
    assert "机构 13：尚有 1 件异议未处理" in exc.value.problems
    with pytest.raises(WorkflowError, match="尚未结束"):
        act(CENTRE)
        wf.move(2, "公告", today=PUBLICITY[1])
    assert (stage_of(wf, 2), stage_of(wf, 13)) == ("公示", "异议处理")

    # after the window: 2 (from 公示) is announced, 13 waits for its objection
    act(CENTRE)
    done, held = wf.announce(D(2023, 9, 8))
    assert done == [2]
    assert held == ["机构 13：尚有 1 件异议未处理"]
    assert (stage_of(wf, 2), wf.state(2).announced) == ("公告", D(2023, 9, 8))
    assert stage_of(wf, 13) == "异议处理"
    with pytest.raises(WorkflowError, match="尚有 1 件异议未处理"):
        act(CENTRE)
        wf.move(13, "公告", today=D(2023, 9, 8))

    decide = {"note": "经核实无实质依据"}
    with pytest.raises(WorkflowError, match="没有编号为"):
        wf.decide_objection(13, objection.id + 1000, decision="rejected", adjust={}, **decide)
    with pytest.raises(WorkflowError, match="异议不成立时不应调整分数"):
        wf.decide_objection(13, objection.id, decision="rejected", adjust={9: (5.0, "x")}, **decide)
    with pytest.raises(WorkflowError, match="须写明核实情况"):
        act(CENTRE)
        wf.decide_objection(13, objection.id, decision="rejected", adjust={}, note=" ")
    wf.decide_objection(13, objection.id, decision="rejected", adjust={}, **decide)
    with pytest.raises(WorkflowError, match="已于此前处理"):
        wf.decide_objection(13, objection.id, decision="rejected", adjust={}, **decide)
    act(CENTRE)
    assert wf.announce(D(2023, 9, 9)) == ([13], [])
    assert (stage_of(wf, 13), wf.state(13).announced) == ("公告", D(2023, 9, 9))
    with pytest.raises(WorkflowError, match="没有处于公示阶段的机构"):
        act(CENTRE)
        wf.announce(D(2023, 9, 10))


# --- signatures voided by a later change --------------------------------------------------------


def test_a_signature_is_voided_by_a_later_change(wf, ws, store, db):
    on_site(wf, 13)
    signed = wf.sheet_digest(13)
    assert sorted(wf.state(13).valid_signatures(signed)) == sorted(EXPERTS)

    a = assessment(ws, store, 13, "现场评估")
    change = with_free_deduction(a, "sc-2023:ind:23", 2, "考场监控录像缺失一场")
    act(EXPERTS[0])
    a.save({"sc-2023:ind:23": change}, a.snapshot().base, reason="")
    now = wf.sheet_digest(13)
    assert now != signed
    st = wf.state(13)
    for e in EXPERTS:
        assert e not in st.valid_signatures(now)
        assert e in st.void_signatures(now)
    with pytest.raises(WorkflowError, match="尚未在当前评分表上签字"):
        act(AGENT)
        wf.move(13, "初评")

    report = open_assessment(13, db=f"sqlite:///{db}")
    try:
        ctx = load_context(report)
        html = report_body(ctx)
    finally:
        report.store.close()
    void = [s.name for s in ctx.signoffs if s.valid is False]
    assert sorted(void) == sorted(EXPERTS)
    assert html.count("已失效：签字后评分表已变更") == 2

    act(EXPERTS[0])
    wf.sign(13)
    st = wf.state(13)
    assert st.valid_signatures(now) == [EXPERTS[0]] and st.void_signatures(now) == [EXPERTS[1]]
    act(EXPERTS[1])
    wf.sign(13)
    act(AGENT)
    wf.move(13, "初评")


# --- a signed sheet changes only by a recorded decision ------------------------------------------


def test_a_signed_sheet_is_not_edited_in_place(wf, ws, store, db):
    """Once signed, only the centre changes the sheet, with a reason; the stage a form was opened with
    plays no part (the stage is derived from the event log)."""
    to_initial(wf, 13)
    ds = ws.dataset.name
    before = store.history(ds, 13)

    def attempt(who: str, stage: str, reason: str):
        act(who)
        a = assessment(ws, store, 13, stage)
        return a.save(
            {"sc-2023:ind:23": with_free_deduction(a, "sc-2023:ind:23", 2, "复核发现考场记录缺失")},
            a.snapshot().base,
            reason=reason,
        )

    for who, stage, reason, message in [
        (EXPERTS[0], "现场评估", "补充扣分", "只有“省职鉴中心复核”角色可以修改"),
        (EXPERTS[0], "复核", "补充扣分", "只有“省职鉴中心复核”角色可以修改"),
        (AGENT, "复核", "补充扣分", "只有“省职鉴中心复核”角色可以修改"),
        (CENTRE, "复核", "", "必须填写理由"),
        (CENTRE, "现场评估", " ", "必须填写理由"),
    ]:
        with pytest.raises(WorkflowError, match=message) as exc:
            attempt(who, stage, reason)
        assert isinstance(exc.value, StoreError)
    assert store.history(ds, 13) == before

    written = attempt(CENTRE, "现场评估", "复核发现考场记录缺失，扣 2 分")
    assert [(v.key, v.stage, v.reason, v.login) for v in written] == [
        ("sc-2023:ind:23", "复核", "复核发现考场记录缺失，扣 2 分", CENTRE)
    ]

    act(CENTRE)
    wf.review(13, veto={}, adjust={}, approve=True)
    act(LEADER)
    wf.approve_review(13)
    act(CENTRE)
    wf.open_publicity(PUBLICITY[0], 7)
    wf.announce(D(2023, 9, 8))
    before = store.history(ds, 13)
    for stage in ("复核", "异议处理", "公告"):
        with pytest.raises(WorkflowError, match="结果已公告"):
            attempt(CENTRE, stage, "公告后发现新情况")
    assert store.history(ds, 13) == before
    act(CENTRE)
    with pytest.raises(WorkflowError, match="必须写明理由"):
        wf.reopen(13, reason=" ")

    rc, _, err = cli("review", "13", "--reopen", "收到新的行政处罚信息", "--db", str(db))
    assert rc == 0, err
    st = wf.state(13)
    assert (st.stage, st.announced) == ("复核", None)
    assert "重新复核：收到新的行政处罚信息" in st.history[-1].note
    written = attempt(CENTRE, "复核", "重新复核：补充扣分")
    assert [v.stage for v in written] == ["复核"]


# --- a full walk via the command line ------------------------------------------------------------

WALKED = (2, 13, 66)
APPLICANT = "赵晓明"


@pytest.fixture(scope="module")
def walk(template, ws, tmp_path_factory):
    """Scheduling to announcement for 2, 13 and 66 through `rubric-kernel`, once for the tests below."""
    root = tmp_path_factory.mktemp("walk")
    db = str(fresh_db(template, root / "db"))
    out = root / "out"
    w = SimpleNamespace(db=db, out=out, logs={})

    def run(*argv: str, expect: int = 0) -> tuple[str, str]:
        rc, stdout, err = cli(*argv, "--db", db)
        assert rc == expect, (argv, rc, stdout, err)
        w.logs[argv] = (stdout, err)
        return stdout, err

    act(AGENT)
    run("schedule", "--out", str(out))
    for n in WALKED:
        act(AGENT)
        run("stage", str(n), "现场评估")
        run("group", str(n), "--experts", ",".join(EXPERTS))
        run("commitment", str(n), "--date", "2023-05-20", *LATE)
        for e in EXPERTS:
            act(e)
            run("sign", str(n))
        act(AGENT)
        run("stage", str(n), "初评")
    act(CENTRE)
    run("review", "2", "--approve")
    run("review", "13", "--approve")
    run("review", "66", "--approve", "--veto", "3=confirmed:经核实，该机构被人社部门经听证程序处以行政处罚")
    act(LEADER)
    for n in WALKED:
        run("approve", str(n))
    act(CENTRE)
    run("publicity", "--start", "2023-09-01", "--days", "7", "--out", str(out), *LATE)

    stdout, _ = run(
        "objection",
        "13",
        "--applicant",
        APPLICANT,
        "--date",
        "2023-09-03",
        "--grounds",
        "表彰漏计",
        "--evidence",
        "行业协会表彰文件",
        *LATE,
    )
    w.objection = re.search(r"编号 (\d+)", stdout).group(1)
    _, w.late_objection = run(
        "objection",
        "13",
        "--applicant",
        APPLICANT,
        "--date",
        "2023-09-10",
        "--grounds",
        "再议",
        "--evidence",
        "无",
        *LATE,
        expect=3,
    )
    _, w.early_announce = run("announce", "--date", "2023-09-07", "--out", str(out), *LATE, expect=3)

    before = json.loads(run("score", "13", "--json")[0])
    w.number = next(int(k) for k, v in before["indicators"].items() if v < ws.rubric.indicators[int(k)].max_points)
    w.old = before["indicators"][str(w.number)]
    w.new = float(ws.rubric.indicators[w.number].max_points)
    w.old_total = before["total"]
    w.reason = "补充提交的表彰文件经核实有效"
    run(
        "decide",
        "13",
        w.objection,
        "--decision",
        "upheld",
        "--note",
        "申请人提供的表彰文件属实",
        "--adjust",
        f"{w.number}={w.new:g}:{w.reason}",
    )
    w.score13 = json.loads(run("score", "13", "--json")[0])
    w.score66 = json.loads(run("score", "66", "--json")[0])
    w.announce_out, _ = run("announce", "--date", "2023-09-08", "--out", str(out), *LATE)
    w.status, _ = run("status")
    w.history, _ = run("history", "13")
    os.environ.pop(ACTOR_ENV, None)  # module-scoped: the per-test restoring fixture does not cover it
    return w


def test_walk_schedule_outputs(walk, ws):
    out = walk.out
    for name in ("schedule.xlsx", "schedule.ics", "notifications.xlsx", "notifications.html"):
        assert (out / name).is_file(), name
    ics = (out / "schedule.ics").read_text(encoding="utf-8")
    assert ics.startswith("BEGIN:VCALENDAR") and ics.count("BEGIN:VEVENT") == len(ws.roster) == 75
    assert ics.count("END:VEVENT") == 75 and "DTSTART;VALUE=DATE:" in ics
    items = load_materials().items
    assert len(items) == 27
    html = (out / "notifications.html").read_text(encoding="utf-8")
    for item in items:
        assert escape(item.text) in html
    book = load_workbook(out / "notifications.xlsx", read_only=True)
    texts = {str(c) for row in book["准备材料清单"].iter_rows(values_only=True) for c in row if c is not None}
    assert all(item.text in texts for item in items)
    book.close()
    store = Store(f"sqlite:///{walk.db}")
    try:
        visits = [e for e in store.events(ws.dataset.name) if e.kind == "schedule"]
    finally:
        store.close()
    assert len(visits) == 75
    for e in visits:
        visit, notified = D.fromisoformat(e.payload["visit"]), D.fromisoformat(e.payload["notified"])
        assert chinese_calendar.is_workday(visit) and (visit - notified).days >= 5


def test_walk_refusals(walk):
    assert "不在公示期" in walk.late_objection
    assert "尚未结束" in walk.early_announce


def test_walk_objection_adjustment_changes_the_score(walk):
    assert walk.new > walk.old
    assert walk.score13["indicators"][str(walk.number)] == walk.new
    assert walk.score13["total"] == walk.old_total + (walk.new - walk.old)


def test_walk_announcement_outputs(walk):
    out = walk.out
    for name in (
        "公示名单-2023-09-01.html",
        "公示名单-2023-09-01.xlsx",
        "公告名单-2023-09-08.html",
        "公告名单-2023-09-08.xlsx",
        "sharing.csv",
        "sharing.json",
    ):
        assert (out / name).is_file(), name
    data = json.loads((out / "sharing.json").read_text(encoding="utf-8"))
    records = {r["institution"]: r for r in data["records"]}
    assert sorted(records) == list(WALKED)
    keys = {
        "institution",
        "name",
        "unified_social_credit_code",
        "class",
        "grade",
        "score",
        "assessment_date",
        "valid_until",
        "announcement_date",
    }
    for r in records.values():
        assert keys <= set(r)
        assert r["announcement_date"] == "2023-09-08" and r["valid_until"] == "2025-09-07"
    assert records[66]["grade"] == "A"
    assert walk.score66["grade"] == "A" and walk.score66["veto"] == ["3"]
    with (out / "sharing.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(SHARING_FIELDS)
    assert {int(r["institution"]): r["grade"] for r in rows} == {n: r["grade"] for n, r in records.items()}


def test_walk_status_shows_the_announcement(walk):
    stages = {int(line.split()[0]): line.split()[1] for line in walk.status.splitlines()[1:] if line.strip()}
    assert {n: stages[n] for n in WALKED} == dict.fromkeys(WALKED, "公告")
    assert stages[1] == "待评估"


def test_walk_is_traceable(walk):
    records = json.loads((walk.out / "sharing.json").read_text(encoding="utf-8"))["records"]
    announced = next(r for r in records if r["institution"] == 13)
    assert announced["score"] == walk.score13["total"]
    assert announced["grade"] == walk.score13["grade"]
    line = next(ln for ln in walk.history.splitlines() if f"adjust:sc-2023:ind:{walk.number} " in ln)
    assert (
        CENTRE_NAME in line and "[异议处理]" in line and walk.reason in line and f"异议 {walk.objection} 成立" in line
    )


def test_walk_report_shows_the_adjusted_score(walk, tmp_path):
    rc, _, err = cli("report", "13", "--db", walk.db, "--out", str(tmp_path))
    assert rc == 0, err
    html = (tmp_path / "13.html").read_text(encoding="utf-8")
    assert f'<span class="rk-total">{walk.score13["total"]:g}</span>' in html
    assert walk.reason in html


@pytest.mark.parametrize(
    ("announced", "valid_until"),
    [(D(2023, 9, 8), {"2025-09-07"}), (D(2024, 2, 29), {"2026-02-27", "2026-02-28"})],
    ids=["ordinary", "leap-day"],
)
def test_sharing_validity_period(ws, announced, valid_until):
    [record] = sharing_records(
        ws.roster,
        {13: {"grade": "AAAAA", "total": 950.0}},
        as_of=ws.dataset.as_of,
        announced={13: announced},
        valid_years=2,
        synthetic=True,
    )
    assert record["valid_until"] in valid_until
    assert record["announcement_date"] == announced.isoformat()


def personal_names(numbers) -> set[str]:
    names = set(EXPERTS) | {APPLICANT}
    with (DEMO_DATA / "personnel.csv").open(encoding="utf-8-sig", newline="") as f:
        names |= {r["姓名"] for r in csv.DictReader(f) if int(r["机构序号"]) in numbers and r["姓名"].strip()}
    for n in numbers:
        text = (DEMO_DATA / "judgments" / f"{n:02d}.yaml").read_text(encoding="utf-8")
        expert = re.search(r"^expert:\s*(.+)$", text, re.M).group(1).strip().strip("'\"")
        names |= {expert, expert.split("（")[0]}
    return names


def public_texts(out: Path) -> dict[str, str]:
    texts = {}
    for path in sorted(out.iterdir()):
        if not path.name.startswith(("公示名单", "公告名单", "sharing")):
            continue
        if path.suffix == ".xlsx":
            book = load_workbook(path, read_only=True)
            texts[path.name] = "\n".join(
                str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row if c
            )
            book.close()
        else:
            texts[path.name] = path.read_text(encoding="utf-8")
    return texts


def test_public_lists_contain_no_personal_names(walk, ws):
    texts = public_texts(walk.out)
    assert len(texts) == 6
    names = personal_names(WALKED)
    assert len(names) > 30
    for file, text in texts.items():
        assert ws.roster[13].name in text, file  # the lists are about institutions
        leaked = sorted(n for n in names if n in text)
        assert not leaked, f"{file} contains personal names: {leaked}"


# --- the experts' consolidation ------------------------------------------------------------------


def test_consolidation_lists_exactly_the_divergent_indicator(ws, store, db):
    ds = ws.dataset.name
    entries = sheet_to_entries(current_sheet(store, ws, 13), ws.rubric)
    harsh = json.loads(json.dumps(entries))
    harsh["sc-2023:ind:23"]["free"] = [{"points": 8, "reason": "考场秩序混乱"}]
    harsh["sc-2023:ind:24"]["free"] = [{"points": 3, "reason": "试卷交接记录不全"}]  # exactly the threshold: not listed
    for expert, sheet in (("甲", entries), ("乙", harsh)):
        store.save(ds, 13, sheet, {}, expert=expert, stage="现场评估", reason="独立评分", sheet=expert_sheet(expert))
    rows = consolidate(ws, store, 13, 3)
    assert [r.number for r in rows] == [23]
    row = rows[0]
    assert row.scores == {"甲": 30.0, "乙": 22.0} and row.spread == 8
    assert any("考场秩序混乱" in line and "-8" in line for line in row.reasons["乙"])
    assert not any("考场秩序混乱" in line for line in row.reasons["甲"])
    assert [r.number for r in consolidate(ws, store, 13, 2)] == [23, 24]

    rc, out, err = cli("consolidate", "13", "--db", str(db))
    assert rc == 0, err
    assert "指标23" in out and "分差 8" in out and "乙：22" in out and "甲：30" in out and "考场秩序混乱" in out
    assert "指标24" not in out
