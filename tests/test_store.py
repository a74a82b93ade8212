"""The judgment store: versions, derivation, optimistic concurrency across processes, import/export."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook
from sqlalchemy import update

from rubric_kernel.cli import main
from rubric_kernel.errors import InputError
from rubric_kernel.judgments import current_sheet, expand, import_judgments
from rubric_kernel.judgments_file import read_judgments
from rubric_kernel.rubric import load_rubric
from rubric_kernel.store import SCHEMA_VERSION, StaleSave, Store, StoreError, resolve_url
from rubric_kernel.tables import meta_table
from rubric_kernel.workspace import DEMO_DATA, RUBRIC_PATH, load_workspace

DATASET = "demo"
KEY = "sc-2023:ind:1"
RUBRIC = load_rubric(RUBRIC_PATH)


def judged(evidence: str = "", *, free: list[dict] | None = None, ticks: dict | None = None) -> dict:
    return {"ticks": ticks or {}, "free": free or [], "evidence": evidence, "note": ""}


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    path = tmp_path / "s.sqlite"
    monkeypatch.setenv("RUBRIC_KERNEL_DB", str(path))
    return str(path)


@pytest.fixture
def sqlite_store(db):
    s = Store(f"sqlite:///{db}")
    yield s
    s.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, db):
    """Every store behaviour below holds for the default SQLite file and for a PostgreSQL server."""
    url = f"sqlite:///{db}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    s = Store(url)
    yield s
    s.close()


@pytest.fixture(scope="module")
def ws():
    return load_workspace()


# ------------------------------------------------------------------------------ versions and derivation
def test_every_save_is_a_new_version_and_the_sheet_is_derived(store):
    first = store.save(DATASET, 13, {KEY: judged("档案 A")}, {}, expert="张三", stage="现场评估", reason="初评")
    assert [(v.key, v.seq, v.replaces, v.expert) for v in first] == [(KEY, 1, None, "张三")]

    snap = store.snapshot(DATASET, 13)
    assert snap.base == {KEY: 1}
    assert snap.live == {KEY: judged("档案 A")}
    assert snap.sheet(RUBRIC).indicators[1].evidence == "档案 A"

    second = store.save(
        DATASET,
        13,
        {KEY: judged("档案 B", free=[{"points": 2.0, "reason": "台账缺失"}]), "sc-2023:ind:2": judged()},
        snap.base,
        expert="李四",
        stage="现场评估",
    )
    by_key = {v.key: v for v in second}
    assert by_key[KEY].seq == 2
    assert by_key[KEY].replaces == first[0].id, "a new version points to the one it replaces"
    assert by_key["sc-2023:ind:2"].seq == 1 and by_key["sc-2023:ind:2"].replaces is None

    snap = store.snapshot(DATASET, 13)
    assert snap.base == {KEY: 2, "sc-2023:ind:2": 1}
    sheet = snap.sheet(RUBRIC)
    assert sheet.indicators[1].evidence == "档案 B"
    assert [(f.points, f.reason) for f in sheet.indicators[1].free] == [(2.0, "台账缺失")]
    assert set(sheet.indicators) == {1, 2}
    # other institutions are untouched
    assert store.snapshot(DATASET, 14).entries == {}

    history = store.history(DATASET, 13, KEY)
    assert [v.seq for v in history] == [1, 2]
    assert history[0].content == judged("档案 A"), "old versions are kept as they were"


def test_withdrawing_a_key_removes_it_from_the_sheet_but_keeps_history(store):
    store.save(DATASET, 13, {KEY: judged("x"), "sc-2023:ind:2": judged("y")}, {}, expert="张三", stage="现场评估")
    snap = store.snapshot(DATASET, 13)
    (withdrawn,) = store.save(DATASET, 13, {KEY: None}, snap.base, expert="张三", stage="现场评估", reason="误录")
    assert withdrawn.content is None and withdrawn.seq == 2

    snap = store.snapshot(DATASET, 13)
    assert KEY not in snap.live
    assert set(snap.sheet(RUBRIC).indicators) == {2}
    assert snap.base[KEY] == 2, "the withdrawal is itself the current version"
    history = store.history(DATASET, 13, KEY)
    assert [(v.seq, v.content) for v in history] == [(1, judged("x")), (2, None)]
    assert history[1].reason == "误录"


def test_saving_identical_content_writes_nothing(store):
    store.save(DATASET, 13, {KEY: judged("x")}, {}, expert="张三", stage="现场评估")
    token = store.state_token(DATASET)
    snap = store.snapshot(DATASET, 13)
    # same content, keys in another order: still identical
    same = {"note": "", "evidence": "x", "free": [], "ticks": {}}
    assert store.save(DATASET, 13, {KEY: same}, snap.base, expert="李四", stage="现场评估") == []
    assert store.state_token(DATASET) == token
    assert len(store.history(DATASET, 13, KEY)) == 1
    # withdrawing what is not there writes nothing either
    assert store.save(DATASET, 13, {"sc-2023:ind:9": None}, snap.base, expert="李四", stage="现场评估") == []
    assert store.state_token(DATASET) == token


def test_state_token_changes_with_every_save(store):
    t0 = store.state_token(DATASET)
    assert t0 == (0, 0)
    store.save(DATASET, 1, {KEY: judged("a")}, {}, expert="张三", stage="现场评估")
    t1 = store.state_token(DATASET)
    store.save(DATASET, 2, {KEY: judged("a")}, {}, expert="张三", stage="现场评估")
    t2 = store.state_token(DATASET)
    assert t0 != t1 != t2 and t2[0] == 2


def test_stale_save_is_refused_and_names_who_saved_in_between(store):
    store.save(DATASET, 13, {KEY: judged("v1")}, {}, expert="张三", stage="现场评估")
    seen_by_li = store.snapshot(DATASET, 13)
    seen_by_wang = store.snapshot(DATASET, 13)
    store.save(DATASET, 13, {KEY: judged("v2")}, seen_by_wang.base, expert="王五", stage="现场评估", reason="补充")
    token = store.state_token(DATASET)

    with pytest.raises(StaleSave) as info:
        store.save(DATASET, 13, {KEY: judged("v3")}, seen_by_li.base, expert="李四", stage="现场评估")
    assert "王五" in str(info.value)
    assert [(v.expert, v.seq) for v in info.value.conflicts] == [("王五", 2)]
    assert store.state_token(DATASET) == token, "nothing of a refused save is written"
    assert store.snapshot(DATASET, 13).live[KEY] == judged("v2")

    # a new key that someone else created in between is stale too (base says: absent)
    store.save(
        DATASET, 13, {"sc-2023:ind:3": judged("w")}, store.snapshot(DATASET, 13).base, expert="王五", stage="初评"
    )
    with pytest.raises(StaleSave, match="王五"):
        store.save(DATASET, 13, {"sc-2023:ind:3": judged("l")}, seen_by_li.base | {KEY: 2}, expert="李四", stage="初评")


def test_save_without_expert_is_refused(store):
    with pytest.raises(StoreError):
        store.save(DATASET, 13, {KEY: judged()}, {}, expert="  ", stage="现场评估")
    assert store.state_token(DATASET) == (0, 0)


SAVER = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path

    from rubric_kernel.store import StaleSave, Store

    url, name, n, gate = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    store = Store(url)
    (gate / f"ready-{name}").touch()
    deadline = time.monotonic() + 60
    while not (gate / "go").exists() and time.monotonic() < deadline:  # both start together
        time.sleep(0.005)
    ok = conflicts = 0
    while ok < n:
        snap = store.snapshot("demo", 13)
        content = {"ticks": {}, "free": [], "evidence": f"{name}-{ok}", "note": ""}
        try:
            written = store.save("demo", 13, {"sc-2023:ind:1": content}, snap.base, expert=name, stage="现场评估")
        except StaleSave:
            conflicts += 1
            continue
        assert len(written) == 1, written
        ok += 1
    store.close()
    print(ok, conflicts)
    """
)


