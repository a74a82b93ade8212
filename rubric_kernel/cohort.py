"""Scoring every institution of a dataset at once: the cohort the reports compare against."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from .errors import Fault, InputError
from .input_cache import COHORTS, digest_key
from .scoring import Result
from .sheet import Sheet, check_sheet
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
    kept in ``var/cache`` under the digest of the inputs and code (``Workspace.inputs``), the SQLite
    file (a restore replaces it), its state and the date: a pure function of exactly these.
    """
    state = store.state_token(ws.dataset.name)
    key = (store.url, ws.dataset.name, state, as_of)

    def score() -> dict[int, Result]:
        sheets = store.current_sheets(ws.dataset.name, ws.rubric, ws.roster)
        return score_sheets(ws, sheets, as_of, strict=False)

    def kept() -> dict[int, Result]:
        where = store.file_identity()
        if not ws.inputs or where is None:
            return score()
        return COHORTS.get_keyed(digest_key(ws.inputs, where, ws.dataset.name, state, as_of.isoformat()), score)

    return ws.cohort_memo.get(key, kept)


def class_means(results: Mapping[int, Result]) -> dict[str, dict[str, float]]:
    """Mean first-level scores per class and for the whole cohort ("全部")."""
    groups: dict[str, list[Result]] = {"全部": list(results.values())}
    for r in results.values():
        groups.setdefault(r.klass, []).append(r)
    return {
        name: {k: sum(r.level1[k] for r in rs) / len(rs) for k in rs[0].level1} for name, rs in groups.items() if rs
    }
