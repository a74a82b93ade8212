"""What the assessment notebook's cells call: display only, no business logic."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from .assessment import Assessment, NotebookInputError
from .batch.contract import RESULT_MIMETYPE
from .errors import InputError

INTERACTIVE_NOTE = (
    "<div style='color:#555'>交互评分模式不在此显示报告（表单中的修改会使其过时）。"
    '保存后运行 <code>rubric-kernel report {n}</code>，或以 <code>mode = "report"</code> 重新运行本工作簿，'
    "即可生成包含最新评分的信用评估报告。</div>"
)


def _short_faults(fn: Callable[[Assessment], None]) -> Callable[[Assessment], None]:
    """A stored sheet that no longer fits the rubric shows its Chinese lines, not a traceback."""

    @wraps(fn)
    def call(a: Assessment) -> None:
        try:
            fn(a)
        except NotebookInputError:
            raise
        except InputError as exc:
            raise NotebookInputError(exc.faults) from None

    return call


@_short_faults
def show_report(a: Assessment) -> None:
    """Display the report, one output (the HTML export keeps exactly its page).

    In interactive mode the report is not shown: under a live form it would be a snapshot that the
    first edit makes stale, and rendering it delays the form. A note says where to get it instead."""
    from IPython.display import HTML, display

    if a.mode == "interactive":
        display(HTML(INTERACTIVE_NOTE.format(n=a.institution.number)))
        return
    from .report.loader import load_context  # charts and templates: imported only when a report is made
    from .report.render import report_body

    # One output: the page, and beside it the machine-readable result for the batch's cohort tables,
    # which the HTML export leaves out (a display of its own cost the kernel another round of flushes).
    result = {**a.score().as_json(), "stage": a.workflow().stage}
    display({"text/html": report_body(load_context(a)), RESULT_MIMETYPE: result}, raw=True)


@_short_faults
def show_form(a: Assessment) -> None:
    """The on-site form in interactive mode; in report mode (batch) nothing, so no widget state is saved.
    Served by Voilà, the form comes with a roster picker and follows ``?institution=`` in the URL."""
    if a.mode != "interactive":
        return
    from IPython.display import display

    from .form_app import build_app, in_voila, requested_institution

    if in_voila():
        display(build_app(a, requested_institution()))
        return
    from .form import build_form

    display(build_form(a))
