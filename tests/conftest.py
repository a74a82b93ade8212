"""Small shared fixtures: the bundled rubric and roster (loaded once), a fresh raw rubric dict, a demo copy."""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis.configuration import set_hypothesis_home_dir

from rubric_kernel.roster import load_roster
from rubric_kernel.rubric import load_rubric
from rubric_kernel.workspace import DEMO_DATA, ROSTER_PATH, RUBRIC_PATH

# Hypothesis keeps caches in ./.hypothesis by default; keep the checkout clean wherever pytest runs.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "rubric-kernel-hypothesis")


@pytest.fixture(scope="session")
def rubric():
    return load_rubric(RUBRIC_PATH)


@pytest.fixture(scope="session")
def roster():
    return load_roster(ROSTER_PATH)


@pytest.fixture(scope="session")
def _rubric_raw() -> dict:
    return yaml.safe_load(RUBRIC_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def rubric_dict(_rubric_raw) -> dict:
    """A fresh, mutable copy of parameters/rubric.yaml as plain data."""
    return copy.deepcopy(_rubric_raw)


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    """A private copy of data/demo (tables and dataset.yaml; judgments too) to break one file at a time."""
    dest = tmp_path / "demo"
    shutil.copytree(DEMO_DATA, dest)
    return dest


def pytest_configure(config):
    """Point every store access at a throwaway SQLite file unless the caller chose one.

    Tests pass their own ``--db``/``db=``; this catches the rest, notably the notebook run by
    ``pytest --nbval-lax notebooks/assessment.ipynb`` (its ``db`` parameter is empty), so nothing
    ever touches the real ``var/`` store.
    """
    if not os.environ.get("RUBRIC_KERNEL_DB"):
        folder = tempfile.mkdtemp(prefix="rubric-kernel-test-db-")
        os.environ["RUBRIC_KERNEL_DB"] = str(Path(folder) / "store.sqlite")
        config._rk_temp_db_folder = folder


def pytest_unconfigure(config):
    folder = getattr(config, "_rk_temp_db_folder", None)
    if folder:
        os.environ.pop("RUBRIC_KERNEL_DB", None)
        shutil.rmtree(folder, ignore_errors=True)
