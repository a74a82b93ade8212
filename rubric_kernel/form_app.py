"""The form as a page without code (Voilà): the expert picks the institution, then scores it.

Voilà runs the assessment notebook in a fresh kernel per page and passes the page's query string to
the kernel as the CGI variable QUERY_STRING, so ``?institution=13`` opens that institution's form at
once; without it the page shows the roster to choose from. The form is the same AssessmentForm, on
the same store, workspace and options as the notebook's parameters give.
"""

from __future__ import annotations

import os
from dataclasses import replace
from html import escape
from urllib.parse import parse_qs

import ipywidgets as w

from .assessment import Assessment
from .errors import InputError
from .form import build_form

VOILA_PREFIX = "voila/"  # Voilà sets SERVER_SOFTWARE to "voila/<version>" in the kernel's environment


def in_voila(environ: dict[str, str] | None = None) -> bool:
    """True when the kernel runs a Voilà page (the notebook is then an app, not a document)."""
    return (environ if environ is not None else os.environ).get("SERVER_SOFTWARE", "").startswith(VOILA_PREFIX)


def requested_institution(environ: dict[str, str] | None = None) -> str:
    """The ``institution`` of the page's query string, "" when the URL names none."""
    query = (environ if environ is not None else os.environ).get("QUERY_STRING", "")
    return parse_qs(query).get("institution", [""])[0].strip()


def for_institution(a: Assessment, number: int) -> Assessment:
    """The same session (workspace, store, stage, expert, options) for another institution."""
    if number == a.institution.number:
        return a
    return replace(a, institution=a.ws.institution(number), _snapshot=None, _stored_result=None, _workflow=None)


def build_app(a: Assessment, requested: str = "") -> w.VBox:
    """A roster picker above the form; `requested` (from the URL) preselects an institution."""
    options = [("请选择机构…", 0)] + [(f"{i.number} {i.name}", i.number) for i in a.ws.roster.values()]
    picker = w.Dropdown(options=options, value=0, description="评估机构", layout=w.Layout(width="36em"))
    picker.add_class("rk-picker")
    note = w.HTML().add_class("rk-app-note")
    body = w.VBox()

    def show(number: int) -> None:
        note.value = ""
        body.children = []
        if not number:
            note.value = (
                "<div class='rk-note'>请从上方名单中选择要评估的机构，或在网址后加 ?institution=机构序号。</div>"
            )
            return
        try:
            body.children = [build_form(for_institution(a, number))]
        except InputError as exc:
            note.value = "".join(f"<div style='color:#b91c1c'>{escape(str(f))}</div>" for f in exc.faults)

    picker.observe(lambda ch: show(ch["new"]), names="value")
    if requested:
        if requested.isdigit() and int(requested) in a.ws.roster:
            picker.value = int(requested)
        else:
            note.value = (
                f"<div style='color:#b91c1c'>网址参数 institution=“{escape(requested)}”不是名单中的机构序号"
                f"（1–{max(a.ws.roster)}），请从名单中选择。</div>"
            )
    if not picker.value and not note.value:
        show(0)
    return w.VBox([picker, note, body]).add_class("rk-app")
