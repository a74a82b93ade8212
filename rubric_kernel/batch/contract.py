"""What the notebook and its runners agree on, importable without papermill (the kernel imports it)."""

import hashlib
from dataclasses import asdict, dataclass

# The notebook's machine-readable output: its result as ``Result.as_json()``, invisible in the HTML.
RESULT_MIMETYPE = "application/vnd.rubric-kernel.result+json"

# Cells a report run skips (nbclient's ``skip_cells_with_tag``): the default parameters cell, whose every
# name the injected cell sets again (``notebook_parameters`` passes them all), and the form's cell, which
# shows nothing outside interactive mode. Each executed cell is a round trip to the kernel.
SKIP_TAG = "rk-batch-skip"

# Set by the batch for its kernels once it has run the store's first-use check (``judgments.bootstrap``):
# a notebook opening that store for that dataset need not run it again, once per institution. The value
# names the store and dataset checked (``store_ready_token``), so a notebook pointed elsewhere still checks.
STORE_READY_VARIABLE = "RUBRIC_KERNEL_STORE_READY"


def store_ready_token(url: str, dataset: str) -> str:
    """A digest, not the URL itself: a database password must not be copied into another variable."""
    return hashlib.sha256(f"{dataset}\n{url}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Parameters:
    """The notebook's parameters besides ``institution``, every value a string ("" = the default).

    One list for those who fill the parameters cell (``batch.params``) and the one who reads it
    (``assessment.open_assessment``).
    """

    data: str = ""  # dataset folder
    db: str = ""  # store URL; a batch passes it in the environment instead
    stage: str = "现场评估"
    expert: str = ""
    as_of: str = ""  # YYYY-MM-DD
    mode: str = "report"  # interactive | report
    sheet: str = "group"  # group | own
    rubric: str = ""
    roster: str = ""


def notebook_parameters(institution: int, **given: str) -> dict[str, str]:
    """Every parameter as a string, the types the notebook's parameters cell declares (``Parameters``)."""
    return {"institution": f"{institution:02d}", **asdict(Parameters(**given))}
