"""Who owns the store's connections: a store is a context manager, and a process has one engine per URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from rubric_kernel.store import Store, StoreError

KEY = "sc-2023:ind:1"


def _save(store: Store, evidence: str) -> None:
    content = {"ticks": {}, "free": [], "evidence": evidence, "note": ""}
    store.save("demo", 1, {KEY: content}, store.snapshot("demo", 1).base, expert="张三", stage="现场评估")


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)


def test_one_engine_per_url_while_any_store_is_open(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    with Store(url) as first, Store(url) as second:
        assert first.engine is second.engine
        with Store(f"sqlite:///{tmp_path / 'other.sqlite'}") as other:
            assert other.engine is not first.engine
        second.close()
        _save(first, "仍可使用")  # one store closing does not take the engine from the other
        assert first.snapshot("demo", 1).live[KEY]["evidence"] == "仍可使用"
    with Store(url) as again:  # the last close disposed it: a later store builds a fresh engine
        assert again.engine is not first.engine


def test_leaving_the_block_closes_the_connections(tmp_path):
    """A pooled connection left open would still read the removed file's data after it is recreated."""
    path = tmp_path / "s.sqlite"
    with Store(str(path)) as store:
        _save(store, "旧库")
        assert store.institutions("demo") == {1}
    _remove(path)
    with Store(str(path)) as fresh:
        assert fresh.institutions("demo") == set()
        assert fresh.engine.pool.checkedout() == 0


def test_the_block_closes_the_store_on_an_error(tmp_path):
    path = tmp_path / "s.sqlite"
    with pytest.raises(StoreError), Store(str(path)) as store:
        _save(store, "出错前")
        store.save("demo", 1, {KEY: None}, {}, expert="", stage="现场评估")  # refused: no expert
    _remove(path)
    with Store(str(path)) as fresh:
        assert fresh.institutions("demo") == set()


def test_closing_twice_releases_once(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    with Store(url) as keeper:
        extra = Store(url)
        extra.close()
        extra.close()  # a second close must not drop the keeper's share of the engine
        with Store(url) as third:
            assert third.engine is keeper.engine


def test_the_cohort_is_memoised_by_the_workspace_that_scored_it(tmp_path):
    """No module-level memo: two workspaces keep their own cohort; a save invalidates it."""
    from rubric_kernel.cohort import cohort_for
    from rubric_kernel.workspace import WorkspaceCache, load_workspace

    first, second = load_workspace(), load_workspace()
    with Store(str(tmp_path / "s.sqlite")) as store:
        as_of = first.dataset.as_of
        once = cohort_for(first, store, as_of)
        assert cohort_for(first, store, as_of) is once
        assert cohort_for(second, store, as_of) is not once
        assert cohort_for(first, store, as_of) is once  # the other workspace did not evict it
        _save(store, "新证据")
        assert cohort_for(first, store, as_of) is not once
    cache = WorkspaceCache()
    assert cache.load() is cache.load()
    assert WorkspaceCache().load() is not cache.load()


def test_the_command_line_prints_what_the_first_use_did(tmp_path, capsys):
    from rubric_kernel.cli import main

    db = str(tmp_path / "s.sqlite")
    assert main(["score", "13", "--db", db]) == 0
    assert "首次使用：已将" in capsys.readouterr().err
    assert main(["score", "13", "--db", db]) == 0
    assert "首次使用" not in capsys.readouterr().err
