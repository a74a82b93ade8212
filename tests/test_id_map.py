"""Stable ids that change: a rubric that no longer covers the stored judgments is refused with the
orphans listed, and ``remap-ids`` moves them to the new ids by appending versions, or refuses whole."""

from __future__ import annotations

import os

import pytest
import yaml

from rubric_kernel import people
from rubric_kernel.bundled import ID_MAP_PATH
from rubric_kernel.cli import main
from rubric_kernel.errors import InputError
from rubric_kernel.id_map import load_id_map, remap, stored_orphans
from rubric_kernel.identity import ACTOR_ENV
from rubric_kernel.judgments import current_sheet, import_judgments
from rubric_kernel.sheet_codec import orphans
from rubric_kernel.store import OrphanedIds, Store
from rubric_kernel.workflow.service import Workflow
from rubric_kernel.workflow.state import derive
from rubric_kernel.workspace import DEMO_DATA, load_workspace

DATASET = "demo"
MAP = {
    "sc-2023:ind:52": "sc-2023:ind:52x",
    "sc-2023:item:52a": "sc-2023:item:52xa",
    "sc-2023:item:52b": "sc-2023:item:52xb",
    "sc-2023:bonus:party": "sc-2023:bonus:party-cpc",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path, monkeypatch) -> str:
    monkeypatch.delenv("RUBRIC_KERNEL_DB", raising=False)
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 's.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def renamed(rubric_dict, tmp_path):
    """The bundled rubric with indicator 52 (and its items) and one bonus item under new ids."""
    for lv in rubric_dict["levels"]:
        for g in lv["groups"]:
            for ind in g["indicators"]:
                if ind["number"] == 52:
                    ind["urn"] = "sc-2023:ind:52x"
                    for it in ind["items"]:
                        it["urn"] = f"sc-2023:item:52x{it['id'][-1]}"
    next(b for b in rubric_dict["bonus"]["items"] if b["id"] == "party")["urn"] = "sc-2023:bonus:party-cpc"
    path = tmp_path / "rubric.yaml"
    path.write_text(yaml.safe_dump(rubric_dict, allow_unicode=True), encoding="utf-8")
    return path


def write_map(tmp_path, mapping: dict) -> str:
    path = tmp_path / "id-map.yaml"
    path.write_text(yaml.safe_dump({"map": mapping}, allow_unicode=True), encoding="utf-8")
    return str(path)


PG_LOGIN, PG_NAME = "postgres", "数据库管理员（测试）"  # the tests' PostgreSQL login: there, identity is current_user


@pytest.fixture(autouse=True)
def _actor(monkeypatch):
    """Acts are registered people's: on SQLite the demo people named by RUBRIC_KERNEL_ACTOR; on
    PostgreSQL the tests' own login, registered below with every role the steps need."""
    monkeypatch.setenv(ACTOR_ENV, "demo_admin")


def act(who: str) -> None:
    os.environ[ACTOR_ENV] = who


def admin_name(url: str) -> str:
    return PG_NAME if url.startswith("postgresql") else "管理员（演示）"


def signed_store(url: str):
    """Institution 13's demo judgments under the bundled rubric, signed by its expert group."""
    ws = load_workspace()
    store = Store(url)
    people.bootstrap_demo(store, ws.dataset.name, ws.dataset.folder, ws.dataset.synthetic)
    expert = "demo_expert_13"
    if url.startswith("postgresql"):
        people.add(store, DATASET, PG_LOGIN, PG_NAME, ["admin", "organiser", "expert"], by="demo_admin")
        people.assign(store, DATASET, PG_LOGIN, by="demo_admin", institutions=[13], group="第1组")
        expert = PG_LOGIN
    import_judgments(store, ws, [DEMO_DATA / "judgments" / "13.yaml"])
    flow = Workflow(ws, store)
    act("demo_organiser")
    flow.move(13, "现场评估")
    flow.set_group(13, [expert])
    act(expert)
    flow.sign(13)
    act("demo_admin")
    return ws, store


def version_count(store: Store) -> int:
    return store.state_token(DATASET)[0]


def test_the_bundled_map_is_empty_and_loads(rubric):
    assert load_id_map(ID_MAP_PATH, rubric) == {}


