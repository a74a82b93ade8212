"""A SQLite store's reads are plain SQL through the standard library: they return exactly what the
same reads through SQLAlchemy return, they survive a fork, their errors are the store's Chinese ones,
and the commands that only read (score, report) never import SQLAlchemy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rubric_kernel import keyring, people
from rubric_kernel.errors import StoreError
from rubric_kernel.judgments import bootstrap
from rubric_kernel.store import Store
from rubric_kernel.workspace import load_workspace

KEY = "sc-2023:ind:1"


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A demo store with replaced, withdrawn and second-sheet versions, and events."""
    path = tmp_path_factory.mktemp("plain") / "s.sqlite"
    ws = load_workspace()
    with Store(str(path)) as store:
        bootstrap(store, ws)
        ds = ws.dataset.name
        snap = store.snapshot(ds, 13)
        content = {**snap.live[KEY], "free": [{"points": 2.0, "reason": "现场发现问题"}]}
        store.save(ds, 13, {KEY: content}, snap.base, expert="测试", stage="现场评估")
        snap = store.snapshot(ds, 14)
        store.save(ds, 14, {next(iter(snap.live)): None}, snap.base, expert="测试", stage="现场评估", reason="误录")
        store.save(ds, 15, {KEY: content}, {}, expert="测试", stage="现场评估", sheet="测试")
        store.add_event(ds, 13, "note", actor="测试", payload={"a": 1}, note="备注")
    return path, ws


def _reads(store: Store, ds: str) -> dict:
    return {
        "snapshots": store.snapshots(ds),
        "one": store.snapshot(ds, 13),
        "other sheet": store.snapshots(ds, "测试"),
        "versions": store.current_versions(ds),
        "contents": list(store.current_contents(ds)),
        "live": store.live_contents(ds),
        "token": store.state_token(ds),
        "history": store.history(ds, 13, KEY),
        "all history": store.history(ds, 14),
        "institutions": store.institutions(ds),
        "sheets": store.sheets(ds, 15),
        "events": store.events(ds),
        "events 13": store.events(ds, 13),
        "meta": store.meta(),
        "revision": store.revision(),
        "registry": people.registry(store, ds),
        "one person": people.registry(store, ds, next(iter(people.registry(store, ds)))),
        "registered": people.registered_any(store, ds),
        "changes": [tuple(c) for c in people.changes(store, ds)],
        "keys": keyring.registered(store),
    }


def test_plain_reads_equal_the_engines(filled):
    path, ws = filled
    ds = ws.dataset.name
    with Store(str(path)) as plain, Store(f"sqlite+pysqlite:///{path}") as engine:
        assert plain._reads is not None and engine._reads is None  # the two paths under test
        a, b = _reads(plain, ds), _reads(engine, ds)
    assert a["versions"] and a["events"] and a["registry"] and a["keys"] and a["history"]
    for name in a:
        assert a[name] == b[name], name
    assert a["other sheet"][15].live[KEY]["free"] and KEY in a["live"][13]


def test_a_forked_child_reads_on_its_own_connection(filled):
    path, ws = filled
    ds = ws.dataset.name
    with Store(str(path)) as store:
        before = store.live_contents(ds)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            try:
                ok = store.live_contents(ds) == before
                store.close()
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert store.live_contents(ds) == before, "the parent's connection still works after the child closed"


def test_a_damaged_file_is_refused_in_chinese(tmp_path, filled):
    path, ws = filled
    copy = tmp_path / "c.sqlite"
    copy.write_bytes(path.read_bytes())
    store = Store(str(copy))
    with copy.open("r+b") as fh:  # the pages after the header overwritten once the store is open
        fh.seek(4096)
        fh.write(b"\xff" * 40960)
    with pytest.raises(StoreError, match=r"评分库 .* 已损坏"):
        store.institutions(ws.dataset.name)
    store.close()


def test_reading_commands_do_not_import_sqlalchemy(tmp_path):
    db = tmp_path / "s.sqlite"
    probe = (
        "import contextlib, io, json, sys\n"
        "from rubric_kernel.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(sys.argv[1:])\n"
        "print(json.dumps([code, sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'alembic'})]))\n"
    )
    env = {**os.environ, "RUBRIC_KERNEL_DB": str(db)}

    def run(*argv: str) -> list:
        done = subprocess.run([sys.executable, "-c", probe, *argv], env=env, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.splitlines()[-1])

    assert run("score", "13") == [0, ["alembic", "sqlalchemy"]]  # first use: created, the demo judgments written
    assert run("score", "13") == [0, []]
    assert run("report", "13", "--out", str(tmp_path / "out")) == [0, ["sqlalchemy"]]  # the demo key registered
    assert run("report", "13", "--out", str(tmp_path / "out")) == [0, []]
    assert list((tmp_path / "out").glob("*.html"))
