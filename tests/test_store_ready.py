"""The batch tells its kernels that the store's first-use check is done; only that store and dataset skip it."""

from __future__ import annotations

import os

import pytest

from rubric_kernel import assessment
from rubric_kernel.assessment import open_assessment
from rubric_kernel.batch import runner
from rubric_kernel.batch.contract import STORE_READY_VARIABLE, store_ready_token
from rubric_kernel.store import Store
from rubric_kernel.workspace import load_workspace


@pytest.fixture
def checks(monkeypatch) -> list[str]:
    """The URL of every store ``open_assessment`` ran the first-use check on."""
    done: list[str] = []
    real = assessment.bootstrap

    def counted(store, ws):
        done.append(store.url)
        return real(store, ws)

    monkeypatch.setattr(assessment, "bootstrap", counted)
    monkeypatch.delenv(STORE_READY_VARIABLE, raising=False)
    return done


def _open(db: str) -> str:
    a = open_assessment("13", db=db, mode="report")
    a.store.close()
    return a.store.url


def test_a_kernel_skips_the_check_only_for_the_store_and_dataset_its_batch_checked(tmp_path, monkeypatch, checks):
    checked = _open(str(tmp_path / "checked.sqlite"))
    assert checks == [checked], "without the batch's word a notebook runs the check itself"
    dataset = load_workspace().dataset.name
    monkeypatch.setenv(STORE_READY_VARIABLE, store_ready_token(checked, dataset))
    _open(str(tmp_path / "checked.sqlite"))
    assert checks == [checked], "the batch checked this store for this dataset: not again"
    other = _open(str(tmp_path / "other.sqlite"))
    assert checks == [checked, other], "a store the batch did not check is checked"
    with Store(other) as store:
        assert store.snapshot(dataset, 13).entries, "and loaded with the dataset's judgments on first use"
    monkeypatch.setenv(STORE_READY_VARIABLE, store_ready_token(checked, dataset + "-other"))
    _open(str(tmp_path / "checked.sqlite"))
    assert checks == [checked, other, checked], "checked for another dataset: checked again"


def test_a_kernel_skips_the_file_check_only_for_the_store_its_batch_checked(tmp_path, monkeypatch, checks):
    from rubric_kernel import sqlite_file

    integrity: list[bool] = []
    real = sqlite_file.read
    monkeypatch.setattr(sqlite_file, "read", lambda *a, **k: integrity.append(k.get("check", True)) or real(*a, **k))
    checked = _open(str(tmp_path / "checked.sqlite"))
    _open(str(tmp_path / "checked.sqlite"))
    assert integrity == [True], "without the batch's word the file is checked (its creation needs none)"
    monkeypatch.setenv(STORE_READY_VARIABLE, store_ready_token(checked, load_workspace().dataset.name))
    _open(str(tmp_path / "checked.sqlite"))
    _open(str(tmp_path / "other.sqlite"))
    _open(str(tmp_path / "other.sqlite"))
    assert integrity == [True, False, True], "vouched for: not checked again; any other store is"


@pytest.mark.parametrize("ready", [True, False])
def test_the_batch_says_so_to_its_kernels_only_when_its_caller_ran_the_check(tmp_path, monkeypatch, ready):
    seen: list[str | None] = []

    def execute(jobs, workers, finished, warm):
        seen.append(os.environ.get(STORE_READY_VARIABLE))  # what the workers and their kernels inherit

    monkeypatch.setattr(runner, "execute_jobs", execute)
    monkeypatch.delenv(STORE_READY_VARIABLE, raising=False)
    ws = load_workspace()
    with Store(str(tmp_path / "s.sqlite")) as store:
        cfg = runner.BatchConfig(out=tmp_path / "out", numbers=[13], workers=1, data="", db_url="", store_ready=ready)
        runner.run_batch(ws, store, cfg, str)
        expected = store_ready_token(store.url, ws.dataset.name) if ready else None
    assert seen == [expected]
    assert STORE_READY_VARIABLE not in os.environ, "the batch's environment is put back afterwards"
