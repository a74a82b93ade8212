"""Where every file the package ships and every file it writes lives: the one place that knows paths.

Shipped (read-only): the parameters, the notebooks, the demo dataset and the report template, read
through ``importlib.resources``. In the repository ``rubric_kernel/_bundled`` holds symlinks to the
top-level ``parameters/``, ``notebooks/`` and ``data/demo``, so an editable install reads the checkout
and a wheel carries copies (pyproject.toml).

Written: the working folder ("home") holds ``var/`` (the store and its backups) and ``outputs/``.
It is ``RUBRIC_KERNEL_HOME`` (the CLI's ``--home`` sets it, so kernels and batch workers inherit it),
else the checkout when the package runs from one (``make run`` writes where it always did), else the
current directory.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

HOME_ENV = "RUBRIC_KERNEL_HOME"


def _package_dir() -> Path:
    root = files(__package__)
    if not isinstance(root, Path):  # a zipped install: nbconvert and the loaders need real files
        raise RuntimeError("rubric_kernel must be installed unpacked (pip/pipx do), not imported from a zip")
    return root


PACKAGE_DIR = _package_dir()
_BUNDLED = PACKAGE_DIR / "_bundled"

# resolve(): in a checkout the symlinks give the files' real paths, so messages name parameters/rubric.yaml
PARAMETERS = (_BUNDLED / "parameters").resolve()
RUBRIC_PATH = PARAMETERS / "rubric.yaml"
ROSTER_PATH = PARAMETERS / "institutions.csv"
MATERIALS_PATH = PARAMETERS / "materials.yaml"
PROGRAMME_PATH = PARAMETERS / "programme.yaml"
ID_MAP_PATH = PARAMETERS / "id-map.yaml"
COLLECTION_PATH = PARAMETERS / "collection.yaml"
DEMO_DATA = (_BUNDLED / "demo").resolve()
NOTEBOOKS = (_BUNDLED / "notebooks").resolve()
NOTEBOOK = NOTEBOOKS / "assessment.ipynb"
REPORT_CSS = PACKAGE_DIR / "report" / "report.css"
REPORT_TEMPLATES = PACKAGE_DIR / "report" / "template"
TEMPLATES = PACKAGE_DIR / "templates"  # the Jinja2 templates of the report and the cohort pages


def checkout() -> Path | None:
    """The repository the package runs from (an editable install), or None for an installed wheel."""
    top = PACKAGE_DIR.parent
    if (_BUNDLED / "parameters").is_symlink() and (top / "pyproject.toml").is_file():
        return top
    return None


def home() -> Path:
    """The working folder: RUBRIC_KERNEL_HOME, else the checkout, else the current directory."""
    chosen = os.environ.get(HOME_ENV)
    if chosen:
        return Path(chosen).expanduser().resolve()
    return checkout() or Path.cwd().resolve()


def var_dir() -> Path:
    return home() / "var"


def outputs_dir() -> Path:
    return home() / "outputs"


def default_db_path() -> Path:
    return var_dir() / "rubric-kernel.sqlite"
