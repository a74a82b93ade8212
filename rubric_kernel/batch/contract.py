"""What the notebook and its runners agree on, importable without papermill (the kernel imports it)."""

from dataclasses import asdict, dataclass

# The notebook's machine-readable output: its result as ``Result.as_json()``, invisible in the HTML.
RESULT_MIMETYPE = "application/vnd.rubric-kernel.result+json"


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