def test_a_rubric_that_lost_stored_ids_is_refused_with_the_orphans(url, renamed, capsys):
    _ws, store = signed_store(url)
    before = version_count(store)
    new_ws = load_workspace(rubric=renamed)
    assert stored_orphans(store, new_ws) == sorted(MAP)
    with pytest.raises(OrphanedIds) as exc:
        current_sheet(store, new_ws, 13)
    store.close()
    assert main(["score", "13", "--db", url, "--rubric", str(renamed)]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert all(u in err for u in MAP) and "id-map.yaml" in err and "remap-ids" in err
    assert set(exc.value.ids) <= set(MAP)
    judgments = str(DEMO_DATA / "judgments" / "14.yaml")
    assert main(["import-judgments", judgments, "--db", url, "--rubric", str(renamed)]) != 0
    assert "sc-2023:ind:52" in capsys.readouterr().err
    with Store(url) as store:
        assert version_count(store) == before, "nothing was written"


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"sc-2023:ind:52": "sc-2023:item:52xa"}, "类别不同"),
        ({"sc-2023:ind:52": "sc-2023:ind:99"}, "不在当前指标体系中"),
        ({"ind-52": "sc-2023:ind:52x"}, "格式不对"),
        ({"sc-2023:item:52a": "sc-2023:item:52xa", "sc-2023:item:52c": "sc-2023:item:52xa"}, "已由"),
        ({"sc-2023:ind:52": 7}, "map.sc-2023:ind:52"),
    ],
)
def test_a_wrong_map_is_refused_naming_file_and_key(renamed, tmp_path, mapping, expected):
    rubric = load_workspace(rubric=renamed).rubric
    with pytest.raises(InputError) as exc:
        load_id_map(write_map(tmp_path, mapping), rubric)
    assert any(f.file.endswith("id-map.yaml") and expected in str(f) for f in exc.value.faults), exc.value.faults


def test_an_unknown_field_in_the_map_file_is_refused(tmp_path, rubric):
    path = tmp_path / "id-map.yaml"
    path.write_text("map: {}\nmaps: {}\n", encoding="utf-8")
    with pytest.raises(InputError, match="maps"):
        load_id_map(path, rubric)


def test_an_incomplete_map_is_refused_before_any_write(url, renamed, tmp_path):
    _ws, store = signed_store(url)
    try:
        before = version_count(store)
        new_ws = load_workspace(rubric=renamed)
        partial = {k: v for k, v in MAP.items() if k != "sc-2023:item:52b"}
        with pytest.raises(InputError) as exc:
            remap(
                store,
                new_ws,
                load_id_map(write_map(tmp_path, partial), new_ws.rubric),
                by=people.find(store, DATASET, admin_name(url)),
                reason="更新",
            )
        assert any("sc-2023:item:52b" in f.message and "不完整" in f.message for f in exc.value.faults)
        assert version_count(store) == before
        assert [e.kind for e in store.events(DATASET, 13)][-1] == "signature"
    finally:
        store.close()


def test_remap_appends_versions_keeps_the_sheet_and_its_signatures(url, renamed, tmp_path, capsys):
    old_ws, store = signed_store(url)
    try:
        old_sheet = current_sheet(store, old_ws, 13)
        old_rows = store.history(DATASET, 13)
    finally:
        store.close()
    path = write_map(tmp_path, MAP)
    args = ["--db", url, "--rubric", str(renamed), "--map", path, "--reason", "官方标识"]
    assert main(["remap-ids", *args]) == 0
    assert "新增 4 个版本" in capsys.readouterr().out  # two moved keys: a withdrawal and an addition each
    new_ws = load_workspace(rubric=renamed)
    with Store(url) as store:
        assert store.history(DATASET, 13)[: len(old_rows)] == old_rows, "append-only: old versions untouched"
        moved = store.history(DATASET, 13)[len(old_rows) :]
        assert {(v.key, v.content is None) for v in moved} == {
            ("sc-2023:ind:52", True),
            ("sc-2023:ind:52x", False),
            ("sc-2023:bonus:party", True),
            ("sc-2023:bonus:party-cpc", False),
        }
        assert {(v.expert, v.reason, v.stage) for v in moved} == {(admin_name(url), "标识迁移：官方标识", "标识迁移")}
        assert store.snapshot(DATASET, 13).live["sc-2023:ind:52x"]["ticks"] == {
            "sc-2023:item:52xa": 1,
            "sc-2023:item:52xb": 1,
        }
        assert current_sheet(store, new_ws, 13) == old_sheet, "the same judgments, under their new ids"
        flow = Workflow(new_ws, store)
        assert derive(store.events(DATASET, 13)).valid_signatures(flow.sheet_digest(13)) == [
            PG_NAME if url.startswith("postgresql") else "马红敏（演示专家）"
        ]
    assert main(["remap-ids", *args]) == 0
    assert "没有需要迁移" in capsys.readouterr().out
    assert main(["check-store", "--db", url]) == 0


