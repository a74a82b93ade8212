"""Render the report and the cohort pages from Jinja2 templates with autoescaping.

Templates ship as package data (``bundled.TEMPLATES``). Autoescaping is on for every template, and
undefined names fail, so a value can only reach the page escaped, and a typo cannot silently print
nothing. This module reads no store: it gets frozen contexts (``report.context``) or plain rows.

Compiling the report's template costs more than rendering it (0.1-0.2 s, in every process that makes
a report): the compiled templates are kept in the working folder's ``var/cache`` with Jinja2's own
bytecode cache, which recompiles whenever a template's source (its checksum) or Jinja2 or Python
changes. The folder is the one ``input_cache`` keeps its pickles in, with the same trust.
"""

from __future__ import annotations

import contextlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from ..bundled import TEMPLATES, var_dir

if TYPE_CHECKING:
    from .context import ReportContext


class CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Jinja2's file cache of compiled templates, optional: a folder that cannot be made, read or
    written, or a damaged entry, means compiling as without it."""

    def __init__(self, folder: Path) -> None:
        super().__init__(str(folder), "%s.jinja")
        self.folder = folder

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # unreadable, or damaged past its header (pickle and marshal raise many kinds)
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            super().dump_bytecode(bucket)


def make_environment(templates: Path, compiled: Path | None) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        bytecode_cache=CompiledTemplates(compiled) if compiled else None,
    )


@cache
def environment() -> jinja2.Environment:
    env = make_environment(TEMPLATES, var_dir() / "cache" / "templates")
    env.filters["list_values"] = lambda row: list(row.values())  # a dict row as its cells, in header order
    return env


def render(name: str, **values: Any) -> str:
    return environment().get_template(name).render(**values)


def report_body(ctx: ReportContext) -> str:
    """The report's body (the notebook displays it; nbconvert wraps it in the page)."""
    return render("report.html.j2", ctx=ctx)
