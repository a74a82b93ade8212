"""The batch's fingerprint covers everything a report shows: a changed input re-renders, never reuses."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from rubric_kernel.batch import fingerprint
from rubric_kernel.bundled import ID_MAP_PATH, PARAMETERS, ROSTER_PATH, RUBRIC_PATH
from rubric_kernel.judgments import bootstrap
from rubric_kernel.keyring import ensure_demo, revoke
from rubric_kernel.store import Store
from rubric_kernel.workspace import load_workspace

# Digested elsewhere (the rubric by its content, the roster a row per institution), or read by no report
# (the id map, by ``store migrate`` only).
NOT_SHARED = {RUBRIC_PATH.name, ROSTER_PATH.name, ID_MAP_PATH.name}
KEY = "sc-2023:ind:1"


@pytest.fixture(scope="module")
def ws():
    return load_workspace()


@pytest.fixture
def store(ws, tmp_path):
    with Store(f"sqlite:///{tmp_path / 's.sqlite'}") as s:
        bootstrap(s, ws)
        yield s


def _changed(before: dict, after: dict) -> set[str]:
    return {k for k in before if before[k] != after[k]}


def test_every_parameter_file_is_in_the_fingerprint_or_said_why_not():
    shared = {path.name for path in fingerprint.SHARED_FILES.values()}
    files = {p.name for p in PARAMETERS.iterdir() if p.is_file()}
    assert files - NOT_SHARED == shared, "a new parameters file: digest it in SHARED_FILES or say why not"


@pytest.mark.parametrize("name", sorted(fingerprint.SHARED_FILES))
def test_a_changed_shared_parameter_file_changes_every_fingerprint(ws, store, tmp_path, monkeypatch, name):
    before = fingerprint.shared_inputs(ws, store, "")
    changed = tmp_path / fingerprint.SHARED_FILES[name].name
    shutil.copyfile(fingerprint.SHARED_FILES[name], changed)
    with changed.open("a", encoding="utf-8") as fh:
        fh.write("\n# 改动\n")
    monkeypatch.setitem(fingerprint.SHARED_FILES, name, changed)
    after = fingerprint.shared_inputs(ws, store, "")
    assert _changed(before, after) == {name}
    own = {"roster": "r", "evidence": "e", "judgments": "j", "workflow": "w"}
    assert fingerprint.fingerprint(before, own) != fingerprint.fingerprint(after, own)


def test_registering_or_revoking_a_key_changes_every_fingerprint(ws, store):
    """Each report checks the experts' signatures against the registered keys and says which are valid."""
    before = fingerprint.shared_inputs(ws, store, "")
    ensure_demo(store, "专家甲", dt.date(2023, 5, 1))
    registered = fingerprint.shared_inputs(ws, store, "")
    assert _changed(before, registered) == {"keys"}
    revoke(store, "专家甲", effective=dt.date(2023, 6, 1), actor="管理员")
    assert _changed(registered, fingerprint.shared_inputs(ws, store, "")) == {"keys"}


def test_a_complete_institutions_new_score_changes_every_fingerprint_a_note_does_not(ws, store):
    """Every report compares its institution with the class and cohort means of the complete results."""
    ds = ws.dataset.name
    before = fingerprint.shared_inputs(ws, store, "")
    snap = store.snapshot(ds, 13)
    noted = {**snap.live[KEY], "note": "现场复核说明"}
    store.save(ds, 13, {KEY: noted}, snap.base, expert="测试", stage="现场评估")
    assert _changed(before, fingerprint.shared_inputs(ws, store, "")) == set(), "the means did not move"
    snap = store.snapshot(ds, 13)
    deducted = {**noted, "free": [{"points": 2.0, "reason": "现场发现问题"}]}
    store.save(ds, 13, {KEY: deducted}, snap.base, expert="测试", stage="现场评估")
    assert _changed(before, fingerprint.shared_inputs(ws, store, "")) == {"cohort"}


def test_withdrawing_and_restoring_a_judgment_changes_that_institutions_own_inputs(ws, store):
    """The report's 修改记录 lists both saves, though the current judgments are as they were."""
    ds = ws.dataset.name
    before = store.history_marks(ds)
    snap = store.snapshot(ds, 13)
    content = snap.live[KEY]
    store.save(ds, 13, {KEY: None}, snap.base, expert="测试", stage="现场评估", reason="误录")
    store.save(ds, 13, {KEY: content}, store.snapshot(ds, 13).base, expert="测试", stage="现场评估")
    after = store.history_marks(ds)
    assert store.snapshot(ds, 13).live == snap.live
    assert {n for n in after if after[n] != before.get(n)} == {13}
    own = [fingerprint.own_inputs(ws, 13, "j", [], marks[13]) for marks in (before, after)]
    assert _changed(*own) == {"history"}


def test_marking_a_dataset_synthetic_or_not_changes_every_fingerprint(ws, store):
    """A demo dataset's reports carry the 演示数据 mark and a demo seal; real data's carry neither."""
    import dataclasses

    real = dataclasses.replace(ws, dataset=dataclasses.replace(ws.dataset, synthetic=False))
    assert _changed(fingerprint.shared_inputs(ws, store, ""), fingerprint.shared_inputs(real, store, "")) == {"mark"}


def test_upgrading_the_rendering_software_changes_every_fingerprint(ws, store, monkeypatch):
    """A new nbconvert (or papermill, ipykernel, Python) may render every page differently."""
    before = fingerprint.shared_inputs(ws, store, "")
    versions = fingerprint.run_versions()
    monkeypatch.setattr(fingerprint, "run_versions", lambda: {**versions, "nbconvert": "99.0"})
    assert _changed(before, fingerprint.shared_inputs(ws, store, "")) == {"software"}
