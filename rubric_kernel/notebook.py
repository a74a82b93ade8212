"""What the assessment notebook's cells call: display only, no business logic."""

from __future__ import annotations

from .assessment import Assessment
from .batch.contract import RESULT_MIMETYPE
from .report.sections import full_report
from .report.style import CSS


def show_report(a: Assessment) -> None:
    """Display the report sections, one output each (the HTML export keeps exactly these)."""
    from IPython.display import HTML, display

    if a.mode == "interactive":
        display(HTML(f"<style>{CSS}</style>"))
    for part in full_report(a):
        display(HTML(part))
    if a.mode == "report":
        # Machine-readable result for the batch's cohort tables; invisible in the HTML export.
        display({RESULT_MIMETYPE: {**a.score().as_json(), "stage": a.workflow().stage}}, raw=True)


def show_form(a: Assessment) -> None:
    """The on-site form in interactive mode; in report mode (batch) nothing, so no widget state is saved."""
    if a.mode != "interactive":
        return
    from IPython.display import display

    from .form import build_form

    display(build_form(a))
