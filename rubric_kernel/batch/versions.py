"""The software a run was made with, as its manifest records it: Python and the packages that shape a report.

Finding eight distributions and parsing their metadata (``importlib.metadata`` and the email parser
it uses) cost 0.03–0.04 s of every batch run, a tenth of an unchanged re-run. The answer changes only
when a package is installed, upgraded or removed, and every installer then adds or removes a
``*.dist-info`` folder in a folder of ``sys.path``, which changes that folder's modification time.
So it is kept in ``var/cache`` under the interpreter and the modification times of those folders.
rubric-kernel's own version is the running code's ``__version__``: an editable install can rewrite its
metadata in place, without touching a folder of ``sys.path``.
"""

from __future__ import annotations

import os
import platform
import sys

from .. import __version__
from ..input_cache import VERSIONS, digest_key

PACKAGES = ("papermill", "nbconvert", "nbclient", "ipykernel", "ipywidgets", "sqlalchemy", "pydantic")
NOT_INSTALLED = "未安装"


def _installed() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = NOT_INSTALLED
    return out


def _paths_state() -> list[tuple[str, int]]:
    """Each folder of ``sys.path`` with its modification time (-1: absent)."""
    state = []
    for entry in sys.path:
        try:
            state.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            state.append((entry, -1))
    return state


def run_versions() -> dict[str, str]:
    """Python's version, rubric-kernel's, and each of ``PACKAGES``' (未安装 when absent)."""
    key = digest_key(sys.executable, sys.version, _paths_state())
    return {"python": platform.python_version(), "rubric-kernel": __version__, **VERSIONS.get_keyed(key, _installed)}
