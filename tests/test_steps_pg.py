"""The seed's remaining workflow steps on a real PostgreSQL server (issue 10 §4, §7): the
pre-collection record and the decision letter are append-only events that only the organiser
(collection) and the centre (letter) may insert, as the server itself enforces; the application
refuses first, with the role needed, and records the database login as the one who acted.
"""

from __future__ import annotations

import psycopg
import pytest
from pg_logins import as_login, connect

from rubric_kernel import people
from rubric_kernel.cli import main
from rubric_kernel.judgments import bootstrap
from rubric_kernel.store import Store
from rubric_kernel.workflow import collection
from rubric_kernel.workspace import load_workspace

DEMO = "demo"
ORG, CENTRE, EXPERT = "zhao_org", "qian_centre", "li_expert"  # real people: login roles of their own

EVENT = (
    "INSERT INTO rk_events (dataset, institution, seq, kind, actor, created_at, payload, note, login) "
    "VALUES ('demo', %s, 99, %s, %s, '2026-11-27T00:00:00+00:00', %s, '', %s)"
)
COLLECTION = '{"type": "约谈", "source": "x", "date": "2026-11-27"}'
LETTER = '{"objection": 1, "date": "2026-11-27"}'


@pytest.fixture
def server(postgres_url):
    assert main(["db-setup", postgres_url, "--admin", "zhou_admin", "--admin-name", "周管理员"]) == 0
    registered = (
        ("demo_organiser", "大证信用（演示）", "organiser"),  # the demo collection record's organiser
        (ORG, "赵组织", "organiser"),
        (CENTRE, "钱复核", "centre"),
        (EXPERT, "李专家", "expert"),
    )
    with Store(postgres_url) as store:  # the administrator's first use: the demo is loaded
        for login, name, role in registered:
            people.add(store, DEMO, login, name, [role], by="zhou_admin")
        bootstrap(store, load_workspace())
    return postgres_url


def test_the_demo_collection_record_is_loaded_as_the_demo_organiser(server):
    with Store(server) as store:
        got = collection.collected(store.events(DEMO, collection.PROGRAMME_WIDE))
    assert set(got) == set(collection.record_types())
    assert {c.login for c in got.values()} == {"demo_organiser"}


@pytest.mark.parametrize(
    ("login", "name", "institution", "kind", "payload"),
    [
        (EXPERT, "李专家", 0, "collection", COLLECTION),
        (CENTRE, "钱复核", 0, "collection", COLLECTION),
        (EXPERT, "李专家", 13, "objection_letter", LETTER),
        (ORG, "赵组织", 13, "objection_letter", LETTER),
    ],
    ids=["expert-collection", "centre-collection", "expert-letter", "organiser-letter"],
)
def test_the_server_refuses_these_acts_to_other_roles(server, login, name, institution, kind, payload):
    with connect(server, login) as conn:
        before = conn.execute("SELECT count(*) FROM rk_events").fetchone()[0]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(EVENT, (institution, kind, name, payload, login))
        assert conn.execute("SELECT count(*) FROM rk_events").fetchone()[0] == before


def test_the_server_lets_each_role_do_its_own_act_and_nothing_is_edited(server):
    with connect(server, ORG) as conn:
        conn.execute(EVENT, (0, "collection", "赵组织", COLLECTION, ORG))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE rk_events SET payload = '{}' WHERE kind = 'collection'")
    with connect(server, CENTRE) as conn:
        conn.execute(EVENT, (13, "objection_letter", "钱复核", LETTER, CENTRE))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM rk_events WHERE kind = 'objection_letter'")


def test_the_organiser_collects_under_their_own_login(server, capsys):
    assert main(["collect", "--type", "约谈", "--source", "四川省人社厅监管通报", "--db", as_login(server, ORG)]) == 0
    with Store(server) as store:
        got = collection.collected(store.events(DEMO, collection.PROGRAMME_WIDE))
    assert (got["约谈"].source, got["约谈"].by, got["约谈"].login) == ("四川省人社厅监管通报", "赵组织", ORG)


def test_the_application_refuses_first_naming_the_role(server, capsys):
    capsys.readouterr()
    assert main(["collect", "--type", "约谈", "--source", "x", "--db", as_login(server, CENTRE)]) == 3
    assert "钱复核（qian_centre） 无权登记信用记录预采集：需要“第三方评估机构”角色" in capsys.readouterr().err
    assert main(["letter", "13", "1", "--db", as_login(server, ORG)]) == 3
    assert "需要“省职鉴中心复核”角色" in capsys.readouterr().err
    assert main(["letter", "13", "1", "--db", as_login(server, CENTRE)]) == 3  # no such objection
    assert "机构 13 没有编号为 1 的异议" in capsys.readouterr().err
    with Store(server) as store:
        assert not [e for e in store.events(DEMO, 13) if e.kind == "objection_letter"]
