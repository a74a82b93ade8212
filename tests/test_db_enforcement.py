"""The database's half of the enforcement on a real PostgreSQL server (issue 10 §2, §4).

``db-setup`` installs the owner, group roles, grants and row-level security; an expert then
connects with their own login and tries, in raw SQL, what the application would refuse them. The
server refuses each, while the same login may still do what an expert may.
"""

from __future__ import annotations

import psycopg
import pytest
from pg_logins import connect
from sqlalchemy import make_url

from rubric_kernel import identity, people
from rubric_kernel.cli import main
from rubric_kernel.identity import ACTOR_ENV
from rubric_kernel.judgments import bootstrap
from rubric_kernel.store import Store, StoreError
from rubric_kernel.workspace import load_workspace

DEMO = "demo"
LI, WANG = "li_expert", "wang_expert"  # real (non-demo) people: they get login roles of their own


@pytest.fixture
def server(postgres_url):
    """A store set up by db-setup, the demo loaded by the administrator, two experts in two groups."""
    assert main(["db-setup", postgres_url, "--admin", "zhou_admin", "--admin-name", "周管理员"]) == 0
    ws = load_workspace()
    with Store(postgres_url) as store:  # as the database administrator: the store's first use
        bootstrap(store, ws)
        people.add(store, DEMO, LI, "李专家", ["expert"], by="zhou_admin")
        people.assign(store, DEMO, LI, by="zhou_admin", institutions=range(1, 16), group="第1组")
        people.add(store, DEMO, WANG, "王专家", ["expert"], by="zhou_admin")
        people.assign(store, DEMO, WANG, by="zhou_admin", institutions=range(16, 31), group="第2组")
    return postgres_url


VERSION = (
    "INSERT INTO rk_versions (dataset, institution, sheet, key, seq, stage, expert, created_at, content, reason, login) "
    "VALUES ('demo', %s, 'group', 'sc-2023:ind:1', 99, '现场评估', %s, '2026-11-27T00:00:00+00:00', '{}', '', %s)"
)
KEYED = (  # the expert's own institution, name and login: only the key and its content vary
    "INSERT INTO rk_versions (dataset, institution, sheet, key, seq, stage, expert, created_at, content, reason, login) "
    "VALUES ('demo', 13, 'group', %s, 99, '现场评估', '李专家', '2026-11-27T00:00:00+00:00', %s, '', 'li_expert')"
)
EVENT = (
    "INSERT INTO rk_events (dataset, institution, seq, kind, actor, created_at, payload, note, login) "
    "VALUES ('demo', 13, 99, %s, '李专家', '2026-11-27T00:00:00+00:00', %s, '', 'li_expert')"
)


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("UPDATE rk_versions SET content = '{}' WHERE institution = 13", ()),
        ("DELETE FROM rk_events", ()),
        ("DELETE FROM rk_versions WHERE institution = 13", ()),
        (EVENT, ("review", '{"digest": "x"}')),
        (EVENT, ("objection_decision", '{"objection": 1, "decision": "upheld"}')),
        (EVENT, ("transition", '{"from": "复核", "to": "公示"}')),
        (EVENT, ("publicity", '{"start": "2026-11-27", "end": "2026-12-03"}')),
        (VERSION, (13, "王专家", LI)),  # under another expert's name
        (VERSION, (13, "李专家", WANG)),  # as another login
        (VERSION, (20, "李专家", LI)),  # another group's institution
        ("INSERT INTO rk_roles (dataset, login, role) VALUES ('demo', 'li_expert', 'centre')", ()),
        (KEYED, ("sc-2023:veto:1(1)", '{"status": "confirmed", "reason": "x", "by": ""}')),
        (KEYED, ("sc-2023:veto:1(1)", '{"status": "rejected", "reason": "x", "by": ""}')),
        (KEYED, ("adjust:sc-2023:ind:12", '{"delta": -5, "reason": "x"}')),
        (KEYED, ("finding:sc-2023:ind:16", '{"source": "x"}')),
    ],
    ids=[
        "update-version",
        "delete-event",
        "delete-version",
        "centre-review",
        "centre-decision",
        "centre-publicity-move",
        "centre-publicity",
        "other-experts-name",
        "other-login",
        "other-groups-institution",
        "grant-self-a-role",
        "confirm-veto",
        "reject-veto",
        "adjust-score",
        "record-finding",
    ],
)
def test_an_experts_login_cannot_do_in_sql_what_the_form_would_not(server, sql, params):
    with connect(server, LI) as conn:
        before = conn.execute("SELECT count(*) FROM rk_versions").fetchone()[0]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql, params)
        assert conn.execute("SELECT count(*) FROM rk_versions").fetchone()[0] == before


