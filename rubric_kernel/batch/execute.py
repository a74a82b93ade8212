"""Execute the assessment notebook for one institution with papermill, in this process."""

from __future__ import annotations

from pathlib import Path

from ..bundled import NOTEBOOK


def execute_notebook(parameters: dict[str, str], notebook: Path = NOTEBOOK, cwd: Path | None = None):
    """Run papermill in this process; returns the executed notebook node (raises on a cell error).

    The kernel comes from the batch's kernel spec: forked from this worker's template when it has one.
    """
    import papermill

    from .kernels import KERNEL_NAME, BatchKernelManager

    return papermill.execute_notebook(
        str(notebook),
        None,
        parameters=parameters,
        progress_bar=False,
        request_save_on_cell_execute=False,
        kernel_name=KERNEL_NAME,
        kernel_manager_class=BatchKernelManager,
        cwd=str(cwd or notebook.parent),
        shutdown_kernel="immediate",
        # Kernel log lines below errors would print once per institution.
        # No input history: each kernel would open, write and commit IPython's history database, one
        # SQLite file shared (and locked) by every worker's kernels, for cells nobody recalls.
        extra_arguments=["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"],
    )
