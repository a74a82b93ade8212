"""Worker processes: import papermill and nbconvert once, then execute and export one institution at a time.

Each institution still gets a fresh kernel (papermill starts one per notebook); what the worker keeps
is the expensive client side: imports, the translator, and the HTML exporter with its templates.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .contract import RESULT_MIMETYPE


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
class JobResult:
    number: int
    ok: bool
    seconds: float
    result: dict | None = None
    error: str = ""


def init_worker(data: str, db: str = "", as_of: str = "") -> None:
    """Once per worker process: imports, translator, exporter and the kernel template.

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
    from ..report.export import warm_up
    from . import params

    params.install()
    warm_up()
    template.wait_ready()
    ForkProvisioner.template = template


def _take_result(nb) -> tuple[dict | None, Callable[[], None]]:
    """The notebook's result output, removed for the HTML export; the returned function puts it back."""
    for cell in nb["cells"]:
        outputs = cell.get("outputs", [])
        for i, out in enumerate(outputs):
            if RESULT_MIMETYPE in out.get("data", {}):
                outputs.pop(i)
                # plain JSON data, not nested NotebookNodes: cheaper to send back and to store
                return json.loads(json.dumps(out["data"][RESULT_MIMETYPE])), partial(outputs.insert, i, out)
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


def run_job(job: Job, in_process: bool = False) -> JobResult:
    """Never raises: a failure is a result, so one institution cannot stop the others.

    ``in_process``: run the notebook's cells in this process instead of a kernel (one report on demand),
    and write its files without importing nbformat or nbconvert when the notebook allows. The notebook
    file is written by ``notebook_json.dumps`` on both paths (equal to ``nbformat.v4.writes``, tested)."""
    from ..files import atomic_write
    from ..keyring import issuer_key
    from ..report.export import export_html
    from .execute import execute_notebook
    from .notebook_json import dumps

    start = time.perf_counter()
    try:
        if in_process:
            from .inprocess import execute_in_process

            nb = execute_in_process(job.params, job.notebook)
        else:
            nb = execute_notebook(job.params, job.notebook)
        result, restore = _take_result(nb)
        if result is None:
            raise RuntimeError("工作簿未输出评分结果")
        key = issuer_key(job.seal_as, job.synthetic) if job.seal_as else None
        html = export_html(nb, job.title, key, synthetic=job.synthetic, direct=in_process)
        restore()
        stem = f"{job.number:02d}"
        atomic_write(job.out_dir / f"{stem}.ipynb", dumps(nb))
        atomic_write(job.out_dir / f"{stem}.html", html)
        return JobResult(job.number, True, time.perf_counter() - start, result)
    except Exception as exc:  # isolate every failure to its institution
        return JobResult(job.number, False, time.perf_counter() - start, error=_first_error_line(exc))
