"""Execute the notebook for one institution and export its HTML report, atomically.

Both files are written under temporary names and renamed into place, so a reader never sees a
half-written report and an interrupted run leaves the previous report intact.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..workspace import NOTEBOOK
from . import params


@dataclass(frozen=True)
class Outcome:
    notebook: Path
    html: Path


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def execute_notebook(parameters: dict[str, str], notebook: Path = NOTEBOOK, cwd: Path | None = None):
    """Run papermill in this process; returns the executed notebook node (raises on a cell error)."""
    import papermill

    params.install()
    return papermill.execute_notebook(
        str(notebook),
        None,
        parameters=parameters,
        progress_bar=False,
        request_save_on_cell_execute=False,
        kernel_name="python3",
        cwd=str(cwd or notebook.parent),
        shutdown_kernel="immediate",
    )


def run_institution(number: int, out_dir: Path, title: str, **notebook_params: str) -> Outcome:
    """Execute, export, and move both files into ``out_dir`` as ``NN.ipynb`` and ``NN.html``."""
    from ..report.export import export_html

    nb = execute_notebook(params.notebook_parameters(number, **notebook_params))
    html = export_html(nb, title)
    stem = f"{number:02d}"
    outcome = Outcome(out_dir / f"{stem}.ipynb", out_dir / f"{stem}.html")
    atomic_write(outcome.notebook, nbformat.writes(nb))
    atomic_write(outcome.html, html)
    return outcome
