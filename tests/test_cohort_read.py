"""The cohort reads each institution's current sheet from three columns; the sheets, and so the cohort,
are the ones the full snapshots give (replaced and withdrawn versions, other sheets, no sheet at all)."""

from __future__ import annotations

from rubric_kernel.cohort import cohort_for, score_cohort
from rubric_kernel.judgments import bootstrap
from rubric_kernel.store import Store
from rubric_kernel.workspace import load_workspace

KEY = "sc-2023:ind:1"


def test_current_sheets_are_the_snapshots_sheets(tmp_path):
    ws = load_workspace()
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    bootstrap(store, ws)
    ds = ws.dataset.name
    snap = store.snapshot(ds, 13)
    content = dict(snap.live[KEY])
    content["free"] = [{"points": 2.0, "reason": "现场发现问题"}]
    store.save(ds, 13, {KEY: content}, snap.base, expert="测试", stage="现场评估")  # replaced
    snap = store.snapshot(ds, 14)
    before = snap.sheet(ws.rubric)
    (withdrawn, *_) = snap.live
    store.save(ds, 14, {withdrawn: None}, snap.base, expert="测试", stage="现场评估", reason="误录")
    own = store.snapshot(ds, 15, "测试")
    store.save(ds, 15, {KEY: content}, own.base, expert="测试", stage="现场评估", sheet="测试")  # not the group's
    emptied = min(n for n in ws.roster if n not in store.snapshots(ds))
    snapshots = store.snapshots(ds)

    sheets = store.current_sheets(ds, ws.rubric, ws.roster)

    assert set(sheets) == set(ws.roster)
    for n in ws.roster:
        assert sheets[n] == snapshots.get(n, store.snapshot(ds, emptied)).sheet(ws.rubric), n
    assert sheets[13].indicators[1].free and sheets[14] != before
    assert cohort_for(ws, store, ws.dataset.as_of) == score_cohort(ws, snapshots, strict=False)
    live = store.live_contents(ds)  # what the batch's fingerprints digest
    assert live == {n: s.live for n, s in snapshots.items() if s.live}
    assert all(list(live[n]) == list(snapshots[n].live) for n in live), "keys in the snapshots' order"
    assert withdrawn not in live[14] and live[13][KEY]["free"] and 15 in live and KEY in live[15]
    store.close()


def test_the_cohort_is_kept_between_processes_for_the_same_inputs_store_state_and_date(tmp_path, monkeypatch):
    """What ``rubric-kernel report`` reads from var/cache: the same results, recomputed whenever the
    inputs, the store's versions, its file or the date differ."""
    import dataclasses
    import datetime as dt
    import shutil

    from rubric_kernel import cohort, input_cache

    monkeypatch.setattr(cohort, "COHORTS", input_cache.InputCache(tmp_path / "cache", prefix="cohort-"))
    scored: list[int] = []
    real = cohort.score_sheets
    monkeypatch.setattr(cohort, "score_sheets", lambda *a, **k: scored.append(1) or real(*a, **k))
    base = load_workspace()
    ws = dataclasses.replace(base, inputs="inputs-1")

    def fresh(inputs: str = "inputs-1"):  # another process: the same inputs, nothing in memory
        return dataclasses.replace(base, inputs=inputs)

    db = tmp_path / "s.sqlite"
    store = Store(str(db))
    bootstrap(store, ws)
    ds, day = ws.dataset.name, ws.dataset.as_of
    first = cohort_for(ws, store, day)
    assert cohort_for(fresh(), store, day) == first and len(scored) == 1, "read back, not scored again"
    assert cohort_for(fresh("inputs-2"), store, day) == first and len(scored) == 2, "other inputs: scored"
    cohort_for(fresh(), store, day + dt.timedelta(days=1))
    assert len(scored) == 3, "another date: scored"
    snap = store.snapshot(ds, 13)
    store.save(ds, 13, {next(iter(snap.live)): None}, snap.base, expert="测试", stage="现场评估", reason="撤回")
    changed = cohort_for(fresh(), store, day)
    assert len(scored) == 4 and changed != first, "a new version: scored again, and it shows"
    assert changed == real(ws, store.current_sheets(ds, ws.rubric, ws.roster), day, strict=False)
    store.close()
    shutil.copy(db, tmp_path / "copy.sqlite")
    (tmp_path / "copy.sqlite").replace(db)  # a restore: another file, even with the same versions
    with Store(str(db)) as restored:
        assert cohort_for(fresh(), restored, day) == changed and len(scored) == 5, "another file: scored"
    cohort_for(base, Store(str(db)), day)
    assert len(scored) == 6, "a workspace whose inputs are not known is never read from the cache"


