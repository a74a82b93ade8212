"""Execute the assessment notebook for one institution with papermill's engine, in this process."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ..bundled import NOTEBOOK
from . import notebook_json
from .contract import SKIP_TAG

# Kernel log lines below errors would print once per institution. No input history: each kernel would
# open, write and commit IPython's history database, one SQLite file shared (and locked) by every
# worker's kernels, for cells nobody recalls.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"]


def warm_up() -> None:
    """Import the engine and the kernel machinery now (most of a second), e.g. while a worker's kernel
    template preloads, rather than in its first institution."""
    import nbformat  # noqa: F401
    from papermill import engines, execute  # noqa: F401

    from . import kernels  # noqa: F401


def parameterised(parameters: dict[str, str], notebook: Path) -> Any:
    """The notebook as ``papermill.execute_notebook`` parameterises it: a plain dict from ``notebook_json``
    when it covers the notebook, else papermill's node (no parameters: the notebook as it is)."""
    nb = notebook_json.load(notebook, parameters) if parameters else None
    if nb is not None:
        return nb
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from .params import install

    install()
    node = load_notebook_node(str(notebook))
    return parameterize_notebook(node, parameters) if parameters else node


def execute_notebook(parameters: dict[str, str], notebook: Path = NOTEBOOK, cwd: Path | None = None):
    """The executed notebook node (raises papermill's error on a cell error).

    ``papermill.execute_notebook`` step by step through its public parts (the engine registry, the
    metadata and error helpers), less its final ``write_ipynb``: with no output path that serialised
    and validated the whole executed notebook only to discard it, and it read and validated the input
    again for every institution. Cells tagged ``SKIP_TAG`` are not run. The kernel comes from the
    batch's kernel spec: forked from this worker's template when it has one.
    """
    import nbformat
    from papermill.engines import papermill_engines
    from papermill.execute import prepare_notebook_metadata, raise_for_execution_errors, remove_error_markers

    from .kernels import KERNEL_NAME, BatchKernelManager

    nb = parameterised(parameters, notebook)
    nb = remove_error_markers(prepare_notebook_metadata(nbformat.from_dict(nb), str(notebook), None))
    with contextlib.chdir(cwd or notebook.parent):
        nb = papermill_engines.execute_notebook_with_engine(
            None,
            nb,
            kernel_name=KERNEL_NAME,
            input_path=str(notebook),
            output_path=None,
            progress_bar=False,
            kernel_manager_class=BatchKernelManager,
            shutdown_kernel="immediate",
            extra_arguments=KERNEL_ARGUMENTS,
            skip_cells_with_tag=SKIP_TAG,
        )
    raise_for_execution_errors(nb, None)
    return nb
