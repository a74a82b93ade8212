"""What a report depends on, digested, so an unchanged institution is not executed again."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from .. import __version__
from ..bundled import COLLECTION_PATH, MATERIALS_PATH, NOTEBOOK, PACKAGE_DIR, PROGRAMME_PATH
from ..report.digest import rubric_digest
from ..sheet_codec import digest
from ..workspace import Workspace


@cache
def code_digest() -> str:
    """The package's own source and templates: a code change re-renders every report.

    The shipped inputs under ``_bundled`` are not code: the notebook, the materials, the rubric and
    the dataset are digested on their own (``shared_inputs``)."""
    h = hashlib.sha256(__version__.encode())
    for p in sorted(PACKAGE_DIR.rglob("*")):
        rel = p.relative_to(PACKAGE_DIR)
        if p.suffix in (".py", ".j2", ".css", ".json") and not {"__pycache__", "_bundled"} & set(rel.parts):
            h.update(str(rel).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


# The parameter files every report reads besides the rubric (digested by content) and the roster (a row
# per institution): 附件3 for its materials section, the programme for its number, issuer and signers, the
# collection types for its pre-collection record. id-map.yaml is read only by ``store migrate``.
SHARED_FILES = {"materials": MATERIALS_PATH, "programme": PROGRAMME_PATH, "collection": COLLECTION_PATH}


def shared_inputs(ws: Workspace, as_of: str, notebook: Path = NOTEBOOK) -> dict[str, str]:
    """Inputs every report shares; with each institution's own (``institution_digests``) they decide a re-run."""
    files = {"notebook": notebook, **SHARED_FILES}
    return {
        **{name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in files.items()},
        "rubric": rubric_digest(ws),
        "code": code_digest(),
        "dataset": ws.dataset.name,
        "as_of": as_of or ws.dataset.as_of.isoformat(),
    }


def fingerprint(shared: dict[str, str], own: dict[str, str]) -> str:
    return digest({"shared": shared, "own": own})
