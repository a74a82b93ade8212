"""Schema changes through Alembic: a store of today's released schema, with data in it, is upgraded
on SQLite and on a real PostgreSQL server, and its judgments and events read the same afterwards."""

from __future__ import annotations

import subprocess
import sys

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
from rubric_kernel.sheet_codec import canonical, digest, sheet_to_entries
from rubric_kernel.store import SCHEMA_VERSION, Store, StoreError, StoreOutdated
from rubric_kernel.tables import metadata, people_metadata
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
    return read_judgments(DEMO_DATA / "judgments" / f"{n}.yaml").sheet


def positional(entries: dict[str, dict], rubric) -> dict[str, dict]:
    """Entries in the key spelling of the code before r0003: positions and the rubric's local ids."""
    local = {urn: ident for urn, (_kind, ident) in rubric.by_urn.items()}
    out = {}
    for key, content in entries.items():
        if key.startswith("dismiss:"):
            out[key] = content
        elif key.startswith("adjust:"):
            out[f"adjust:{local[key.removeprefix('adjust:')]}"] = content
        else:
            kind = {"ind": "indicator", "bonus": "bonus", "veto": "veto"}[key.split(":")[1]]
            if kind == "indicator":
                content = {**content, "ticks": {local[u][1]: c for u, c in content["ticks"].items()}}
            out[f"{kind}:{local[key]}"] = content
    return out


def old_entries(ws) -> dict[int, dict[str, dict]]:
    """The demo files' sheets as schema-1 code stored them (its key spelling)."""
    return {n: positional(sheet_to_entries(demo_sheet(n), ws.rubric), ws.rubric) for n in INSTITUTIONS}


def make_schema1_store(url: str, entries: dict[int, dict[str, dict]], signatures: tuple = ()) -> None:
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
        for seq, (n, expert, signed) in enumerate(signatures, start=2):
            payload = canonical({"expert": expert, "digest": signed})
            conn.execute(
                sa.insert(e),
                [
                    dict(
                        dataset=DATASET,
                        institution=n,
                        seq=seq,
                        kind="signature",
                        actor=expert,
                        created_at="2023-06-03T08:00:00+00:00",
                        payload=payload,
                        note="",
                    )
                ],
            )
    engine.dispose()


def test_a_new_store_is_its_migrations_and_matches_the_store_tables(url):
    """The revisions and the store's table definitions cannot drift apart: autogenerate finds no difference."""
    Store(url).close()
    everything = sa.MetaData()
    for table in (*metadata.sorted_tables, *people_metadata.sorted_tables):  # the registry has its own
        table.to_metadata(everything)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), everything)
        revision = migrate.current(conn)
    engine.dispose()
    assert diff == []
    assert revision == migrate.head()


def test_head_is_the_newest_revision_file():
    """``HEAD`` saves every store opening a scan of the revision files: it must name the newest one."""
    from alembic.script import ScriptDirectory

    from rubric_kernel.migrate import HEAD, _config

    assert ScriptDirectory.from_config(_config(None)).get_current_head() == HEAD


def test_opening_a_current_store_does_not_load_alembic(tmp_path):
    """A batch kernel and every command open the store: Alembic is loaded only to upgrade."""
    db = tmp_path / "s.sqlite"
    Store(f"sqlite:///{db}").close()
    code = (
        "import sys\nfrom rubric_kernel.store import Store\n"
        f"Store({f'sqlite:///{db}'!r}).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


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
            assert positional(snap.live, ws.rubric) == stored
            assert all(k.startswith(("sc-2023:", "dismiss:", "adjust:sc-2023:")) for k in snap.live)
            assert snap.sheet(ws.rubric) == demo_sheet(n)
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
            {"sc-2023:bonus:party": {"evidence": "党支部活动记录"}},
            {},
            expert="张三",
            stage="现场评估",
            rubric=ref,
        )
        event = store.add_event(DATASET, 13, "transition", actor="甲", payload={"to": "初评"}, rubric=ref)
        assert written[0].rubric == ref and event.rubric == ref
        assert store.snapshot(DATASET, 13).entries["sc-2023:bonus:party"].rubric == ref
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


def test_upgrading_keys_keeps_signatures_verifiable_and_can_be_undone(url, ws, capsys):
    from rubric_kernel.workflow.service import Workflow
    from rubric_kernel.workflow.state import derive

    entries = old_entries(ws)
    forged = "f" * 64
    make_schema1_store(url, entries, signatures=((13, "李明", digest(entries[13])), (14, "王芳", forged)))
    assert main(["upgrade-store", "--db", url]) == 0
    capsys.readouterr()
    store = Store(url)
    try:
        flow = Workflow(ws, store)
        (signed,) = [e for e in store.events(DATASET, 13) if e.kind == "signature"]
        assert signed.payload["digest"] == flow.sheet_digest(13) != digest(entries[13])
        assert signed.payload["digest_r0002"] == digest(entries[13]), "the digest it was signed with is kept"
        assert derive(store.events(DATASET, 13)).valid_signatures(flow.sheet_digest(13)) == ["李明"]
        (bogus,) = [e for e in store.events(DATASET, 14) if e.kind == "signature"]
        assert bogus.payload == {"expert": "王芳", "digest": forged}, "a signature of no real state is not laundered"
    finally:
        store.close()
    assert main(["check-store", "--db", url]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    no_state = [line for line in lines if "的签字" in line and "未用登记的密钥签名" not in line]
    assert any("机构 14 的签字" in line for line in no_state), out
    assert not any("机构 13 的签字" in line for line in no_state), "13's signature matches a real state"
    assert any("机构 13 的签字" in line and "未用登记的密钥签名" in line for line in lines), "but it is unkeyed"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # and back: the positions and the original digests return
        migrate.downgrade(conn, "r0002", rubric=ws.rubric)
    with engine.connect() as conn:
        keys = {r[0] for r in conn.execute(sa.text("SELECT key FROM rk_versions WHERE institution = 13"))}
        payloads = [r[0] for r in conn.execute(sa.text("SELECT payload FROM rk_events WHERE kind = 'signature'"))]
    engine.dispose()
    assert keys == set(entries[13])
    assert sorted(payloads) == sorted(
        canonical(p) for p in ({"expert": "李明", "digest": digest(entries[13])}, {"expert": "王芳", "digest": forged})
    )


def test_an_upgrade_the_rubric_cannot_map_is_refused_whole(url, ws, rubric_dict, tmp_path, capsys):
    import yaml

    make_schema1_store(url, old_entries(ws))
    rubric_dict["bonus"]["items"] = [b for b in rubric_dict["bonus"]["items"] if b["id"] != "party"]
    smaller = tmp_path / "rubric.yaml"
    smaller.write_text(yaml.safe_dump(rubric_dict, allow_unicode=True), encoding="utf-8")
    assert "bonus:party" in old_entries(ws)[13], "the demo sheet claims the bonus item the rubric drops"
    assert main(["upgrade-store", "--db", url, "--rubric", str(smaller)]) != 0
    err = capsys.readouterr().err
    assert "找不到" in err and "bonus:party" in err and "Traceback" not in err
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert migrate.current(conn) == migrate.FIRST, "the upgrade ran in one transaction, and rolled back"
        keys = {r[0] for r in conn.execute(sa.text("SELECT key FROM rk_versions"))}
    engine.dispose()
    assert keys == {k for e in old_entries(ws).values() for k in e}, "nothing was rewritten"
    with pytest.raises(StoreOutdated):
        Store(url)