def test_the_orphan_check_reads_the_current_judgments_of_every_sheet_only(tmp_path):
    """Read per key with its ticks merged, it finds what checking every current version finds: an id
    ticked in any sheet, and nothing from versions since replaced or withdrawn."""
    ws = load_workspace()
    with Store(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        import_judgments(store, ws, [DEMO_DATA / "judgments" / "13.yaml"])
        save = dict(expert="专家（测试）", stage="现场评估", sheet="专家甲")
        foreign = {"ticks": {"sc-2023:item:1a": 1, "sc-2023:item:zz": 1}}
        first = store.save(DATASET, 13, {"sc-2023:ind:1": foreign, "sc-2023:ind:999": {"ticks": {}}}, {}, **save)
        assert stored_orphans(store, ws) == ["sc-2023:ind:999", "sc-2023:item:zz"]
        base = {v.key: v.seq for v in first}
        store.save(
            DATASET, 13, {"sc-2023:ind:1": {"ticks": {"sc-2023:item:1a": 1}}, "sc-2023:ind:999": None}, base, **save
        )
        assert stored_orphans(store, ws) == []
        store.save(DATASET, 14, {"sc-2023:ind:2": foreign}, {}, **save)
        everyone = {
            o for v in store.current_versions(DATASET) if v.content for o in orphans(ws.rubric, {v.key: v.content})
        }
        assert stored_orphans(store, ws) == sorted(everyone) == ["sc-2023:item:1a", "sc-2023:item:zz"]


def test_a_passed_orphan_check_is_remembered_for_the_same_file_versions_and_rubric_ids_only(
    tmp_path, monkeypatch, renamed
):
    import shutil

    from rubric_kernel import id_map
    from rubric_kernel.input_cache import InputCache
    from rubric_kernel.judgments import bootstrap

    monkeypatch.setattr(id_map.input_cache, "ORPHAN_CHECKS", InputCache(tmp_path / "cache", prefix="no-orphans-"))
    reads: list[int] = []
    real = id_map.stored_orphans
    monkeypatch.setattr(id_map, "stored_orphans", lambda s, w: reads.append(1) or real(s, w))
    ws, moved = load_workspace(), load_workspace(rubric=renamed)
    db = tmp_path / "s.sqlite"
    with Store(str(db)) as store:
        bootstrap(store, ws)  # imports the demo judgments (checked before, with the store empty)
        reads.clear()
        id_map.refuse_orphans(store, ws)
        id_map.refuse_orphans(store, ws)
        assert len(reads) == 1, "the same file, versions and rubric: checked once"
        snap = store.snapshot(ws.dataset.name, 13)
        key = next(iter(snap.live))
        store.save(ws.dataset.name, 13, {key: None}, snap.base, expert="测试", stage="现场评估", reason="撤回")
        id_map.refuse_orphans(store, ws)
        assert len(reads) == 2, "a new version: checked again"
        for _ in range(2):
            with pytest.raises(OrphanedIds):
                id_map.refuse_orphans(store, moved)
        assert len(reads) == 4, "another rubric's ids: checked, and a refusal is never remembered"
    shutil.copy(db, tmp_path / "copy.sqlite")
    (tmp_path / "copy.sqlite").replace(db)  # as a restore replaces the file: same content, another file
    with Store(str(db)) as store:
        id_map.refuse_orphans(store, ws)
    assert len(reads) == 5, "a replaced file: checked again"