def test_an_experts_login_may_do_what_an_expert_may(server):
    """The refusals above are for the act, not for the login: its own judgment and signature go in."""
    with connect(server, LI) as conn:
        conn.execute(VERSION, (13, "李专家", LI))
        conn.execute(EVENT, ("signature", '{"expert": "李专家", "digest": "x"}'))
        conn.execute(KEYED, ("sc-2023:veto:1(1)", '{"status": "raised", "reason": "x", "by": ""}'))
        assert conn.execute("SELECT count(*) FROM rk_versions WHERE login = 'li_expert'").fetchone()[0] == 2


def test_append_only_holds_even_for_the_superuser(server):
    with Store(server) as store, store.engine.connect() as conn, pytest.raises(Exception, match="只能追加"):
        conn.exec_driver_sql("UPDATE rk_versions SET reason = 'x' WHERE institution = 13")


def test_on_postgresql_the_actor_is_the_database_login_whatever_the_environment_says(server, monkeypatch):
    monkeypatch.setenv(ACTOR_ENV, "demo_centre")
    url = make_url(server).set(username=LI)
    with Store(url.render_as_string(hide_password=False)) as store:
        assert identity.current(store, DEMO).login == LI
        assert bootstrap(store, load_workspace()).imported == []  # nothing to import: the admin did it


def test_the_application_refuses_first_with_the_role_needed(server, monkeypatch, capsys):
    url = make_url(server).set(username=LI).render_as_string(hide_password=False)
    assert main(["review", "13", "--approve", "--db", url]) == 3
    err = capsys.readouterr().err
    assert "李专家（li_expert） 无权复核：需要“省职鉴中心复核”角色" in err
    assert main(["people", "add", "x_y", "--name", "某人", "--role", "centre", "--db", url]) == 3
    assert "需要“管理员”角色" in capsys.readouterr().err


def test_the_administrator_adds_people_with_their_own_login(server):
    url = make_url(server).set(username="zhou_admin").render_as_string(hide_password=False)
    assert main(["people", "add", "sun_leader", "--name", "孙领导", "--role", "leader", "--db", url]) == 0
    with connect(server, "sun_leader") as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "sun_leader"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(EVENT, ("review", "{}"))


def test_a_revoked_login_is_told_it_was_revoked_when_and_by_whom(server, capsys):
    """Revoked, the login reads nothing at all; the refusal still names the revocation, not a permission."""
    url = make_url(server).set(username=LI).render_as_string(hide_password=False)
    with Store(server) as store:
        people.revoke(store, DEMO, LI, by="zhou_admin", role_names=["expert"])
    with pytest.raises(StoreError) as exc, Store(url) as store:
        identity.current(store, DEMO)
    assert str(exc.value).startswith("您的账号（li_expert）已被撤销（于 ")
    assert "由 zhou_admin），不能再保存" in str(exc.value) and "联系管理员" in str(exc.value)
    with Store(make_url(server).set(username=WANG).render_as_string(hide_password=False)) as store:
        assert identity.current(store, DEMO).login == WANG  # another login: not revoked, not told about LI
    assert main(["review", "13", "--approve", "--db", url]) == 3
    assert "您的账号（li_expert）已被撤销" in capsys.readouterr().err


def test_db_setup_gives_the_hub_what_it_needs_to_reset_each_persons_password(postgres_url):
    """`db-setup --hub`: the hub's role exists, and (PostgreSQL 16 and later) administers every person's
    login, those registered before and those added later, without being able to act as them."""
    assert main(["db-setup", postgres_url, "--admin", "zhou_admin", "--admin-name", "周管理员", "--hub"]) == 0
    with Store(postgres_url) as store:  # the store's first use, as the database administrator
        bootstrap(store, load_workspace())
    admin = make_url(postgres_url).set(username="zhou_admin").render_as_string(hide_password=False)
    assert main(["people", "add", LI, "--name", "李专家", "--role", "expert", "--db", admin]) == 0
    with connect(postgres_url, "rk_hub") as conn:
        version = int(conn.execute("SHOW server_version_num").fetchone()[0])
        for login in ("zhou_admin", LI):  # before the hub role, and after
            conn.execute(f"ALTER ROLE {login} LOGIN PASSWORD 'rotated-by-the-hub'")
        grants = conn.execute(
            "SELECT r.rolname, m.admin_option FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "JOIN pg_roles h ON h.oid = m.member WHERE h.rolname = 'rk_hub' AND r.rolname IN ('zhou_admin', %s)",
            (LI,),
        ).fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SET ROLE {LI}")  # administers the login, never acts as it
    expected = {("zhou_admin", True), (LI, True)} if version >= 160000 else set()
    assert set(grants) == expected
