"""The store is never silently reset: empty, foreign and damaged files are refused in one Chinese line and
left as they were; backup and restore round-trip; check-store finds removed rows and forged signatures."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keyed import keyed_signature
from sqlalchemy import delete, text, update

from rubric_kernel.cli import main
from rubric_kernel.judgments import bootstrap
from rubric_kernel.migrations.versions.r0004_people import drop_append_only_sql
from rubric_kernel.sheet_codec import digest
from rubric_kernel.store import (
    SCHEMA_VERSION,
    Store,
    StoreDamaged,
    StoreError,
    StoreExists,
    StoreMissing,
)
from rubric_kernel.store_check import check
from rubric_kernel.tables import events, meta_table, versions
from rubric_kernel.workflow.service import Workflow
from rubric_kernel.workspace import load_workspace


def untriggered(store: Store) -> None:
    """Drop the append-only triggers, as the owner of a SQLite file (or a superuser) can: what
    check-store and the signatures must then still expose."""
    with store.engine.begin() as conn:
        for statement in drop_append_only_sql(conn.dialect.name):
            conn.exec_driver_sql(statement)


DATASET = "demo"


def judged(evidence: str) -> dict:
    return {"ticks": {}, "free": [], "evidence": evidence, "note": ""}


def fill(store: Store, institutions: range = range(1, 6), rounds: int = 3) -> None:
    """Enough versions and events to span many database pages."""
    for n in institutions:
        for r in range(rounds):
            snap = store.snapshot(DATASET, n)
            changes = {f"sc-2023:ind:{k}": judged(f"档案 {n}-{k}-{r} " + "说明" * 40) for k in range(1, 11)}
            store.save(DATASET, n, changes, snap.base, expert="张三", stage="现场评估")
        store.add_event(DATASET, n, "commitment", actor="甲", payload={"date": "2023-05-20"})
        store.add_event(DATASET, n, "group", actor="乙", payload={"experts": ["张三"]})


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "store.sqlite"
    store = Store(str(path))
    fill(store)
    store.close()
    return path


@pytest.fixture
def good(template, tmp_path) -> Path:
    """A private copy of a filled store (the WAL is checkpointed into the file when the store closes)."""
    dest = tmp_path / "store.sqlite"
    shutil.copy(template, dest)
    return dest


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def counts(path: Path) -> tuple[int, int]:
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("rk_versions", "rk_events"))


# ------------------------------------------------------------------------------ files that are not a store
def truncated(path: Path) -> None:
    path.write_bytes(b"")


def foreign(path: Path) -> None:
    path.unlink()
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO accounts VALUES (1, '王五')")
    conn.close()


def random_bytes(path: Path) -> None:
    path.write_bytes(bytes((i * 7919 + 13) % 251 for i in range(50_000)))


def corrupted_middle(path: Path) -> None:
    """Overwrite one whole page in the middle of the file: SQLite's structure there is destroyed."""
    with sqlite3.connect(path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    assert pages > 10, "the store must span enough pages for a middle one"
    with path.open("r+b") as fh:
        fh.seek(page_size * (pages // 2))
        fh.write(b"\xa5" * page_size)


DAMAGE = {
    "truncated": (truncated, "空文件"),
    "foreign": (foreign, "不是 rubric-kernel 评分库"),
    "random": (random_bytes, "不是 SQLite 数据库"),
    "corrupted": (corrupted_middle, "已损坏"),
}


@pytest.mark.parametrize("case", DAMAGE)
@pytest.mark.parametrize("command", [["history", "3"], ["score", "3"], ["check-store"], ["backup"]])
def test_a_file_that_is_not_an_intact_store_is_refused_and_left_unchanged(good, case, command, capsys):
    damage, what = DAMAGE[case]
    damage(good)
    before = fingerprint(good)
    code = main([*command, "--db", str(good)])
    out, err = capsys.readouterr()
    assert code != 0
    message = err if command[0] != "check-store" else out
    assert "store.sqlite" in message and what in message, message
    assert "Traceback" not in out + err and "sqlalchemy" not in (out + err).lower()
    if command[0] != "check-store":
        assert len(err.strip().splitlines()) == 1, err
        assert "rubric-kernel restore" in err
    assert fingerprint(good) == before, "the damaged file is evidence: nothing is written to it"
    assert not (good.parent / "backups").exists() or not any((good.parent / "backups").iterdir())


@pytest.mark.parametrize("case", DAMAGE)
def test_opening_a_damaged_file_raises_a_store_error_never_a_new_store(good, case):
    damage, what = DAMAGE[case]
    damage(good)
    with pytest.raises(StoreDamaged, match=what) as caught:
        Store(str(good))
    assert "store.sqlite" in str(caught.value)


def test_a_missing_file_is_created_complete_and_records_its_initialisation(tmp_path):
    path = tmp_path / "sub" / "new.sqlite"
    store = Store(str(path))
    meta = store.meta()
    store.close()
    assert meta["schema_version"] == str(SCHEMA_VERSION) and meta["initialised_at"]
    assert not list(path.parent.glob(".*.part")), "no temporary file is left behind"


def test_an_emptied_store_is_not_refilled_from_the_dataset(demo_copy, tmp_path, capsys):
    """First use imports the judgments files once; a store that lost its judgments never takes them again."""
    for extra in sorted((demo_copy / "judgments").iterdir())[2:]:
        extra.unlink()
    ws = load_workspace(str(demo_copy))
    path = tmp_path / "s.sqlite"
    store = Store(str(path))
    first = bootstrap(store, ws)
    assert sorted(first.imported) == sorted((demo_copy / "judgments").iterdir()) and not first.pending
    assert "首次使用" in first.notice() and "2 份评分文件" in first.notice()
    untriggered(store)
    with store.engine.begin() as conn:
        conn.execute(delete(versions))
    again = bootstrap(store, ws)
    assert not again.imported and again.pending == first.imported
    assert store.institutions(ws.dataset.name) == set()
    assert "尚未导入评分库" in again.notice()
    assert capsys.readouterr().err == "", "the library says what happened; only the command line prints it"
    store.close()


def test_init_store_creates_only_where_nothing_exists(tmp_path, good, capsys):
    fresh = tmp_path / "fresh.sqlite"
    assert main(["init-store", "--db", str(fresh)]) == 0
    assert "已新建评分库" in capsys.readouterr().out
    assert counts(fresh) == (0, 0)
    for existing in (fresh, good):
        before = fingerprint(existing)
        with pytest.raises(StoreExists):
            Store(str(existing), new=True)
        assert main(["init-store", "--db", str(existing)]) == 3
        assert "已存在" in capsys.readouterr().err
        assert fingerprint(existing) == before
    truncated(good)
    assert main(["init-store", "--db", str(good)]) == 3
    assert good.stat().st_size == 0


def test_maintenance_commands_need_an_existing_store(tmp_path, capsys):
    missing = tmp_path / "missing.sqlite"
    for command in (["check-store"], ["backup"]):
        assert main([*command, "--db", str(missing)]) == 3
        assert "不存在" in capsys.readouterr().err
    assert not missing.exists()
    with pytest.raises(StoreMissing):
        Store(str(missing), new=False)


def test_a_database_error_during_use_is_a_chinese_store_error(good):
    store = Store(str(good))
    with sqlite3.connect(good) as conn:
        conn.execute("DROP TABLE rk_events")
    conn.close()
    with pytest.raises(StoreError, match=r"无法访问评分库 .*store\.sqlite"):
        store.events(DATASET, 3)
    store.close()


def test_a_damaged_row_is_a_chinese_store_error_and_check_store_names_it(good, capsys):
    store = Store(str(good))
    victim = store.history(DATASET, 2)[0]
    untriggered(store)
    with store.engine.begin() as conn:
        conn.execute(update(versions).where(versions.c.id == victim.id).values(content="{broken"))
    with pytest.raises(StoreError, match=f"版本记录 {victim.id} 的内容已损坏"):
        store.history(DATASET, 2)
    store.close()
    assert main(["check-store", "--db", str(good)]) == 1
    assert f"版本记录 {victim.id}（机构 2 {victim.key}）的内容不是有效的 JSON" in capsys.readouterr().out


# ------------------------------------------------------------------------------ backup and restore
def test_backup_modify_restore_round_trip(good, tmp_path, capsys):
    store = Store(str(good))
    before = store.history(DATASET, 4)
    store.close()

    assert main(["backup", "--db", str(good)]) == 0
    out = capsys.readouterr().out
    [backup] = (good.parent / "backups").iterdir()
    assert backup.name.startswith("store-") and backup.name in out and "完整性检查通过" in out
    assert counts(backup) == counts(good)

    store = Store(str(good))
    snap = store.snapshot(DATASET, 4)
    store.save(DATASET, 4, {"sc-2023:ind:1": judged("备份之后的修改")}, snap.base, expert="李四", stage="现场评估")
    store.add_event(DATASET, 4, "commitment", actor="甲", payload={"date": "2023-06-01"})
    modified = counts(good)
    store.close()

    assert main(["restore", str(backup), "--db", str(good)]) == 0
    out = capsys.readouterr().out
    assert "已用备份" in out and "before-restore" in out
    store = Store(str(good))
    assert store.history(DATASET, 4) == before
    store.close()
    [kept] = good.parent.glob("store.sqlite.*.before-restore")
    assert counts(kept) == modified, "the replaced store is kept, with its last changes"
    assert main(["check-store", "--db", str(good)]) == 0


def test_backup_never_overwrites_and_keeps_the_newest_copies(good, tmp_path, capsys):
    named = tmp_path / "named.sqlite"
    assert main(["backup", str(named), "--db", str(good)]) == 0
    before = fingerprint(named)
    assert main(["backup", str(named), "--db", str(good)]) == 3
    assert "已存在" in capsys.readouterr().err
    assert fingerprint(named) == before

    folder = good.parent / "backups"
    folder.mkdir()
    old = [folder / f"store-2023010{d}-120000.sqlite" for d in range(1, 4)]
    for p in old:
        shutil.copy(named, p)
    unrelated = folder / "notes.txt"
    unrelated.write_text("keep me", encoding="utf-8")
    assert main(["backup", "--keep", "2", "--db", str(good)]) == 0
    left = {p.name for p in folder.iterdir()} - {"notes.txt"}
    assert len(left) == 2 and old[2].name in left, "the newest two default backups stay"
    assert unrelated.read_text(encoding="utf-8") == "keep me"
    assert main(["backup", str(tmp_path / "x.sqlite"), "--keep", "2", "--db", str(good)]) == 2


@pytest.mark.parametrize("case", DAMAGE)
def test_restore_refuses_a_file_that_is_not_an_intact_store(good, tmp_path, case, capsys):
    bad = tmp_path / "bad.sqlite"
    shutil.copy(good, bad)
    damage, what = DAMAGE[case]
    damage(bad)
    before = fingerprint(good)
    assert main(["restore", str(bad), "--db", str(good)]) == 3
    err = capsys.readouterr().err
    assert "备份文件 bad.sqlite" in err or ("bad.sqlite" in err and what in err)
    assert fingerprint(good) == before
    assert not list(good.parent.glob("*.before-restore"))


def test_restore_replaces_a_damaged_store_and_keeps_it(good, tmp_path, capsys):
    backup = tmp_path / "b.sqlite"
    assert main(["backup", str(backup), "--db", str(good)]) == 0
    truncated(good)
    assert main(["restore", str(backup), "--db", str(good)]) == 0
    [kept] = good.parent.glob("*.before-restore")
    assert kept.stat().st_size == 0
    assert counts(good) == counts(backup)


# ------------------------------------------------------------------------------ check-store
def test_check_store_passes_a_good_store(good, capsys):
    store = Store(str(good))
    keyed_signature(store, DATASET, 1, "张三", digest(store.snapshot(DATASET, 1).live))
    store.close()
    assert main(["check-store", "--db", str(good)]) == 0
    out = capsys.readouterr().out
    assert "结论：未发现问题" in out and "其中签字 1 个" in out and "问题：" not in out


def test_check_store_finds_a_removed_version(good, capsys):
    store = Store(str(good))
    middle = [v for v in store.history(DATASET, 3, "sc-2023:ind:7") if v.seq == 2]
    untriggered(store)
    with store.engine.begin() as conn:
        conn.execute(delete(versions).where(versions.c.id == middle[0].id))
    store.close()
    assert main(["check-store", "--db", str(good)]) == 1
    out = capsys.readouterr().out
    assert "版本编号不连续：数据集 demo 机构 3 评分表 group 的 sc-2023:ind:7 的版本 缺少 2" in out
    assert "结论：发现 1 处问题" in out


def test_check_store_finds_a_broken_event_sequence(good, capsys):
    store = Store(str(good))
    untriggered(store)
    with store.engine.begin() as conn:
        conn.execute(delete(events).where(events.c.institution == 5, events.c.seq == 1))
        conn.execute(update(events).where(events.c.institution == 2, events.c.seq == 2).values(seq=3))
    store.close()
    assert main(["check-store", "--db", str(good)]) == 1
    out = capsys.readouterr().out
    assert "流程事件编号不连续：数据集 demo 机构 5 的事件 缺少 1" in out
    assert "流程事件编号不连续：数据集 demo 机构 2 的事件 缺少 2" in out


def test_check_store_finds_signatures_that_match_no_state_of_the_sheet(good, capsys):
    store = Store(str(good))
    live = store.snapshot(DATASET, 1).live
    keyed_signature(store, DATASET, 1, "张三", digest(live))
    keyed_signature(store, DATASET, 2, "张三", "0" * 64)
    store.add_event(DATASET, 3, "signature", actor="张三", payload={"expert": "张三"})  # unkeyed, no digest
    victim = store.history(DATASET, 1, "sc-2023:ind:1")[-1]
    untriggered(store)
    with store.engine.begin() as conn:  # the signed content edited afterwards, in place
        conn.execute(update(versions).where(versions.c.id == victim.id).values(content=text("'{}'")))
    store.close()
    assert main(["check-store", "--db", str(good)]) == 1
    faults = [line for line in capsys.readouterr().out.splitlines() if "问题：" in line]
    assert len(faults) == 4, faults
    assert any("签字无效：机构 1" in f for f in faults)
    assert any("签字无效：机构 2" in f for f in faults)
    assert any("签字内容不完整：机构 3" in f and "摘要" in f for f in faults)
    assert any("签名无效：机构 3" in f and "旧式无密钥签字" in f for f in faults)


def test_check_store_reports_a_partial_store(good, capsys):
    with sqlite3.connect(good) as conn:
        conn.execute(f"DELETE FROM {meta_table.name}")
    conn.close()
    assert main(["check-store", "--db", str(good)]) == 1
    assert "缺少 结构版本记录" in capsys.readouterr().out


# ------------------------------------------------------------------------------ PostgreSQL
def test_check_store_and_backup_against_postgresql(postgres_url, capsys):
    store = Store(postgres_url)
    fill(store, range(1, 3), rounds=2)
    victim = next(v for v in store.history(DATASET, 2, "sc-2023:ind:3") if v.seq == 2)
    store.close()
    assert main(["check-store", "--db", postgres_url]) == 0
    assert "结论：未发现问题" in capsys.readouterr().out

    with_password = postgres_url.replace("postgres@", "postgres:s3cret@")
    assert main(["backup", "--db", with_password]) == 0
    out = capsys.readouterr().out
    assert "pg_dump --format=custom" in out and "postgresql://postgres@" in out and "s3cret" not in out
    assert main(["restore", "x.dump", "--db", with_password]) == 0
    out = capsys.readouterr().out
    assert "pg_restore" in out and "s3cret" not in out

    store = Store(postgres_url)
    untriggered(store)  # a superuser can; no person's login can (test_db_enforcement)
    with store.engine.begin() as conn:  # the server enforces the version chain's foreign key: renumber instead
        conn.execute(update(versions).where(versions.c.id == victim.id).values(seq=3))
    store.close()
    assert main(["check-store", "--db", postgres_url]) == 1
    assert "机构 2 评分表 group 的 sc-2023:ind:3 的版本 缺少 2" in capsys.readouterr().out
    assert main(["init-store", "--db", postgres_url]) == 3
    assert "已有评分数据表" in capsys.readouterr().err


def test_check_store_accepts_the_workflows_own_signatures(tmp_path, capsys, monkeypatch):
    """Signatures made by the workflow verify against the sheet's history, also once the sheet moved on."""
    ws = load_workspace()
    path = tmp_path / "walk.sqlite"
    store = Store(str(path))
    bootstrap(store, ws)
    wf = Workflow(ws, store)
    monkeypatch.setenv("RUBRIC_KERNEL_ACTOR", "demo_organiser")
    wf.move(13, "现场评估")
    wf.set_group(13, ["demo_expert_13", "demo_expert_14"])
    for expert in ("demo_expert_13", "demo_expert_14"):
        monkeypatch.setenv("RUBRIC_KERNEL_ACTOR", expert)
        wf.sign(13)
    snap = store.snapshot(ws.dataset.name, 13)
    key = next(iter(snap.live))
    store.save(ws.dataset.name, 13, {key: None}, snap.base, expert="蔡国（演示专家）", stage="现场评估", reason="撤回")
    store.close()
    capsys.readouterr()
    assert main(["check-store", "--db", str(path)]) == 0
    assert "其中签字 2 个" in capsys.readouterr().out

    with sqlite3.connect(path) as conn:  # the signed judgment rewritten in place, by the file's owner
        for statement in drop_append_only_sql("sqlite"):
            conn.execute(statement)
        conn.execute(
            "UPDATE rk_versions SET content = '{}' WHERE id = (SELECT max(id) FROM rk_versions "
            "WHERE institution = 13 AND content IS NOT NULL)"
        )
    conn.close()
    assert main(["check-store", "--db", str(path)]) == 1
    assert capsys.readouterr().out.count("签字无效：机构 13") == 2


@settings(max_examples=25, deadline=None)
@given(
    rounds=st.lists(st.sets(st.integers(1, 4), min_size=1), min_size=2, max_size=5),
    events_per_inst=st.integers(2, 5),
    pick=st.integers(0, 10_000),
)
def test_removing_any_row_but_the_newest_of_its_sequence_is_found(rounds, events_per_inst, pick):
    """Whatever the history, a removed version or event that a later one follows breaks a sequence."""
    with tempfile.TemporaryDirectory() as folder:
        store = Store(str(Path(folder) / "p.sqlite"))
        for r, keys in enumerate(rounds):
            snap = store.snapshot(DATASET, 7)
            store.save(
                DATASET, 7, {f"sc-2023:ind:{k}": judged(f"{r}") for k in keys}, snap.base, expert="甲", stage="现场评估"
            )
        for i in range(events_per_inst):
            store.add_event(DATASET, 7, "commitment", actor="甲", payload={"date": f"2023-05-{i + 1:02d}"})
        assert check(store).faults == []
        history = store.history(DATASET, 7)
        newest = {}
        for v in history:
            newest[v.key] = max(newest.get(v.key, 0), v.seq)
        candidates = [("version", v.id, v.key) for v in history if v.seq < newest[v.key]]
        candidates += [("event", e.id, str(e.seq)) for e in store.events(DATASET, 7)[:-1]]
        kind, row_id, label = candidates[pick % len(candidates)]
        table = versions if kind == "version" else events
        untriggered(store)
        with store.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.id == row_id))
        faults = check(store).faults
        store.close()
    expected = f"的 {label} 的版本 缺少" if kind == "version" else f"机构 7 的事件 缺少 {label}"
    assert any(expected in f for f in faults), (kind, label, faults)


def test_a_store_that_cannot_be_created_is_a_chinese_store_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(StoreError, match=r"无法新建评分库 .*not-a-folder"):
        Store(str(blocker / "s.sqlite"))
    assert blocker.read_text(encoding="utf-8") == "x"


def test_a_store_locked_for_too_long_is_a_chinese_store_error(good):
    store = Store(str(good))
    blocker = sqlite3.connect(good, isolation_level=None)
    try:
        with store._writer.connect() as conn:
            conn.connection.driver_connection.execute("PRAGMA busy_timeout=0")  # give up at once, not after 30 s
            blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
            with pytest.raises(StoreError, match="正被其他程序长时间占用"), conn.begin():
                pass
    finally:
        blocker.rollback()
        blocker.close()
        store.close()
