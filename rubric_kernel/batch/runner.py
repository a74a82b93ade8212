"""The batch: every selected institution through the notebook, in parallel, incrementally, atomically.

Institutions whose inputs are unchanged since their last success (``fingerprint``) are reused, the
others executed on a pool of workers; each result is recorded as it arrives (``state``), and the run's
folder is published only once it is complete (``run_folders``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..bundled import NOTEBOOK
from ..keyring import prepare_seal
from ..report.digest import judgments_digest, live_judgment_digests
from ..sheet_codec import digest
from ..spreadsheet import warm_up as warm_up_workbooks
from ..store import Store
from ..workflow.collection import PROGRAMME_WIDE
from ..workspace import Workspace
from . import cohort_pages
from .contract import STORE_READY_VARIABLE, notebook_parameters, store_ready_token
from .fingerprint import fingerprint, own_inputs, shared_inputs
from .progress import Progress
from .run_folders import (
    incomplete_runs,
    locked,
    new_run_id,
    remove_leftovers,
    reuse_outputs,
    reuse_pages,
    switch_latest,
)
from .state import Entry, State
from .versions import run_versions
from .worker import Job, JobResult, Keys, execute_job, finish_job, init_worker


@dataclass
class BatchConfig:
    out: Path
    numbers: list[int]
    workers: int
    data: str
    db_url: str
    as_of: str = ""
    notebook: Path = NOTEBOOK
    rubric: str = ""  # absolute paths, or "" for the bundled files: the notebooks must load what the CLI loaded
    roster: str = ""
    store_ready: bool = False  # the caller ran the store's first-use check (judgments.bootstrap): kernels skip it


@dataclass
class BatchReport:
    run_id: str
    run_dir: Path
    executed: list[int] = field(default_factory=list)
    reused: list[int] = field(default_factory=list)
    failures: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    published: bool = False  # latest now shows this run (not when every institution of it failed)
    incomplete: list[Path] = field(default_factory=list)  # killed runs' folders found at the start


def run_batch(ws: Workspace, store: Store, cfg: BatchConfig, title_of) -> BatchReport:
    _ = ws.programme  # a faulty programme file stops the run before any notebook runs
    cfg.out.mkdir(parents=True, exist_ok=True)
    with locked(cfg.out):
        return _run(ws, store, cfg, title_of)


def _run(ws: Workspace, store: Store, cfg: BatchConfig, title_of) -> BatchReport:
    out = cfg.out
    programme = ws.programme
    remove_leftovers(out)
    incomplete = incomplete_runs(out)
    state = State.load(out)
    run_id = new_run_id(out)
    run_dir = out / run_id
    run_dir.mkdir()
    report = BatchReport(run_id, run_dir, incomplete=incomplete)
    started = time.perf_counter()

    prepare_seal(store, programme.roles.organiser.value, ws.dataset.synthetic)
    judgments = live_judgment_digests(ws, store)
    history = store.history_marks(ws.dataset.name)
    shared = shared_inputs(ws, store, cfg.as_of, cfg.notebook)
    events: dict[int, list] = {}
    for e in store.events(ws.dataset.name):
        events.setdefault(e.institution, []).append(e)
    wide = events.get(PROGRAMME_WIDE, [])  # the pre-collection record, which every report states
    none = judgments_digest({})
    own = {
        n: own_inputs(ws, n, judgments.get(n, none), [*wide, *events.get(n, [])], history.get(n, (0, 0)))
        for n in ws.roster
    }
    prints = {n: fingerprint(shared, own[n]) for n in ws.roster}
    selected = set(cfg.numbers)

    jobs: list[Job] = []
    for n in ws.roster:
        entry = state.entries.get(n)
        up_to_date = entry is not None and entry.fingerprint == prints[n]
        if n not in selected:
            if entry is not None and entry.result is not None:
                reuse_outputs(out, run_dir, n, entry)  # keep the run a complete view of the cohort
            continue
        if up_to_date and reuse_outputs(out, run_dir, n, entry):
            report.reused.append(n)
            continue
        # the store URL travels in the environment
        params = notebook_parameters(n, data=cfg.data, as_of=cfg.as_of, rubric=cfg.rubric, roster=cfg.roster)
        seal_as = programme.roles.organiser.value  # the organiser issues the report (实施方案 四（一）)
        jobs.append(Job(n, title_of(n), run_dir, params, cfg.notebook, seal_as, ws.dataset.synthetic))
    state.save()  # entries moved out of killed runs' folders, and an interrupted run's journal folded in

    timings: dict[int, float] = {}
    progress = Progress(len(jobs))
    mark = ws.dataset.mark

    def tables() -> tuple[dict[int, dict], str]:
        """The run's results and the digest of what its cohort tables are made from; the tables are
        written unless the run latest shows made them from the same inputs."""
        results = {
            n: e.result
            for n, e in state.entries.items()
            if e.result is not None and (run_dir / f"{n:02d}.html").exists()
        }
        pages = digest(
            {
                # roster, rubric, programme, code and every other input (``shared_inputs``)
                "prints": {str(n): prints[n] for n in ws.roster},
                "results": {str(n): r for n, r in sorted(results.items())},
                "mark": mark,
            }
        )
        if not reuse_pages(out, run_dir, pages):  # the workbooks are most of an unchanged re-run's time
            cohort_pages.write_summary(run_dir, ws.rubric, results, mark)
            cohort_pages.write_publicity(run_dir, ws.roster, results, mark, programme=programme, rubric=ws.rubric)
        return results, pages

    # The tables are written as soon as the last result is in, while the pool waits for its workers and
    # their kernel templates to exit (most of a second, spent waiting); their library is imported while
    # the notebooks run.
    with ThreadPoolExecutor(max_workers=1) as writer:
        if jobs:
            writer.submit(warm_up_workbooks)
        written: list[Future] = []

        def finished(res: JobResult) -> None:
            timings[res.number] = round(res.seconds, 3)
            _record(state, res, prints, run_id, report)
            progress.step(res.ok, f"机构 {res.number}")
            if len(timings) == len(jobs):
                written.append(writer.submit(tables))

        # Kernels find the store through RUBRIC_KERNEL_DB, never through a parameter: a database password
        # must not be written into every executed notebook.
        kernel_env = {"RUBRIC_KERNEL_DB": cfg.db_url}
        if cfg.store_ready:
            kernel_env[STORE_READY_VARIABLE] = store_ready_token(store.url, ws.dataset.name)
        with _environment(kernel_env):
            execute_jobs(jobs, cfg.workers, finished, (cfg.data, cfg.db_url, cfg.as_of))
        results, pages = written[0].result() if written else tables()
    state.save()  # the journal of this run's results folded into the state file
    cohort_pages.write_index(run_dir, ws.rubric, ws.roster, results, report.failures, mark, run_id)
    report.seconds = time.perf_counter() - started
    cohort_pages.write_manifest(
        run_dir,
        {
            "run_id": run_id,
            "dataset": ws.dataset.name,
            "synthetic": ws.dataset.synthetic,
            "versions": run_versions(),  # read back from var/cache: shared_inputs asked already
            "inputs": {"shared": shared, "institutions": {str(n): own[n] for n in ws.roster}},
            "institutions": {
                str(n): {
                    "outcome": "executed"
                    if n in report.executed
                    else "reused"
                    if n in report.reused
                    else "failed"
                    if n in report.failures
                    else "not selected",
                    "seconds": timings.get(n),
                    "error": report.failures.get(n, ""),
                    "fingerprint": prints[n],
                }
                for n in ws.roster
            },
            "seconds": round(report.seconds, 2),
            "pages": pages,
        },
    )
    # A run in which every selected institution failed (a bad option, a broken input) has no report to
    # show: latest keeps showing the last run that had one.
    report.published = bool(report.executed or report.reused or not report.failures)
    if report.published:
        switch_latest(out, run_id)
    return report


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in this process's environment (the workers and their kernels inherit it), then as before."""
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute_jobs(
    jobs: list[Job], workers: int, finished: Callable[[JobResult], None], warm: tuple[str, str, str] = ("", "", "")
) -> None:
    """Execute jobs' notebooks on a pool of worker processes; this process exports, seals and writes
    each as it arrives (``worker.finish_job``), then reports its result.

    ``warm`` (data folder, store URL, as-of) is what each worker's kernel template preloads.
    """
    if not jobs:
        return
    # not for a run that executes nothing (an unchanged re-run is mostly imports)
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from ..report.export import warm_up as warm_up_exporter

    by_number = {job.number: job for job in jobs}
    keys: Keys = {}  # the issuer's sealing key, looked up at the first report rather than at every one
    ctx = get_context("spawn")  # workers must not inherit this process's database connections
    with ThreadPoolExecutor(max_workers=1) as loader:
        exporter = loader.submit(warm_up_exporter)  # the templates load while the workers start
        with ProcessPoolExecutor(
            max_workers=min(workers, len(jobs)), mp_context=ctx, initializer=init_worker, initargs=warm
        ) as pool:
            futures = [pool.submit(execute_job, job) for job in jobs]
            try:
                for fut in as_completed(futures):
                    executed = fut.result()
                    exporter.result()
                    finished(finish_job(by_number[executed.number], executed, keys=keys))
            except KeyboardInterrupt:
                for f in futures:
                    f.cancel()
                raise


def _record(state: State, res: JobResult, prints: dict[int, str], run_id: str, report: BatchReport) -> None:
    if res.ok:
        state.record(res.number, Entry(prints[res.number], run_id, res.result, round(res.seconds, 3)))
        report.executed.append(res.number)
    else:
        previous = state.entries.get(res.number, Entry())
        state.record(res.number, Entry("", previous.run, previous.result, round(res.seconds, 3), res.error))
        report.failures[res.number] = res.error


def failures_text(report: BatchReport) -> str:
    """The failure table the batch command shows (empty when nothing failed)."""
    if not report.failures:
        return ""
    lines = [f"\n失败 {len(report.failures)} 家（下次运行会自动重试）：", f"{'序号':>4}  首条错误"]
    lines += [f"{n:>4}  {err}" for n, err in sorted(report.failures.items())]
    return "\n".join(lines)
