"""What a report depends on, digested, so an unchanged institution is not executed again.

Everything a report shows must be here, or a re-run keeps showing what it showed before: the files it
reads, the store's contents for the institution (judgments, their whole version history, workflow
events), and what it shares with every other report: the cohort means it compares the institution with
and the registered keys its signatures are checked against.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from .. import __version__
from ..bundled import COLLECTION_PATH, MATERIALS_PATH, NOTEBOOK, PACKAGE_DIR, PROGRAMME_PATH
from ..cohort import comparison_digest
from ..evidence import parse_date
from ..keyring import registered
from ..report.digest import institution_digests, rubric_digest
from ..sheet_codec import digest
from ..store import Event, Store
from ..workspace import Workspace
from .versions import run_versions


@cache
def code_digest() -> str:
    """The package's own source and templates: a code change re-renders every report.

    The shipped inputs under ``_bundled`` are not code: the notebook, the parameter files and the
    dataset are digested on their own (``shared_inputs``, ``own_inputs``)."""
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


def shared_inputs(ws: Workspace, store: Store, as_of: str, notebook: Path = NOTEBOOK) -> dict[str, str]:
    """Inputs every report shares; with each institution's own (``own_inputs``) they decide a re-run."""
    files = {"notebook": notebook, **SHARED_FILES}
    day = parse_date(as_of) if as_of else ws.dataset.as_of
    keys = [[k.login, k.algorithm, k.fingerprint, str(k.registered), str(k.revoked)] for k in registered(store)]
    return {
        **{name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in files.items()},
        "rubric": rubric_digest(ws),
        "code": code_digest(),
        "software": digest(run_versions()),  # the notebook machinery and the exporter render every page
        "dataset": ws.dataset.name,
        "mark": ws.dataset.mark,  # synthetic data: every page says so, and only a demo key may seal it
        "as_of": day.isoformat(),
        # the report's comparison with its class and the whole cohort: one institution's new scores move
        # the means every other report shows
        "cohort": comparison_digest(ws, store, day),
        "keys": digest(keys),  # each expert's signature is shown valid or not against these
    }


def own_inputs(
    ws: Workspace, number: int, judgments: str, events: list[Event], history: tuple[int, int]
) -> dict[str, str]:
    """An institution's own inputs: what its report records (``institution_digests``) and its sheet's
    version history (``Store.history_marks``), which the report's 修改记录 lists whole: withdrawing a
    judgment and restoring it leaves the current judgments as they were, but not the record."""
    return {**institution_digests(ws, number, judgments, events), "history": digest(list(history))}


def fingerprint(shared: dict[str, str], own: dict[str, str]) -> str:
    return digest({"shared": shared, "own": own})
