"""Execute the parameterised assessment notebook in this process, without a kernel, for one report.

``rubric-kernel report`` makes one report: starting a kernel, importing the package a second time in
it and loading the workspace again cost most of its time. Here the notebook is parameterised exactly
as the batch does (papermill's injected cell, written by ``notebook_json`` without importing
papermill when the notebook is the plain kind it covers), its code cells run one after another in an
IPython shell in this process, and each cell's outputs are recorded as a kernel would send them. The
batch's exporter then turns the notebook into the same report.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from ..bundled import NOTEBOOK
from .contract import SKIP_TAG
from .execute import parameterised


class CellError(RuntimeError):
    """A cell raised: named like papermill's error (``ename``, ``evalue``) so the report command says the same."""

    def __init__(self, exc: BaseException):
        self.ename, self.evalue = type(exc).__name__, str(exc)
        super().__init__(f"{self.ename}: {self.evalue}")


def execute_in_process(parameters: dict[str, str], notebook: Path = NOTEBOOK, cwd: Path | None = None):
    """The executed notebook (a dict, or papermill's node), as ``execute.execute_notebook`` would return it;
    raises ``CellError`` on a cell error."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config

    nb = parameterised(parameters, notebook)
    config = Config()
    config.HistoryManager.enabled = False  # as the batch's kernels: no history database for these cells
    main = sys.modules["__main__"]
    shell = InteractiveShell.instance(config=config)
    sys.modules["__main__"] = main  # the shell installs its namespace there; this process keeps its own
    count = 0
    with contextlib.chdir(cwd or notebook.parent):
        for cell in nb["cells"]:
            if cell["cell_type"] != "code" or SKIP_TAG in cell["metadata"].get("tags", []):
                continue  # skipped as the batch's kernels skip it
            count += 1
            with capture_output() as captured:
                result = shell.run_cell(cell["source"], store_history=False, silent=False)
            cell["execution_count"] = count
            cell["outputs"] = _outputs(captured)
            if result.error_before_exec or result.error_in_exec:
                raise CellError(result.error_before_exec or result.error_in_exec)
    return nb


def _outputs(captured) -> list[dict[str, Any]]:
    """A cell's outputs as nbformat records (``nbformat.v4.new_output``'s fields): its printed text, then
    its displays (the notebook's cells end in calls, not values, so there is no execute_result to record)."""
    streams = (("stdout", captured.stdout), ("stderr", captured.stderr))
    outputs = [{"output_type": "stream", "name": name, "text": text} for name, text in streams if text]
    displays = [{"output_type": "display_data", "data": o.data, "metadata": o.metadata or {}} for o in captured.outputs]
    return outputs + displays
