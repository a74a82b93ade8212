"""The report page written straight from an executed notebook's outputs, as nbconvert's export writes it.

One report on demand (``rubric-kernel report``) paid more for importing nbconvert (and, through it,
mistune, bleach, BeautifulSoup and pygments) and compiling its templates than for running the
notebook. The report's template (``template/rk_report``) keeps only code cells and their HTML
displays, so the page it yields is a fixed frame around those displays: this module writes that
frame. It covers the outputs the report notebook makes (HTML displays; printed text, which the
template drops) and returns ``None`` for anything else, so the caller falls back to nbconvert.
tests/test_outputs_html.py keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from markupsafe import escape as jinja_escape

HEAD = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
<main class="rk-report">"""
FOOT = "</main>\n</body>\n</html>"
# nbconvert's display priority above text/html is empty: a display holding HTML shows its HTML.
HTML = "text/html"


def _cell(cell: Mapping[str, Any]) -> str | None:
    if cell.get("cell_type") == "markdown":
        return ""  # the template drops markdown cells
    if cell.get("cell_type") != "code":
        return None
    cid = cell.get("id") or ""
    anchor = f'id="{escape("cell-id=" + cid)}"' if cid else ""
    tags = "".join(escape(f" celltag_{tag}") for tag in cell.get("metadata", {}).get("tags", []))
    head = f'\n<div {anchor} class="cell border-box-sizing code_cell rendered{tags}">\n'
    outputs = cell.get("outputs") or []
    if not outputs:
        return head + "\n</div>"
    areas = [_output(o) for o in outputs]
    if any(a is None for a in areas):
        return None
    return (
        head + '\n<div class="output_wrapper">\n<div class="output">\n' + "".join(areas) + "\n</div>\n</div>\n\n</div>"
    )  # type: ignore[arg-type]


def _output(output: Mapping[str, Any]) -> str | None:
    area = '\n<div class="output_area">\n\n\n'
    kind = output.get("output_type")
    if kind == "stream" and output.get("name") in ("stdout", "stderr"):
        return area + "</div>\n"  # printed text: the template drops it
    if kind != "display_data" or HTML not in output.get("data", {}):
        return None
    if output.get("metadata", {}).get(HTML, {}).get("isolated"):
        return None
    html = output["data"][HTML]
    if not isinstance(html, str):
        return None
    return area + f'<div class="output_html rendered_html output_subarea ">{html}</div>\n\n</div>\n'


def outputs_page(cells: Sequence[Mapping[str, Any]], title: str, css: str) -> str | None:
    """The page nbconvert's export of these cells would give, or ``None`` when a cell is outside what is covered."""
    parts = [_cell(cell) for cell in cells]
    if any(p is None for p in parts):
        return None
    return HEAD.format(title=jinja_escape(title), css=css) + "".join(parts) + FOOT  # type: ignore[arg-type]
