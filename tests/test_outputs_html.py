"""The report page written without nbconvert equals nbconvert's export of the same cells, and anything it
does not cover is left to nbconvert (``None``). The full report of the real notebook is compared with
the batch's in test_report."""

from __future__ import annotations

import nbformat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from rubric_kernel.report.export import _exporter
from rubric_kernel.report.outputs_html import outputs_page
from rubric_kernel.report.style import CSS

TITLE = "【演示数据】信用评估报告 - 某 & 'x' <学院>"
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
html_display = st.builds(
    lambda h, plain: new_output("display_data", data={"text/html": h, **({"text/plain": "x"} if plain else {})}),
    text,
    st.booleans(),
)
stream = st.builds(lambda name, t: new_output("stream", name=name, text=t), st.sampled_from(["stdout", "stderr"]), text)
code = st.builds(
    lambda outputs, tags, cid: new_code_cell("x = 1", outputs=outputs, metadata={"tags": tags}, id=cid or "c"),
    st.lists(st.one_of(html_display, stream), max_size=3),
    st.lists(st.text("ab<&\"'-_", min_size=1, max_size=4), max_size=2, unique=True),
    st.text("abcdef0123", max_size=6),
)
markdown = st.builds(lambda s: new_markdown_cell(s), text)


def _nbconvert(nb: nbformat.NotebookNode) -> str:
    return _exporter().from_notebook_node(nb, resources={"rk_title": TITLE, "rk_css": CSS})[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(code, markdown), max_size=5))
def test_the_page_is_nbconvert_s_for_the_cells_it_covers(cells):
    for i, cell in enumerate(cells):
        cell["id"] = f"{cell['id'][:6]}-{i}"  # unique, or nbformat's validation renames it
    nb = new_notebook(cells=cells)
    assert outputs_page(nb.cells, TITLE, CSS) == _nbconvert(nb)


def test_a_cell_without_id_or_tags_is_written_as_nbconvert_writes_it():
    cell = new_code_cell("x", outputs=[new_output("display_data", data={"text/html": "<p>报告</p>\n"})])
    del cell["id"]
    nb = new_notebook(cells=[cell], nbformat_minor=4)
    assert outputs_page(nb.cells, TITLE, CSS) == _nbconvert(nb)


def test_outputs_it_does_not_cover_are_left_to_nbconvert():
    uncovered = [
        new_output("execute_result", data={"text/html": "<b>1</b>"}, execution_count=1),
        new_output("display_data", data={"text/plain": "1"}),
        new_output("display_data", data={"image/png": "iVBORw0KGgo="}),
        new_output("display_data", data={"text/html": "<b>1</b>"}, metadata={"text/html": {"isolated": True}}),
        new_output("error", ename="ValueError", evalue="坏", traceback=["坏"]),
    ]
    for output in uncovered:
        assert outputs_page([new_code_cell("x", outputs=[output])], TITLE, CSS) is None, output
    assert outputs_page([new_raw_cell("<b>raw</b>")], TITLE, CSS) is None