def test_two_processes_saving_the_same_key_lose_nothing(store, tmp_path):
    per_process = 200
    names = ("甲", "乙")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SAVER, store.url, name, str(per_process), str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        for name in names
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{n}").exists() for n in names) and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        (tmp_path / "go").touch()
        counts, conflicts = {}, {}
        for name, p in zip(names, procs, strict=True):
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            counts[name], conflicts[name] = map(int, out.split())
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert counts == {name: per_process for name in names}, "each process's saves all succeeded in the end"

    history = store.history(DATASET, 13, KEY)
    assert len(history) == 2 * per_process
    assert sorted(v.seq for v in history) == list(range(1, 2 * per_process + 1))
    assert {name: sum(v.expert == name for v in history) for name in names} == counts
    # every version replaces exactly its predecessor: one unbroken chain
    by_seq = {v.seq: v for v in history}
    assert all(by_seq[s].replaces == by_seq[s - 1].id for s in range(2, 2 * per_process + 1))
    # every save's content is there: nothing was overwritten
    assert {v.content["evidence"] for v in history} == {f"{n}-{i}" for n in names for i in range(per_process)}
    # the two really ran at the same time (otherwise this proves nothing about concurrency)
    switches = sum(a.expert != b.expert for a, b in itertools.pairwise(history))
    assert switches > 1 or sum(conflicts.values()) > 0, (switches, conflicts)


