"""What a report depends on, digested, so an unchanged institution is not executed again."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from .. import __version__
from ..report.digest import rubric_digest
from ..sheet_codec import digest
from ..workspace import MATERIALS_PATH, NOTEBOOK, Workspace

PACKAGE_DIR = Path(__file__).resolve().parents[1]


@cache
def code_digest() -> str:
    """The package's own source and templates: a code change re-renders every report."""
    h = hashlib.sha256(__version__.encode())
    for p in sorted(PACKAGE_DIR.rglob("*")):
        if p.suffix in (".py", ".j2", ".css", ".json") and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(PACKAGE_DIR)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def shared_inputs(ws: Workspace, as_of: str, notebook: Path = NOTEBOOK) -> dict[str, str]:
    """Inputs every report shares; with each institution's own (``institution_digests``) they decide a re-run."""
    return {
        "notebook": hashlib.sha256(notebook.read_bytes()).hexdigest(),
        "materials": hashlib.sha256(MATERIALS_PATH.read_bytes()).hexdigest(),  # the report's 附件3 section
        "rubric": rubric_digest(ws),
        "code": code_digest(),
        "dataset": ws.dataset.name,
        "as_of": as_of or ws.dataset.as_of.isoformat(),
    }


def fingerprint(shared: dict[str, str], own: dict[str, str]) -> str:
    return digest({"shared": shared, "own": own})
