"""The validated inputs kept in var/cache between commands: reused only while no input file changed,
and a damaged cache file is rebuilt, never trusted."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from rubric_kernel.bundled import MATERIALS_PATH, ROSTER_PATH, RUBRIC_PATH
from rubric_kernel.input_cache import PREFIX, InputCache
from rubric_kernel.workspace import load_workspace


class Counting:
    """A build function that says how often it ran."""

    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    out = []
    for name in ("a.yaml", "b.csv"):
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"{name} 内容\n", encoding="utf-8")
        out.append(path)
    return out


def entries(cache: InputCache) -> list[Path]:
    return sorted(cache.folder.glob(f"{PREFIX}*.pickle"))


def test_unchanged_files_are_read_back_without_building(tmp_path, files):
    cache = InputCache(tmp_path / "cache")
    build = Counting({"机构": 13})
    assert cache.get(files, build) == {"机构": 13}
    assert cache.get(files, build) == {"机构": 13}
    assert build.calls == 1
    assert len(entries(cache)) == 1


@pytest.mark.parametrize("change", ["edit", "remove"])
def test_a_changed_or_removed_file_builds_afresh_and_drops_the_old_entry(tmp_path, files, change):
    cache = InputCache(tmp_path / "cache")
    cache.get(files, Counting("旧"))
    before = entries(cache)
    if change == "edit":
        files[1].write_text("b.csv 新内容\n", encoding="utf-8")  # same folder, new content
    else:
        files[1].unlink()
    build = Counting("新")
    assert cache.get(files, build) == "新"
    assert build.calls == 1
    after = entries(cache)
    assert len(after) == 1 and after != before


@pytest.mark.parametrize("damage", [b"", b"not a pickle", pickle.dumps(object)[:-3]])
def test_a_damaged_cache_file_is_ignored_and_rewritten(tmp_path, files, damage):
    cache = InputCache(tmp_path / "cache")
    cache.get(files, Counting("原值"))
    (entry,) = entries(cache)
    entry.write_bytes(damage)
    build = Counting("重建")
    assert cache.get(files, build) == "重建"
    assert build.calls == 1
    assert pickle.loads(entry.read_bytes()) == "重建"


def test_an_unwritable_cache_folder_still_gives_the_value(tmp_path, files):
    blocker = tmp_path / "plain"
    blocker.write_text("a file where the folder would be", encoding="utf-8")
    cache = InputCache(blocker / "cache")
    build = Counting("值")
    assert cache.get(files, build) == "值"
    assert cache.get(files, build) == "值"
    assert build.calls == 2


def test_a_cached_workspace_is_the_workspace_loaded_afresh(tmp_path, demo_copy):
    """The real inputs: what comes back from the cache scores and reads as the freshly validated one."""
    cache = InputCache(tmp_path / "cache")
    files = [RUBRIC_PATH, ROSTER_PATH, MATERIALS_PATH, *sorted(demo_copy.glob("*.*"))]
    fresh = load_workspace(demo_copy)
    cache.get(files, lambda: load_workspace(demo_copy))
    cached = cache.get(files, lambda: pytest.fail("the cache was not used"))
    assert cached is not fresh
    assert cached.rubric == fresh.rubric and cached.roster == fresh.roster and cached.materials == fresh.materials
    assert cached.dataset == fresh.dataset
    assert cached.dataset.mark == "演示数据"
    assert cached.rubric_ref == fresh.rubric_ref


def test_the_programme_is_validated_once_per_inputs_digest_and_equals_a_fresh_load(tmp_path, monkeypatch):
    import dataclasses

    from rubric_kernel import programme, workspace
    from rubric_kernel.bundled import PROGRAMME_PATH

    monkeypatch.setattr(workspace, "PROGRAMMES", InputCache(tmp_path, prefix="programme-"))
    loads: list[int] = []
    real = programme.load_programme
    monkeypatch.setattr(workspace, "load_programme", lambda p: loads.append(1) or real(p))
    base = load_workspace()
    kept = dataclasses.replace(base, inputs="digest-1").programme
    again = dataclasses.replace(base, inputs="digest-1").programme  # another process, the same inputs
    assert again == kept == real(PROGRAMME_PATH) and len(loads) == 1
    other = dataclasses.replace(base, inputs="digest-2").programme
    unknown = base.programme  # inputs not known: always validated
    assert other == unknown == kept and len(loads) == 3
