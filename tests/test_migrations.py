"""Schema changes through Alembic: a store of today's released schema, with data in it, is upgraded
on SQLite and on a real PostgreSQL server, and its judgments and events read the same afterwards."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from rubric_kernel import migrate, people
from rubric_kernel.cli import main
from rubric_kernel.errors import InputError
from rubric_kernel.judgments_file import read_judgments
from rubric_kernel.records import RubricRef
from rubric_kernel.rubric import parse_rubric
from rubric_kernel.sheet_codec import canonical, sheet_to_entries
from rubric_kernel.store import SCHEMA_VERSION, Store, StoreError, StoreOutdated, metadata
from rubric_kernel.workspace import DEMO_DATA, load_workspace

DATASET = "demo"
INSTITUTIONS = (13, 14)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path, monkeypatch) -> str:
    monkeypatch.delenv("RUBRIC_KERNEL_DB", raising=False)
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="module")
def ws():
    return load_workspace()


def demo_sheet(n: int):
    return read_judgments(DEMO_DATA / "judgments" / f"{n}.yaml").to_sheet()


def old_entries(ws) -> dict[int, dict[str, dict]]:
    """The demo files' sheets as schema-1 code stored them (its key spelling)."""
    out = {}
    for n in INSTITUTIONS:
        out[n] = sheet_to_entries(demo_sheet(n))
    return out


def make_schema1_store(url: str, entries: dict[int, dict[str, dict]]) -> None:
    """A store exactly as the released schema-1 code left it: no alembic_version table, old rows."""
    v = sa.table(
        "rk_versions",
        *(sa.column(c) for c in ("dataset", "institution", "sheet", "key", "seq", "stage", "expert")),
        *(sa.column(c) for c in ("created_at", "content", "reason")),
    )
    e = sa.table(
        "rk_events",
        *(sa.column(c) for c in ("dataset", "institution", "seq", "kind", "actor", "created_at")),
        sa.column("payload"),
        sa.column("note"),
    )
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        migrate.upgrade(conn, migrate.FIRST)
        conn.execute(sa.text("DROP TABLE alembic_version"))
        for n, sheet in entries.items():
            rows = [
                dict(
                    dataset=DATASET,
                    institution=n,
                    sheet="group",
                    key=k,
                    seq=1,
                    stage="现场评估",
                    expert="李明",
                    created_at="2023-06-01T08:00:00+00:00",
                    content=canonical(c),
                    reason="旧版导入",
                )
                for k, c in sheet.items()
            ]
            conn.execute(sa.insert(v), rows)
            conn.execute(
                sa.insert(e),
                [
                    dict(
                        dataset=DATASET,
                        institution=n,
                        seq=1,
                        kind="transition",
                        actor="省职鉴中心",
                        created_at="2023-06-02T08:00:00+00:00",
                        payload='{"to":"初评"}',
                        note="",
                    )
                ],
            )
    engine.dispose()


def test_a_new_store_is_its_migrations_and_matches_the_store_tables(url):
    """The revisions and the store's table definitions cannot drift apart: autogenerate finds no difference."""
    Store(url).close()
    everything = sa.MetaData()
    for table in (*metadata.sorted_tables, *people.metadata.sorted_tables):  # the registry is the people module's
        table.to_metadata(everything)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), everything)
        revision = migrate.current(conn)
    engine.dispose()
    assert diff == []
    assert revision == migrate.head()


def test_a_schema1_store_is_refused_until_upgraded_then_reads_the_same(url, ws, capsys):
    entries = old_entries(ws)
    make_schema1_store(url, entries)
    with pytest.raises(StoreOutdated, match="rubric-kernel upgrade-store"):
        Store(url)
    assert main(["upgrade-store", "--db", url]) == 0
    out = capsys.readouterr().out
    assert f"从 {migrate.FIRST} 升级到 {migrate.head()}" in out
    assert ("升级前已备份" in out) == url.startswith("sqlite")
    store = Store(url)
    try:
        assert store.meta()["schema_version"] == str(SCHEMA_VERSION)
        for n, stored in entries.items():
            snap = store.snapshot(DATASET, n)
            assert snap.live == stored
            assert snap.sheet() == demo_sheet(n)
            assert all(v.rubric is None for v in snap.entries.values()), "an old row's rubric is unknown, not guessed"
            assert [(e.kind, e.payload, e.rubric) for e in store.events(DATASET, n)] == [
                ("transition", {"to": "初评"}, None)
            ]
    finally:
        store.close()
    assert main(["upgrade-store", "--db", url]) == 0
    assert "已是最新结构" in capsys.readouterr().out


