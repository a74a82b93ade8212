"""Execute the assessment notebook for one institution with papermill, in this process."""

from __future__ import annotations

from pathlib import Path

from ..workspace import NOTEBOOK


def execute_notebook(parameters: dict[str, str], notebook: Path = NOTEBOOK, cwd: Path | None = None):
    """Run papermill in this process; returns the executed notebook node (raises on a cell error)."""
    import papermill

    from .zygote import ForkKernelManager, Zygote

    extra = {"kernel_manager_class": ForkKernelManager} if Zygote.current else {}
    return papermill.execute_notebook(
        str(notebook),
        None,
        parameters=parameters,
        progress_bar=False,
        request_save_on_cell_execute=False,
        kernel_name="python3",
        cwd=str(cwd or notebook.parent),
        shutdown_kernel="immediate",
        # Kernels listen on loopback only; their TCP-without-encryption warning would print once per institution.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        **extra,
    )
