"""People, roles and identity on a local SQLite store (issue 10 §1–§4, §7): who acts comes from the
environment, every step and save checks role, assignment and stage, refusals write nothing, versions
and events are append-only, the review takes effect only with 领导审签, and acts are not back-dated.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from rubric_kernel import clock, people
from rubric_kernel.assessment import Assessment
from rubric_kernel.cli import main
from rubric_kernel.identity import ACTOR_ENV, HUB_ENV
from rubric_kernel.judgments import bootstrap
from rubric_kernel.store import Store
from rubric_kernel.workspace import load_workspace

DEMO = "demo"
ADMIN, ORGANISER, CENTRE, LEADER = "demo_admin", "demo_organiser", "demo_centre", "demo_leader"
EXPERT_13, EXPERT_14, EXPERT_40 = "demo_expert_13", "demo_expert_14", "demo_expert_40"  # 13, 14: 第1组 (1–15)


@pytest.fixture(scope="module")
def ws():
    return load_workspace()


@pytest.fixture(scope="module")
def template(tmp_path_factory, ws) -> Path:
    path = tmp_path_factory.mktemp("people") / "s.sqlite"
    with Store(f"sqlite:///{path}") as store:
        bootstrap(store, ws)
    return path


@pytest.fixture
def db(template, tmp_path) -> str:
    for f in template.parent.glob(template.name + "*"):
        shutil.copy(f, tmp_path / f.name)
    return str(tmp_path / template.name)


@pytest.fixture
def store(db):
    with Store(f"sqlite:///{db}") as s:
        yield s


@pytest.fixture(autouse=True)
def _no_actor(monkeypatch):
    monkeypatch.delenv(ACTOR_ENV, raising=False)
    monkeypatch.delenv(HUB_ENV, raising=False)


def run(db: str, *argv: str, who: str | None = None) -> tuple[int, str, str]:
    """The command line as ``who`` (RUBRIC_KERNEL_ACTOR), on the store ``db``."""
    out, err = io.StringIO(), io.StringIO()
    before = os.environ.get(ACTOR_ENV)
    if who:
        os.environ[ACTOR_ENV] = who
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main([*argv, "--db", db])
    finally:
        os.environ.pop(ACTOR_ENV, None)
        if before is not None:
            os.environ[ACTOR_ENV] = before
    return rc, out.getvalue(), err.getvalue()


def counts(db: str) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        return (
            conn.execute("SELECT count(*) FROM rk_versions").fetchone()[0],
            conn.execute("SELECT count(*) FROM rk_events").fetchone()[0],
        )


def refused(db: str, argv: tuple[str, ...], who: str, *needles: str) -> str:
    """The command is refused with one Chinese line containing ``needles``, and nothing is written."""
    before = counts(db)
    rc, _, err = run(db, *argv, who=who)
    assert rc != 0, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    assert counts(db) == before
    return err


# --- §1 people and roles -------------------------------------------------------------------------


def test_the_demo_registry_is_listed_as_json_and_marked(db):
    rc, out, err = run(db, "people", "list", "--json")
    assert rc == 0, err
    rows = {r["login"]: r for r in json.loads(out)}
    assert {"name", "login", "roles", "institutions"} <= set(rows[EXPERT_13])
    assert rows[EXPERT_13]["roles"] == ["评估专家"] and rows[EXPERT_13]["institutions"] == list(range(1, 16))
    assert rows[LEADER]["roles"] == ["领导审签"] and rows[LEADER]["institutions"] == []
    assert all(r["demo"] for r in rows.values())
    rc, out, _ = run(db, "people", "list")
    assert "演示数据" in out.splitlines()[0]


def test_only_the_administrator_changes_people_and_every_change_is_logged(db, store):
    refused(db, ("people", "add", "zhao_expert", "--name", "赵专家", "--role", "expert"), CENTRE, "需要“管理员”角色")
    assert people.by_login(store, DEMO, "zhao_expert") is None
    rc, _, err = run(db, "people", "add", "zhao_expert", "--name", "赵专家", "--role", "expert", who=ADMIN)
    assert rc == 0, err
    rc, _, err = run(db, "people", "assign", "zhao_expert", "--institutions", "16-18", "--group", "第2组", who=ADMIN)
    assert rc == 0, err
    person = people.by_login(store, DEMO, "zhao_expert")
    assert (person.name, person.roles, dict(person.institutions)) == (
        "赵专家",
        frozenset({"expert"}),
        {16: "第2组", 17: "第2组", 18: "第2组"},
    )
    rc, _, err = run(db, "people", "revoke", "zhao_expert", "--institutions", "17", who=ADMIN)
    assert rc == 0, err
    assert sorted(people.by_login(store, DEMO, "zhao_expert").institutions) == [16, 18]
    logged = [(by, action) for _at, by, action, _ in people.changes(store, DEMO)]
    assert logged[-3:] == [(ADMIN, "add"), (ADMIN, "assign"), (ADMIN, "revoke")]
    refused(db, ("people", "add", "Bad-Login", "--name", "x", "--role", "expert"), ADMIN, "登录名", "无效")
    refused(db, ("people", "add", "x_y", "--name", "x", "--role", "boss"), ADMIN, "未知角色“boss”")


# --- §2 identity is never an argument -------------------------------------------------------------


def test_an_unregistered_login_is_refused_in_one_line(db, monkeypatch):
    refused(db, ("stage", "13", "现场评估"), "nobody_here", "“nobody_here”不是评估项目 demo 的已登记人员")
    monkeypatch.setenv(HUB_ENV, "hub_stranger")
    refused(db, ("stage", "13", "现场评估"), "", "JupyterHub 用户“hub_stranger”")
    monkeypatch.setenv(HUB_ENV, ORGANISER)  # inside a hub, the hub's user is who acts
    rc, _, err = run(db, "stage", "13", "现场评估")
    assert rc == 0, err


def test_a_revoked_hub_user_is_told_so_not_refused_for_a_missing_role(db, store, monkeypatch):
    people.revoke(store, "demo", ORGANISER, by="demo_admin", role_names=["organiser"])
    monkeypatch.setenv(HUB_ENV, ORGANISER)
    refused(
        db, ("stage", "13", "现场评估"), "", f"您的账号（{ORGANISER}）已被撤销（于 ", "由 demo_admin）", "联系管理员"
    )


def test_there_is_no_by_option_any_more(db, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["stage", "13", "现场评估", "--by", "省职鉴中心", "--db", db])
    assert exit_.value.code == 2 and "无法识别的参数：--by" in capsys.readouterr().err


def test_acts_record_the_login_and_name_of_who_acted(db, store):
    assert run(db, "stage", "13", "现场评估", who=ORGANISER)[0] == 0
    (event,) = store.events(DEMO, 13)
    assert (event.login, event.actor) == (ORGANISER, "大证信用（演示）")
    imported = store.history(DEMO, 13)
    judged = {v.login for v in imported if not v.key.startswith("finding:")}
    assert judged == {EXPERT_13}  # the demo's own files, attributed to their demo experts
    assert {v.login for v in imported if v.key.startswith("finding:")} == {"demo_centre"}  # its 人社 data: the centre's


# --- §3 authorisation on every act -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "who", "role"),
    [
        (("schedule",), EXPERT_13, "第三方评估机构"),
        (("stage", "13", "现场评估"), CENTRE, "第三方评估机构"),
        (("group", "13", "--experts", EXPERT_13), EXPERT_13, "第三方评估机构"),
        (("commitment", "13"), CENTRE, "第三方评估机构"),
        (("review", "13", "--approve"), ORGANISER, "省职鉴中心复核"),
        (("review", "13", "--approve"), LEADER, "省职鉴中心复核"),
        (("approve", "13"), CENTRE, "领导审签"),
        (("publicity",), EXPERT_13, "省职鉴中心复核"),
        (("announce",), ORGANISER, "省职鉴中心复核"),
    ],
)
def test_each_step_needs_its_role(db, argv, who, role):
    refused(db, argv, who, "操作被拒绝", f"需要“{role}”")


def save_as(ws, store, who: str, n: int, changes: dict, *, stage: str = "现场评估", reason: str = "") -> list:
    os.environ[ACTOR_ENV] = who
    try:
        a = Assessment(ws, store, ws.institution(n), ws.dataset.as_of, stage)
        return a.save(changes, a.snapshot().base, reason=reason)
    finally:
        os.environ.pop(ACTOR_ENV, None)


def judged(store, n: int, key: str = "sc-2023:ind:1") -> dict:
    return {**store.snapshot(DEMO, n).live[key], "evidence": "（演示）补充核实"}


def test_an_expert_saves_only_their_groups_institutions_under_their_own_name(ws, store):
    written = save_as(ws, store, EXPERT_14, 13, {"sc-2023:ind:1": judged(store, 13)})
    name = people.by_login(store, DEMO, EXPERT_14).name
    assert [(v.expert, v.login, v.stage) for v in written] == [(name, EXPERT_14, "待评估")]
    before = store.history(DEMO, 40)
    with pytest.raises(Exception, match="不是机构 40 评估小组的成员") as exc:
        save_as(ws, store, EXPERT_13, 40, {"sc-2023:ind:1": judged(store, 40)})
    assert "评估专家" in str(exc.value)
    with pytest.raises(Exception, match="需要分配到该机构的“评估专家”"):
        save_as(ws, store, ORGANISER, 40, {"sc-2023:ind:1": judged(store, 40)})
    assert store.history(DEMO, 40) == before


@pytest.mark.parametrize(
    ("key", "content"),
    [
        ("sc-2023:veto:3", {"status": "confirmed", "reason": "专家自行确认", "by": "专家"}),
        ("adjust:sc-2023:ind:9", {"score": 1.0, "reason": "专家自行调整", "by": "专家"}),
    ],
)
def test_an_expert_raises_a_veto_but_never_decides_one_or_adjusts(ws, store, key, content):
    before = store.history(DEMO, 16)
    with pytest.raises(Exception, match="需要“省职鉴中心复核”角色"):
        save_as(ws, store, "demo_expert_16", 16, {key: content})
    assert store.history(DEMO, 16) == before
    raised = {"status": "raised", "reason": "现场发现疑似问题", "by": "专家"}
    assert [v.key for v in save_as(ws, store, "demo_expert_16", 16, {"sc-2023:veto:3": raised})] == ["sc-2023:veto:3"]


def test_an_experts_file_with_a_veto_decision_or_adjustment_is_not_imported(db, store, ws, tmp_path):
    source = (ws.dataset.folder / "judgments" / "16.yaml").read_text(encoding="utf-8")
    expert = next(ln.split(":", 1)[1].strip() for ln in source.splitlines() if ln.startswith("expert:"))
    assert expert == people.by_login(store, DEMO, "demo_expert_16").name
    bad = tmp_path / "16.yaml"
    bad.write_text(source + "\nveto:\n  '3':\n    status: confirmed\n    reason: 自行确认\n    by: 专家\n", "utf-8")
    refused(db, ("import-judgments", str(bad)), "demo_expert_16", "16.yaml", "需要“省职鉴中心复核”角色")
    refused(db, ("import-judgments", str(bad)), EXPERT_40, "16.yaml")  # not the file's expert, not the organiser


# --- §7 领导审签 and dates -----------------------------------------------------------------------


def to_initial(db: str, n: int) -> None:
    steps = [
        (("stage", str(n), "现场评估"), ORGANISER),
        (("group", str(n), "--experts", f"demo_expert_{n:02d}"), ORGANISER),
        (("commitment", str(n)), ORGANISER),
        (("sign", str(n)), f"demo_expert_{n:02d}"),
        (("stage", str(n), "初评"), ORGANISER),
    ]
    for argv, who in steps:
        rc, _, err = run(db, *argv, who=who)
        assert rc == 0, (argv, err)


def test_the_review_takes_effect_only_with_the_leaders_approval(db, store):
    to_initial(db, 13)
    refused(db, ("approve", "13"), LEADER, "尚未提交复核结论")
    assert run(db, "review", "13", "--approve", who=CENTRE)[0] == 0
    assert run(db, "status", "13")[1].splitlines()[1].split()[1] == "初评"
    assert run(db, "review", "13", "--adjust", "9=4:复核调整", who=CENTRE)[0] == 0  # changed after the conclusion
    refused(db, ("approve", "13"), LEADER, "须由省职鉴中心重新提交复核结论")
    assert run(db, "review", "13", "--approve", who=CENTRE)[0] == 0
    rc, _, err = run(db, "approve", "13", "--note", "同意", who=LEADER)
    assert rc == 0, err
    last = store.events(DEMO, 13)[-1]
    assert (last.kind, last.payload["from"], last.payload["to"], last.login) == ("transition", "初评", "复核", LEADER)


def test_signing_is_the_acting_experts_own_act(db):
    rc, _, _ = run(db, "stage", "13", "现场评估", who=ORGANISER)
    rc, _, err = run(db, "group", "13", "--experts", EXPERT_13, who=ORGANISER)
    assert rc == 0, err
    refused(db, ("sign", "13"), EXPERT_14, "不是机构 13 评估小组成员")
    refused(db, ("sign", "13"), ORGANISER, "需要“评估专家”")
    assert run(db, "sign", "13", who=EXPERT_13)[0] == 0


def test_future_and_unexplained_past_dates_are_refused_and_late_records_shown(db, store):
    assert run(db, "stage", "13", "现场评估", who=ORGANISER)[0] == 0
    refused(db, ("commitment", "13", "--date", "2099-01-01", "--late", "x"), ORGANISER, "不能登记未来的日期")
    refused(db, ("commitment", "13", "--date", "2023-05-20"), ORGANISER, "--late")
    rc, _, err = run(db, "commitment", "13", "--date", "2023-05-20", "--late", "纸质件遗漏登记", who=ORGANISER)
    assert rc == 0, err
    rc, out, _ = run(db, "commitment", "13", who=ORGANISER)
    assert f"（{clock.today().isoformat()}）" in out
    payloads = [e.payload for e in store.events(DEMO, 13) if e.kind == "commitment"]
    assert payloads == [
        {"date": "2023-05-20", "late": "纸质件遗漏登记"},
        {"date": clock.today().isoformat()},
    ]


def test_act_dates_follow_beijing_time():
    on = dt.date(2026, 11, 28)
    assert clock.act_date(None, what="公告", on=on).date == on
    with pytest.raises(clock.DateRefused, match="未来"):
        clock.act_date(on + dt.timedelta(days=1), "理由", what="公告", on=on)
    late = clock.act_date(dt.date(2023, 9, 8), "补录", what="公告", on=on)
    assert (late.late, late.shown) == ("补录", "2023-09-08（补录：补录）")
    assert clock.now().utcoffset() == dt.timedelta(hours=8)


# --- §4 append-only, on SQLite too -----------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE rk_versions SET content = '{}' WHERE id = 1",
        "DELETE FROM rk_versions WHERE id = 1",
        "UPDATE rk_events SET actor = 'x'",
        "DELETE FROM rk_events",
    ],
)
def test_versions_and_events_are_append_only_in_the_file(db, sql):
    assert run(db, "stage", "13", "现场评估", who=ORGANISER)[0] == 0
    before = counts(db)
    with sqlite3.connect(db) as conn, pytest.raises(sqlite3.IntegrityError, match="只能追加"):
        conn.execute(sql)
    assert counts(db) == before


def test_a_new_programmes_first_person_registers_as_its_administrator(demo_copy, tmp_path):
    """A real (not synthetic) dataset ships no registry: the first person enters it, as its administrator."""
    meta = demo_copy / "dataset.yaml"
    meta.write_text(meta.read_text(encoding="utf-8").replace("synthetic: true", "synthetic: false"), "utf-8")
    (demo_copy / "people.yaml").unlink()
    db = str(tmp_path / "real.sqlite")
    data = ("--data", str(demo_copy))
    rc, out, err = run(db, "people", "list", "--json", *data)  # the store's first use: no registry comes with it
    assert (rc, json.loads(out)) == (0, []), err
    refused(db, ("people", "add", "bob", "--name", "某专家", "--role", "expert", *data), "", "须为管理员")
    rc, _, err = run(db, "people", "add", "boss", "--name", "某管理员", "--role", "admin", *data, who="boss")
    assert rc == 0, err
    refused(db, ("people", "add", "eve", "--name", "某人", "--role", "admin", *data), "eve", "“eve”不是评估项目")
    rc, out, _ = run(db, "people", "list", "--json", *data)
    assert [(r["login"], r["roles"], r["demo"]) for r in json.loads(out)] == [("boss", ["管理员"], False)]