def test_new_versions_and_events_record_their_rubric(url):
    ref = RubricRef("sc-2023", "a" * 64)
    store = Store(url)
    try:
        written = store.save(
            DATASET,
            13,
            {"bonus:party": {"evidence": "党支部活动记录"}},
            {},
            expert="张三",
            stage="现场评估",
            rubric=ref,
        )
        event = store.add_event(DATASET, 13, "transition", actor="甲", payload={"to": "初评"}, rubric=ref)
        assert written[0].rubric == ref and event.rubric == ref
        assert store.snapshot(DATASET, 13).entries["bonus:party"].rubric == ref
        assert store.events(DATASET, 13)[0].rubric == ref
    finally:
        store.close()


def test_a_store_of_an_unknown_newer_revision_is_refused(url):
    Store(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'r9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="不是本程序所知的版本"):
        Store(url)


def test_the_workspace_records_its_rubric_with_imports_and_workflow_steps(url, ws, monkeypatch):
    from rubric_kernel.judgments import import_judgments
    from rubric_kernel.workflow.service import Workflow

    assert ws.rubric_ref.id == ws.rubric.meta.id == "sc-2023"
    store = Store(url)
    try:
        import_judgments(store, ws, [DEMO_DATA / "judgments" / "13.yaml"])
        people.bootstrap_demo(store, DATASET, DEMO_DATA, synthetic=True)
        monkeypatch.setenv("RUBRIC_KERNEL_ACTOR", "demo_organiser")  # SQLite; on PostgreSQL the login (superuser)
        if store.engine.dialect.name == "postgresql":  # acts: register it as the organiser
            people.add(store, DATASET, "postgres", "数据库管理员", ["organiser"], by="test")
        Workflow(ws, store).move(13, "现场评估")
        assert {v.rubric for v in store.snapshot(DATASET, 13).entries.values()} == {ws.rubric_ref}
        assert [e.rubric for e in store.events(DATASET, 13)] == [ws.rubric_ref]
    finally:
        store.close()


def _first_indicator(data: dict) -> dict:
    return data["levels"][0]["groups"][0]["indicators"][0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: _first_indicator(d).update(urn="sc-2024:ind:1"), "指标 1 的 urn “sc-2024:ind:1” 格式不对"),
        (lambda d: _first_indicator(d).update(urn="sc-2023:item:1"), "应为 sc-2023:ind:编号"),
        (lambda d: _first_indicator(d).update(urn="sc-2023:ind:"), "格式不对"),
        (lambda d: _first_indicator(d)["items"][1].update(urn="sc-2023:item:1a"), "与 指标 1 细则 1a 重复"),
        (lambda d: d["bonus"]["items"][1].update(urn="sc-2023:bonus:party"), "加分项 qms 的 urn"),
        (
            lambda d: d["veto"][1].update(urn="sc-2023:veto:1(2)"),
            "否定项第 2 条 的 urn “sc-2023:veto:1(2)” 与 否定项 1(2) 重复",
        ),
    ],
)
def test_stable_ids_are_checked_on_load(rubric_dict, change, expected):
    change(rubric_dict)
    with pytest.raises(InputError) as exc:
        parse_rubric(rubric_dict)
    assert any(expected in f.message for f in exc.value.faults), [f.message for f in exc.value.faults]


def test_every_rubric_element_has_a_distinct_stable_id(rubric):
    urns = [u for u, _kind, _what in rubric.urns]
    expected = len(rubric.indicators) + sum(len(i.items) for i in rubric.indicators.values())
    expected += len(rubric.bonus.items) + len(rubric.veto) + sum(len(g.items) for g in rubric.veto)
    assert len(urns) == len(set(urns)) == expected
    assert rubric.indicators[12].urn == "sc-2023:ind:12"
    assert rubric.bonus_items["party"].urn == "sc-2023:bonus:party"