def test_the_batchs_judgment_digests_are_kept_for_the_same_inputs_file_and_store_state(tmp_path, monkeypatch):
    """What every batch run digests to decide what to execute: read back from var/cache while nothing
    changed, equal to digesting the live contents afresh, and read afresh after any save or a restore."""
    import dataclasses
    import shutil

    from rubric_kernel import input_cache
    from rubric_kernel.report import digest

    monkeypatch.setattr(digest, "JUDGMENT_DIGESTS", input_cache.InputCache(tmp_path / "cache", prefix="judgments-"))
    base = load_workspace()
    ws = dataclasses.replace(base, inputs="inputs-1")
    db = tmp_path / "s.sqlite"
    store = Store(str(db))
    bootstrap(store, ws)
    ds = ws.dataset.name
    reads: list[int] = []
    real = Store.live_contents
    monkeypatch.setattr(Store, "live_contents", lambda self, d: reads.append(1) or real(self, d))

    def fresh(s: Store) -> dict[int, str]:
        return {n: digest.judgments_digest(live) for n, live in real(s, ds).items()}

    first = digest.live_judgment_digests(ws, store)
    assert first == fresh(store) and 13 in first and set(first) <= set(ws.roster)
    assert digest.live_judgment_digests(ws, store) == first and len(reads) == 1, "read back, not read again"
    snap = store.snapshot(ds, 13)
    store.save(ds, 13, {next(iter(snap.live)): None}, snap.base, expert="测试", stage="现场评估", reason="撤回")
    changed = digest.live_judgment_digests(ws, store)
    assert len(reads) == 2 and changed == fresh(store), "a new version: read again"
    assert {n for n in first if first[n] != changed[n]} == {13}
    store.close()
    shutil.copy(db, tmp_path / "copy.sqlite")
    (tmp_path / "copy.sqlite").replace(db)  # a restore: another file, even with the same versions
    with Store(str(db)) as restored:
        assert digest.live_judgment_digests(ws, restored) == changed and len(reads) == 3, "another file: read"
        digest.live_judgment_digests(base, restored)
        assert len(reads) == 4, "a workspace whose inputs are not known is never read from the cache"


def test_the_comparison_digest_is_kept_as_the_cohort_is_and_follows_the_means(tmp_path, monkeypatch):
    """What every batch run digests of the cohort: read back while nothing changed, recomputed after a
    save, and equal to digesting the means and counts of a freshly scored cohort."""
    import dataclasses

    from rubric_kernel import cohort, input_cache
    from rubric_kernel.sheet_codec import digest

    for name, prefix in (("COHORTS", "cohort-"), ("COMPARISONS", "comparison-")):
        monkeypatch.setattr(cohort, name, input_cache.InputCache(tmp_path / "cache", prefix=prefix))
    base = load_workspace()

    def fresh():  # another process: the same inputs, nothing in memory
        return dataclasses.replace(base, inputs="inputs-1")

    def expected(store: Store) -> str:
        means, counts = cohort.comparison_basis(score_cohort(base, store.snapshots(ds), day, strict=False))
        return digest({"means": means, "counts": counts})

    computed: list[int] = []
    real = cohort.comparison_basis
    monkeypatch.setattr(cohort, "comparison_basis", lambda r: computed.append(1) or real(r))
    with Store(str(tmp_path / "s.sqlite")) as store:
        bootstrap(store, base)
        ds, day = base.dataset.name, base.dataset.as_of
        first = cohort.comparison_digest(fresh(), store, day)
        assert first == expected(store) and len(computed) == 2
        assert cohort.comparison_digest(fresh(), store, day) == first and len(computed) == 2, "read back"
        snap = store.snapshot(ds, 13)
        content = {**snap.live[KEY], "free": [{"points": 2.0, "reason": "现场发现问题"}]}
        store.save(ds, 13, {KEY: content}, snap.base, expert="测试", stage="现场评估")
        changed = cohort.comparison_digest(fresh(), store, day)
        assert changed != first and changed == expected(store)
