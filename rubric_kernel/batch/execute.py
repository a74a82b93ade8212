"""Execute the notebook for one institution and export its HTML report, atomically.

Both files are written under temporary names and renamed into place, so a reader never sees a
half-written report and an interrupted run leaves the previous report intact.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..workspace import NOTEBOOK


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write under a temporary name in the same folder, then rename: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
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
