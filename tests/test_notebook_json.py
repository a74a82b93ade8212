"""The report notebook read, parameterised and written without papermill or nbformat equals what they give;
a notebook outside what that covers is left to papermill."""

from __future__ import annotations

import json

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from rubric_kernel.batch import notebook_json, params
from rubric_kernel.batch.contract import notebook_parameters
from rubric_kernel.bundled import NOTEBOOK


@pytest.fixture(autouse=True)
def readable():
    """``params.install()`` for these tests; papermill's own translator is put back afterwards."""
    from papermill.translators import PythonTranslator, papermill_translators

    params.install()
    yield
    papermill_translators.register("python", PythonTranslator)


def _without_ids(nb: dict) -> dict:
    """The injected cell's id is random in both."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        if "injected-parameters" in cell["metadata"]["tags"]:
            cell["id"] = "injected"
    return nb


value = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 75), value, value, value)
def test_parameterised_as_papermill_does(number, data, expert, as_of):
    given_params = notebook_parameters(number, data=data, expert=expert, as_of=as_of)
    ours = notebook_json.load(NOTEBOOK, given_params)
    theirs = parameterize_notebook(load_notebook_node(str(NOTEBOOK)), given_params)
    assert ours is not None
    assert _without_ids(ours) == _without_ids(theirs)
    assert notebook_json.dumps(ours) == nbformat.v4.writes(nbformat.from_dict(ours))


def test_an_executed_notebook_is_written_as_nbformat_writes_it():
    nb = notebook_json.load(NOTEBOOK, notebook_parameters(13))
    assert nb is not None
    cell = nb["cells"][-1]
    cell["execution_count"] = 3
    cell["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "一\n二\n"},
        {
            "output_type": "display_data",
            "data": {"text/html": "<p>a</p>\n<p>b</p>", "text/plain": "x\ny"},
            "metadata": {},
        },
        {"output_type": "display_data", "data": {"application/json": {"k": ["a\nb"]}}, "metadata": {"m": 1}},
    ]
    assert notebook_json.dumps(nb) == nbformat.v4.writes(nbformat.from_dict(nb))


def test_notebooks_it_does_not_cover_are_left_to_papermill(tmp_path):
    assert notebook_json.load(NOTEBOOK, {"institution": 13}) is None  # papermill would write 13, not '13'
    bundled = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    untagged = json.loads(json.dumps(bundled))
    for cell in untagged["cells"]:
        cell["metadata"].pop("tags", None)
    older = {**bundled, "nbformat_minor": 4}
    executed = json.loads(json.dumps(bundled))
    executed["cells"][-1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    for name, nb in {"untagged": untagged, "older": older, "executed": executed}.items():
        path = tmp_path / f"{name}.ipynb"
        path.write_text(json.dumps(nb), encoding="utf-8")
        assert notebook_json.load(path, {"institution": "13"}) is None, name
