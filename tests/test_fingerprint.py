"""The batch's fingerprint covers every file a report reads: a changed input re-renders, never reuses."""

from __future__ import annotations

import shutil

import pytest

from rubric_kernel.batch import fingerprint
from rubric_kernel.bundled import ID_MAP_PATH, PARAMETERS, ROSTER_PATH, RUBRIC_PATH
from rubric_kernel.workspace import load_workspace

# Digested elsewhere (the rubric by its content, the roster a row per institution), or read by no report
# (the id map, by ``store migrate`` only).
NOT_SHARED = {RUBRIC_PATH.name, ROSTER_PATH.name, ID_MAP_PATH.name}


@pytest.fixture(scope="module")
def ws():
    return load_workspace()


def test_every_parameter_file_is_in_the_fingerprint_or_said_why_not():
    shared = {path.name for path in fingerprint.SHARED_FILES.values()}
    files = {p.name for p in PARAMETERS.iterdir() if p.is_file()}
    assert files - NOT_SHARED == shared, "a new parameters file: digest it in SHARED_FILES or say why not"


@pytest.mark.parametrize("name", sorted(fingerprint.SHARED_FILES))
def test_a_changed_shared_parameter_file_changes_every_fingerprint(ws, tmp_path, monkeypatch, name):
    before = fingerprint.shared_inputs(ws, "")
    changed = tmp_path / fingerprint.SHARED_FILES[name].name
    shutil.copyfile(fingerprint.SHARED_FILES[name], changed)
    with changed.open("a", encoding="utf-8") as fh:
        fh.write("\n# 改动\n")
    monkeypatch.setitem(fingerprint.SHARED_FILES, name, changed)
    after = fingerprint.shared_inputs(ws, "")
    assert {k for k in before if before[k] != after[k]} == {name}
    own = {"roster": "r", "evidence": "e", "judgments": "j", "workflow": "w"}
    assert fingerprint.fingerprint(before, own) != fingerprint.fingerprint(after, own)
