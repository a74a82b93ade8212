"""Notebook parameters: injected as readable Python, and parsed once with Chinese errors."""

from __future__ import annotations

import ast
import re

import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook
from papermill.translators import PythonTranslator, papermill_translators

from rubric_kernel.assessment import open_assessment
from rubric_kernel.batch import params
from rubric_kernel.batch.contract import notebook_parameters
from rubric_kernel.batch.params import ReadablePythonTranslator
from rubric_kernel.bundled import NOTEBOOK
from rubric_kernel.errors import InputError

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def readable_translator():
    """``params.install()`` for one test; papermill's own translator is put back afterwards."""
    before = papermill_translators._translators.get("python", PythonTranslator)
    params.install()
    yield
    papermill_translators.register("python", before)


def _injected(nb) -> str:
    cells = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    return cells[0].source


def test_translator_keeps_chinese_and_strings():
    assert ReadablePythonTranslator.translate_str("李明") == "'李明'"
    assert ReadablePythonTranslator.translate_str("013") == "'013'"
    assert ast.literal_eval(ReadablePythonTranslator.translate_str('it\'s "现场"\n')) == 'it\'s "现场"\n'
    assert "\\u" in PythonTranslator.translate_str("李明"), "papermill's default is what this fixes"


def test_injected_parameters_are_readable(readable_translator):
    nb = load_notebook_node(str(NOTEBOOK))
    nb = parameterize_notebook(nb, {"institution": "013", "expert": "李明"})
    source = _injected(nb)
    assert "institution = '013'" in source, "a leading-zero code stays a string"
    assert "expert = '李明'" in source
    assert "\\u" not in source
    values = {}
    exec(compile(source, "<injected>", "exec"), {}, values)  # our own generated literals
    assert values == {"institution": "013", "expert": "李明"}


def test_batch_parameters_read_as_written(readable_translator):
    nb = load_notebook_node(str(NOTEBOOK))
    nb = parameterize_notebook(nb, notebook_parameters(7, db="sqlite:////tmp/库.sqlite", expert="王芳"))
    source = _injected(nb)
    assert "institution = '07'" in source
    assert "stage = '现场评估'" in source
    assert "expert = '王芳'" in source
    assert "db = 'sqlite:////tmp/库.sqlite'" in source
    assert "mode = 'report'" in source
    assert "\\u" not in source


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    path = str(tmp_path / "s.sqlite")
    monkeypatch.setenv("RUBRIC_KERNEL_DB", path)
    return path


@pytest.mark.parametrize("raw", ["013", "13", " 13 ", 13])
def test_leading_zero_code_resolves_the_institution(db, raw):
    a = open_assessment(raw, db=db)
    try:
        assert a.institution.number == 13
        assert a.institution.name == "四川旅游学院"
        assert a.store.url.endswith("s.sqlite")
    finally:
        a.store.close()


@pytest.mark.parametrize("raw", ["十三", "13a", "", "1.5", "-3"])
def test_non_numeric_institution_is_refused_in_chinese(db, raw):
    with pytest.raises(InputError) as info:
        open_assessment(raw, db=db)
    (fault,) = info.value.faults
    assert "institution" in fault.file
    assert CJK.search(fault.message), fault.message
    assert "数字" in fault.message


def test_unknown_institution_is_refused_in_chinese(db):
    with pytest.raises(InputError) as info:
        open_assessment("076", db=db)
    assert CJK.search(str(info.value)) and "76" in str(info.value)


def test_the_cells_a_report_run_skips_set_nothing_it_needs(db):
    """The default parameters cell may be skipped only because the batch sets every name it defines,
    and the form's cell only because it shows nothing in report mode."""
    import json

    from rubric_kernel.batch.contract import SKIP_TAG

    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    skipped = [c for c in cells if SKIP_TAG in c["metadata"].get("tags", [])]
    assert [c["metadata"]["tags"][0] for c in skipped][:1] == ["parameters"] and len(skipped) == 2
    defaults = ast.parse("".join(skipped[0]["source"]))
    defined = {t.id for node in defaults.body if isinstance(node, ast.Assign) for t in node.targets}
    assert defined and defined <= set(notebook_parameters(13)), defined - set(notebook_parameters(13))
    assert "".join(skipped[1]["source"]).strip() == "show_form(a)"
    from IPython.utils.capture import capture_output

    from rubric_kernel.notebook import show_form

    with capture_output() as shown:
        show_form(open_assessment("13", db=db, mode="report"))
    assert (shown.outputs, shown.stdout, shown.stderr) == ([], "", "")
