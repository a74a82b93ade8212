"""Render the report and the cohort pages from Jinja2 templates with autoescaping.

Templates ship as package data (``bundled.TEMPLATES``). Autoescaping is on for every template, and
undefined names fail, so a value can only reach the page escaped, and a typo cannot silently print
nothing. This module reads no store: it gets frozen contexts (``report.context``) or plain rows.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import jinja2

from ..bundled import TEMPLATES

if TYPE_CHECKING:
    from .context import ReportContext


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["list_values"] = lambda row: list(row.values())  # a dict row as its cells, in header order
    return env


def render(name: str, **values: Any) -> str:
    return environment().get_template(name).render(**values)


def report_body(ctx: ReportContext) -> str:
    """The report's body (the notebook displays it; nbconvert wraps it in the page)."""
    return render("report.html.j2", ctx=ctx)
