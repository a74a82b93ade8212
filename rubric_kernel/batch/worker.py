"""One institution's notebook: executed (``execute_job``), then exported, sealed and written (``finish_job``).

The batch splits the two: its worker processes only execute, each keeping the expensive client side
(imports, the translator, the kernel template), and the batch process exports each executed notebook
as it arrives. Exporting and sealing took a fifth of a worker's time per institution; done by the batch
process, which otherwise only waits, it no longer holds up the next institution's kernel.
``run_job`` does both in one process (one report on demand). Each institution still gets a fresh kernel.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .contract import RESULT_MIMETYPE

if TYPE_CHECKING:
    from ..signing import SigningKey

Keys = dict[tuple[str, bool], "SigningKey | None"]  # sealing keys by (issuer, synthetic), looked up once per run


@dataclass(frozen=True)
class Job:
    number: int
    title: str
    out_dir: Path
    params: dict[str, str]
    notebook: Path
    seal_as: str = ""  # the issuing role's login: the report is sealed with its key ("" unsealed)
    synthetic: bool = False  # demo data: a demo key may seal


@dataclass(frozen=True)
class Executed:
    """A job's executed notebook (papermill's node, or a dict in process), or the first line of its error."""

    number: int
    seconds: float
    notebook: Any = None
    error: str = ""


@dataclass(frozen=True)
class JobResult:
    number: int
    ok: bool
    seconds: float
    result: dict | None = None
    error: str = ""


def init_worker(data: str, db: str = "", as_of: str = "") -> None:
    """Once per worker process: imports, translator and the kernel template.

    The worker dies with the batch process that started it, and its template with it.
    """
    import atexit
    from multiprocessing import parent_process

    from .lifetime import die_with_parent
    from .provisioner import ForkProvisioner
    from .zygote import Zygote

    parent = parent_process()
    if parent is not None and parent.pid is not None:
        die_with_parent(parent.pid)
    template = Zygote(data, db, as_of)  # preloads while this process imports its own side below
    atexit.register(template.close)
    from . import execute, params

    params.install()
    execute.warm_up()
    template.wait_ready()
    ForkProvisioner.template = template


def _take_result(nb) -> tuple[dict | None, Callable[[], None]]:
    """The notebook's machine-readable result, taken out for the HTML export: the whole output when it
    is the result alone, else its entry beside the page. The returned function puts it back."""
    for cell in nb["cells"]:
        outputs = cell.get("outputs", [])
        for i, out in enumerate(outputs):
            data = out.get("data", {})
            if RESULT_MIMETYPE in data:
                # plain JSON data, not nested NotebookNodes, for the state file and the cohort tables
                result = json.loads(json.dumps(data[RESULT_MIMETYPE]))
                if len(data) == 1:
                    outputs.pop(i)
                    return result, partial(outputs.insert, i, out)
                return result, partial(data.__setitem__, RESULT_MIMETYPE, data.pop(RESULT_MIMETYPE))
    return None, lambda: None


# Errors the package raises for a user's input already speak Chinese: the class name adds nothing for the reader.
USER_ERRORS = frozenset({"InputError", "NotebookInputError", "StoreError", "StaleSave"})


def _first_error_line(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        line = str(evalue) if ename in USER_ERRORS else f"{ename}: {evalue}"
        return (line.splitlines() or [ename])[0]
    text = "".join(traceback.format_exception_only(exc)).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def execute_job(job: Job, in_process: bool = False) -> Executed:
    """Never raises: a failure is a result, so one institution cannot stop the others.

    ``in_process``: run the notebook's cells in this process instead of a kernel (one report on demand)."""
    start = time.perf_counter()
    try:
        if in_process:
            from .inprocess import execute_in_process

            nb = execute_in_process(job.params, job.notebook)
        else:
            from .execute import execute_notebook

            nb = execute_notebook(job.params, job.notebook)
        return Executed(job.number, time.perf_counter() - start, nb)
    except Exception as exc:  # isolate every failure to its institution
        return Executed(job.number, time.perf_counter() - start, error=_first_error_line(exc))


def _sealing_key(job: Job, keys: Keys) -> SigningKey | None:
    """The key the job's report is sealed with, looked up once per issuer in ``keys`` (a batch's): every
    institution is sealed by the same issuer. A refusal (no passphrase) is not kept: each job reports it."""
    from ..keyring import issuer_key

    if not job.seal_as:
        return None
    issuer = (job.seal_as, job.synthetic)
    if issuer not in keys:
        keys[issuer] = issuer_key(*issuer)
    return keys[issuer]


def finish_job(job: Job, executed: Executed, direct: bool = False, keys: Keys | None = None) -> JobResult:
    """The executed notebook's report, sealed, and both files written; never raises.

    ``direct``: the page is written without nbconvert when the notebook allows (``export_html``). The
    notebook file is written by ``notebook_json.dumps`` (equal to ``nbformat.v4.writes``, tested).
    ``keys``: the sealing keys already looked up by this run (``_sealing_key``)."""
    from ..files import atomic_write
    from ..report.export import export_html
    from .notebook_json import dumps

    if executed.error:
        return JobResult(job.number, False, executed.seconds, error=executed.error)
    start = time.perf_counter()
    try:
        nb = executed.notebook
        result, restore = _take_result(nb)
        if result is None:
            raise RuntimeError("工作簿未输出评分结果")
        key = _sealing_key(job, {} if keys is None else keys)
        html = export_html(nb, job.title, key, synthetic=job.synthetic, direct=direct)
        restore()
        stem = f"{job.number:02d}"
        atomic_write(job.out_dir / f"{stem}.ipynb", dumps(nb))
        atomic_write(job.out_dir / f"{stem}.html", html)
        return JobResult(job.number, True, executed.seconds + time.perf_counter() - start, result)
    except Exception as exc:  # isolate every failure to its institution
        return JobResult(
            job.number, False, executed.seconds + time.perf_counter() - start, error=_first_error_line(exc)
        )


def run_job(job: Job, in_process: bool = False) -> JobResult:
    """Execute and finish in this process; never raises. ``in_process`` as for ``execute_job``, and the
    page then written without nbconvert when the notebook allows."""
    return finish_job(job, execute_job(job, in_process), direct=in_process)