# ------------------------------------------------------------------------------ import / export
JUDGMENTS_13 = DEMO_DATA / "judgments" / "13.yaml"


def test_import_round_trip_and_reimport_writes_nothing(store, ws):
    written = import_judgments(store, ws, [JUDGMENTS_13])
    assert set(written) == {13} and written[13]
    assert current_sheet(store, ws, 13) == read_judgments(JUDGMENTS_13).sheet
    assert {v.stage for v in written[13]} == {"现场评估"}
    assert store.institutions(DATASET) == {13}

    token = store.state_token(DATASET)
    again = import_judgments(store, ws, [JUDGMENTS_13])
    assert again == {13: []}
    assert store.state_token(DATASET) == token


def test_import_withdraws_keys_missing_from_the_file(store, ws, tmp_path):
    import_judgments(store, ws, [JUDGMENTS_13])
    data = yaml.safe_load(JUDGMENTS_13.read_text(encoding="utf-8"))
    dropped = next(iter(data["indicators"]))
    del data["indicators"][dropped]
    path = tmp_path / "13.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    (version,) = import_judgments(store, ws, [path])[13]
    assert version.key == f"sc-2023:ind:{int(dropped)}" and version.content is None
    assert current_sheet(store, ws, 13) == read_judgments(path).sheet


def test_export_sheet_writes_an_xlsx(db, tmp_path):
    out = tmp_path / "13-评分表.xlsx"
    assert main(["export-sheet", "13", "--db", db, "--out", str(out)]) == 0
    wb = load_workbook(out)
    text = "\n".join(
        str(c) for sheet in wb.worksheets for row in sheet.iter_rows(values_only=True) for c in row if c is not None
    )
    assert "四川旅游学院" in text
    assert "评分表" in text or any("评分表" in s.title for s in wb.worksheets)
    assert not list(tmp_path.glob(".*.part"))


