"""The digests a report records must not move when the code computing them changes: ``verify`` compares
an issued report's digests with the store's, and a changed digest would read as a changed input."""

from __future__ import annotations

import dataclasses

import pytest

from rubric_kernel.input_cache import RUBRIC_REFS, STATIC_DIGESTS
from rubric_kernel.records import RubricRef
from rubric_kernel.sheet_codec import digest, plain
from rubric_kernel.workspace import KERNEL_WORKSPACES, load_workspace


def _as_asdict_gave(obj: object) -> object:
    """The definition the digests were first made with: ``dataclasses.asdict``, then dates as ISO."""

    def conv(v: object) -> object:
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [conv(x) for x in v]
        return v.isoformat() if hasattr(v, "isoformat") else v

    return conv(dataclasses.asdict(obj))


@pytest.fixture(scope="module")
def ws():
    return load_workspace()


def test_every_institutions_roster_row_and_evidence_digest_as_before(ws):
    for n in ws.roster:
        for obj in (ws.roster[n], ws.dataset.for_institution(n)):
            assert plain(obj) == _as_asdict_gave(obj), n
            assert digest(plain(obj)) == digest(_as_asdict_gave(obj)), n


def test_the_workspace_keeps_each_institutions_roster_and_evidence_digests(ws):
    """Computed once for given inputs and code, and kept for the next process in ``var/cache``."""
    for n in ws.roster:
        expected = (digest(_as_asdict_gave(ws.roster[n])), digest(_as_asdict_gave(ws.dataset.for_institution(n))))
        assert ws.static_digests[n] == expected, n
    known = KERNEL_WORKSPACES.load()  # as commands and kernels load it: with the digest of its inputs
    assert known.inputs and known.static_digests == ws.static_digests
    kept = STATIC_DIGESTS.get_keyed(known.inputs, lambda: pytest.fail("built again, not read back"))
    assert kept == ws.static_digests


def test_the_workspace_keeps_the_rubrics_reference(ws):
    """The rubric's id and digest, as every stored version records them: kept in ``var/cache`` like the
    other digests, and equal to the rubric dumped afresh."""
    expected = RubricRef(ws.rubric.meta.id, digest(ws.rubric.model_dump(mode="json")))
    assert ws.rubric_ref == expected
    known = KERNEL_WORKSPACES.load()
    assert known.inputs and known.rubric_ref == expected
    kept = RUBRIC_REFS.get_keyed(known.inputs, lambda: pytest.fail("built again, not read back"))
    assert kept == expected


def test_nested_dataclasses_tuples_and_dates_are_plain():
    import datetime as dt

    @dataclasses.dataclass
    class Inner:
        when: dt.date
        tags: tuple[str, ...]

    @dataclasses.dataclass
    class Outer:
        inner: Inner
        items: list[Inner]
        by: dict[str, Inner]

    i = Inner(dt.date(2023, 6, 1), ("a", "b"))
    o = Outer(i, [i], {"k": i})
    want = {"when": "2023-06-01", "tags": ["a", "b"]}
    assert plain(o) == {"inner": want, "items": [want], "by": {"k": want}} == _as_asdict_gave(o)


def test_a_runs_recorded_versions_are_the_installed_ones_and_kept_until_a_folder_of_sys_path_changes(
    tmp_path, monkeypatch
):
    """The manifest's versions, read back from var/cache while no package was installed or removed."""
    import os
    import sys
    from importlib import metadata

    from rubric_kernel import __version__, input_cache
    from rubric_kernel.batch import versions

    monkeypatch.setattr(versions, "VERSIONS", input_cache.InputCache(tmp_path / "cache", prefix="versions-"))
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    looked_up: list[int] = []
    real = versions._installed
    monkeypatch.setattr(versions, "_installed", lambda: looked_up.append(1) or real())

    first = versions.run_versions()
    assert first["rubric-kernel"] == __version__ and first["python"] == sys.version.split()[0]
    assert {n: first[n] for n in versions.PACKAGES} == {n: metadata.version(n) for n in versions.PACKAGES}
    assert versions.run_versions() == first and len(looked_up) == 1, "read back, not looked up again"
    (site / "newpkg-1.0.dist-info").mkdir()  # what an installer does
    os.utime(site, ns=(0, site.stat().st_mtime_ns + 1_000_000_000))  # a coarse clock still sees the change
    assert versions.run_versions() == first and len(looked_up) == 2, "a folder of sys.path changed: looked up"
