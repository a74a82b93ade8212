"""Small shared fixtures: the bundled rubric and roster (loaded once), a fresh raw rubric dict, a demo copy."""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from rubric_kernel.roster import load_roster
from rubric_kernel.rubric import load_rubric
from rubric_kernel.workspace import DEMO_DATA, ROSTER_PATH, RUBRIC_PATH

# Hypothesis keeps caches in ./.hypothesis by default; keep the checkout clean wherever pytest runs.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "rubric-kernel-hypothesis")

# `make mutation` runs the fast tests once per mutant (`--hypothesis-profile=mutation`): fewer examples,
# still derandomized so every mutant meets the same ones.
settings.register_profile("mutation", max_examples=15, derandomize=True, database=None)


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


# ------------------------------------------------------------------------------ PostgreSQL, for the store
def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found and shutil.which("runuser") else None


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster on a Unix socket (no TCP), owned by the postgres user.

    The store's claim that any SQLAlchemy URL works is tested against a real server; where the server
    binaries are not installed (``tools/system_deps.sh postgres``) the PostgreSQL cases skip.
    """
    import subprocess

    bin_dir = _pg_bin()
    if os.geteuid() != 0:
        pytest.skip("the throwaway PostgreSQL cluster is started as the postgres user, which needs root")
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not installed (tools/system_deps.sh postgres)")
    root = Path(tempfile.mkdtemp(prefix="rk-pg-"))  # pytest's own tmp is private to root; postgres must enter
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    shutil.chown(root, "postgres")
    shutil.chown(sock, "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_pg, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-E", "UTF8", "--no-locale"],
        check=True,
        capture_output=True,
    )
    options = f"-k {sock} -c listen_addresses='' -p 5433 -c fsync=off"
    subprocess.run(
        [*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "start", "-l", str(root / "log")],
        check=True,
        capture_output=True,
    )
    try:
        yield f"host={sock} port=5433 user=postgres"
    finally:
        subprocess.run(
            [*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the throwaway server, as a SQLAlchemy URL."""
    import uuid

    import psycopg

    name = f"rk_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{postgres_server} dbname=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = dict(part.split("=", 1) for part in postgres_server.split())
    return f"postgresql+psycopg://postgres@/{name}?host={params['host']}&port={params['port']}"


def pytest_collection_modifyitems(config, items):
    """nbval waits only 5 s for a finished cell's output messages (hard-coded). On two cores shared by
    LibreOffice, chromium and several kernels, a kernel's output thread can lag longer than that, and
    the cell is reported as failed although it ran; give it a minute (a hung cell still fails)."""
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = 60