def _bad_file(tmp_path: Path, name: str, mutate) -> Path:
    data = yaml.safe_load(JUDGMENTS_13.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _unknown_item(data: dict) -> None:
    data["indicators"]["1"] = {"ticks": {"1zz": 1}}


def _free_without_reason(data: dict) -> None:
    data["indicators"]["1"] = {"free": [{"points": 2, "reason": ""}]}


def _free_reason_missing(data: dict) -> None:
    data["indicators"]["1"] = {"free": [{"points": 2}]}


@pytest.mark.parametrize("mutate", [_unknown_item, _free_without_reason, _free_reason_missing])
def test_bad_file_is_refused_and_nothing_is_written(store, ws, tmp_path, mutate):
    import_judgments(store, ws, [DEMO_DATA / "judgments" / "14.yaml"])
    token = store.state_token(DATASET)
    bad = _bad_file(tmp_path, "13.yaml", mutate)
    with pytest.raises(InputError) as info:
        import_judgments(store, ws, [bad])
    assert info.value.faults
    assert any(f.indicator == 1 or "indicators.1" in f.message for f in info.value.faults), info.value
    assert store.state_token(DATASET) == token
    assert store.snapshot(DATASET, 13).entries == {}


def test_folder_with_one_bad_file_imports_none(sqlite_store, ws, tmp_path, db, capsys, monkeypatch):
    monkeypatch.setenv("RUBRIC_KERNEL_ACTOR", "demo_organiser")  # a registered person who may import
    folder = tmp_path / "incoming"
    folder.mkdir()
    shutil.copy(DEMO_DATA / "judgments" / "14.yaml", folder / "14.yaml")
    _bad_file(folder, "13.yaml", _unknown_item)
    token = sqlite_store.state_token(DATASET)

    with pytest.raises(InputError):
        import_judgments(sqlite_store, ws, expand([folder]))
    assert sqlite_store.state_token(DATASET) == token == (0, 0)

    # the command says so and writes nothing either
    assert main(["import-judgments", str(folder), "--db", db]) == 2
    assert "1zz" in capsys.readouterr().err
    assert sqlite_store.state_token(DATASET) == token


def test_newer_schema_is_refused(sqlite_store, db):
    with sqlite_store.engine.begin() as conn:
        conn.execute(
            update(meta_table).where(meta_table.c.key == "schema_version").values(value=str(SCHEMA_VERSION + 1))
        )
    sqlite_store.close()
    with pytest.raises(StoreError, match=str(SCHEMA_VERSION + 1)):
        Store(f"sqlite:///{db}")


def test_resolve_url(db, tmp_path, monkeypatch):
    assert resolve_url() == f"sqlite:///{Path(db).resolve()}", "RUBRIC_KERNEL_DB is used when --db is absent"
    assert resolve_url(str(tmp_path / "x.sqlite")) == f"sqlite:///{(tmp_path / 'x.sqlite').resolve()}"
    assert resolve_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db", "the installed driver"
    assert resolve_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_a_workflow_step_based_on_a_stale_state_is_refused(tmp_path):
    """Events are numbered per institution: a step decided on an outdated state writes nothing."""
    store = Store(f"sqlite:///{tmp_path / 'events.sqlite'}")
    first = store.add_event("demo", 13, "commitment", actor="甲", payload={"date": "2023-05-20"})
    store.add_event("demo", 13, "group", actor="乙", payload={"experts": ["张三"]}, after=first.seq)
    with pytest.raises(StoreError, match="已被他人更新"):
        store.add_event("demo", 13, "group", actor="丙", payload={"experts": ["李四"]}, after=first.seq)
    assert [e.actor for e in store.events("demo", 13)] == ["甲", "乙"]
    assert [e.seq for e in store.events("demo", 13)] == [1, 2]
    store.close()


def test_the_command_line_works_against_postgresql(postgres_url, capsys):
    """A shared server is just another --db: first use loads the demo judgments there, scoring reads them."""
    assert main(["score", "13", "--json", "--db", postgres_url]) == 0
    out = capsys.readouterr()
    assert "首次使用" in out.err
    assert '"name": "四川旅游学院"' in out.out
    assert main(["history", "13", "--key", "sc-2023:ind:1", "--db", postgres_url]) == 0
    assert "导入评分文件 13.yaml" in capsys.readouterr().out


# ------------------------------------------------------------------------------ imports and the workflow
def test_reimport_withdraws_an_experts_raised_veto_but_keeps_the_centres_decisions(sqlite_store, ws, tmp_path):
    """A file owns the experts' judgments and raised vetoes, never the centre's confirmations or adjustments."""
    source = read_judgments(DEMO_DATA / "judgments" / "44.yaml")
    assert source.sheet.veto["1(2)"].status == "raised"
    import_judgments(sqlite_store, ws, [DEMO_DATA / "judgments" / "44.yaml"])
    snap = sqlite_store.snapshot(DATASET, 44)
    sqlite_store.save(
        DATASET,
        44,
        {"adjust:sc-2023:ind:1": {"score": 10, "reason": "复核", "by": "省职鉴中心"}},
        snap.base,
        expert="省职鉴中心",
        stage="复核",
        reason="复核调整",
    )
    without_veto = yaml.safe_load((DEMO_DATA / "judgments" / "44.yaml").read_text(encoding="utf-8"))
    without_veto.pop("veto")
    (tmp_path / "44.yaml").write_text(yaml.safe_dump(without_veto, allow_unicode=True), encoding="utf-8")
    import_judgments(sqlite_store, ws, [tmp_path / "44.yaml"])
    live = sqlite_store.snapshot(DATASET, 44).live
    assert "sc-2023:veto:1(2)" not in live, "the expert withdrew the veto they had raised"
    assert live["adjust:sc-2023:ind:1"]["by"] == "省职鉴中心", "the centre's adjustment is not the file's to withdraw"


def test_an_import_never_overwrites_a_signed_sheet(sqlite_store, ws):
    import_judgments(sqlite_store, ws, [DEMO_DATA / "judgments" / "13.yaml"])
    sqlite_store.add_event(DATASET, 13, "transition", actor="省职鉴中心", payload={"from": "现场评估", "to": "初评"})
    token = sqlite_store.state_token(DATASET)
    with pytest.raises(InputError, match="已签字"):
        import_judgments(sqlite_store, ws, [DEMO_DATA / "judgments" / "13.yaml"])
    assert sqlite_store.state_token(DATASET) == token
