"""Scoring every institution of a dataset at once: the cohort the reports compare against."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from .errors import Fault, InputError
from .input_cache import COHORTS, COMPARISONS
from .scoring import Result
from .sheet import Sheet, check_sheet
from .sheet_codec import digest
from .store import Snapshot, Store
from .workspace import Workspace


def score_cohort(
    ws: Workspace, snapshots: Mapping[int, Snapshot], as_of: dt.date | None = None, *, strict: bool = True
) -> dict[int, Result]:
    """Results for every roster institution from the store's current sheets (missing sheet: all pending).

    ``strict``: a sheet that fails its check raises (lists, announcements); otherwise that institution
    is left out (the comparison averages in other institutions' reports must not fail because of it).
    """
    sheets = {n: snapshots.get(n, Snapshot({})).sheet(ws.rubric) for n in ws.roster}
    return score_sheets(ws, sheets, as_of, strict=strict)


def score_sheets(
    ws: Workspace, sheets: Mapping[int, Sheet], as_of: dt.date | None = None, *, strict: bool = True
) -> dict[int, Result]:
    """``score_cohort`` from the sheets themselves, one for every roster institution."""
    as_of = as_of or ws.dataset.as_of
    faults: list[Fault] = []
    results: dict[int, Result] = {}
    for n in ws.roster:
        sheet = sheets[n]
        evidence = ws.dataset.for_institution(n)
        found = check_sheet(sheet, ws.rubric, evidence, f"评分库（机构 {n}）")
        if found:
            faults.extend(found)
            continue
        results[n] = ws.score(n, sheet, as_of)
    if faults and strict:
        raise InputError(faults)
    return results


def cohort_for(ws: Workspace, store: Store, as_of: dt.date) -> dict[int, Result]:
    """``score_cohort`` (lenient) over the store's current sheets, memoised by the workspace while the
    store is unchanged.

    Versions are append-only, so (count, newest id) identifies the store's state; a batch's 75
    notebooks then score the cohort once per kernel template instead of once each. Across processes
    (``rubric-kernel report``, where scoring the cohort was a third of the command) the results are
    kept in ``var/cache`` under ``_kept_key``: a pure function of exactly what it digests.
    """
    state = store.state_token(ws.dataset.name)
    key = (store.url, ws.dataset.name, state, as_of)

    def score() -> dict[int, Result]:
        sheets = store.current_sheets(ws.dataset.name, ws.rubric, ws.roster)
        return score_sheets(ws, sheets, as_of, strict=False)

    return ws.cohort_memo.get(key, lambda: COHORTS.get_keyed(_kept_key(ws, store, as_of), score))


def _kept_key(ws: Workspace, store: Store, as_of: dt.date) -> str | None:
    """The store's state (``Store.derived_key``), the inputs and code (``Workspace.inputs``) and the date."""
    return store.derived_key(ws.dataset.name, ws.inputs, as_of.isoformat())


def comparison_digest(ws: Workspace, store: Store, as_of: dt.date) -> str:
    """The digest of ``comparison_basis`` of the cohort: what every report compares its institution with.

    Kept in ``var/cache`` as the cohort is: every batch run digests it to decide what to execute, and
    reading the whole cohort back for it was a tenth of an unchanged re-run."""
    key = _kept_key(ws, store, as_of)

    def compute() -> str:
        means, counts = comparison_basis(cohort_for(ws, store, as_of))
        return digest({"means": means, "counts": counts})

    return COMPARISONS.get_keyed(key, compute)


def comparison_basis(results: Mapping[int, Result]) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """What a report compares an institution with: the mean first-level scores of the complete results,
    per class and for all ("全部"), and how many institutions each mean is over."""
    complete = {n: r for n, r in results.items() if r.status == "complete"}
    means = class_means(complete)
    counts = {k: sum(1 for r in complete.values() if k in ("全部", r.klass)) for k in means}
    return means, counts


def class_means(results: Mapping[int, Result]) -> dict[str, dict[str, float]]:
    """Mean first-level scores per class and for the whole cohort ("全部")."""
    groups: dict[str, list[Result]] = {"全部": list(results.values())}
    for r in results.values():
        groups.setdefault(r.klass, []).append(r)
    return {
        name: {k: sum(r.level1[k] for r in rs) / len(rs) for k in rs[0].level1} for name, rs in groups.items() if rs
    }
