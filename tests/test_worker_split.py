"""One institution in two steps: a worker executes its notebook, the batch process exports, seals and writes it."""

from __future__ import annotations

import copy

import pytest

from rubric_kernel.batch.contract import RESULT_MIMETYPE, notebook_parameters
from rubric_kernel.batch.worker import Executed, Job, _take_result, execute_job, finish_job
from rubric_kernel.bundled import DEMO_DATA, NOTEBOOK
from rubric_kernel.programme import load_programme
from rubric_kernel.workspace import load_workspace

PAGE = {"output_type": "display_data", "metadata": {}, "data": {"text/html": "<p>报告</p>"}}


def _notebook(*outputs: dict) -> dict:
    return {"cells": [{"cell_type": "code", "outputs": list(outputs)}]}


@pytest.mark.parametrize(
    "outputs",
    [
        # the assessment notebook: the result beside the page, in one output
        [{**PAGE, "data": {**PAGE["data"], RESULT_MIMETYPE: {"total": 948.0}}}],
        # a notebook that displays the result as an output of its own
        [PAGE, {"output_type": "display_data", "metadata": {}, "data": {RESULT_MIMETYPE: {"total": 948.0}}}],
    ],
)
def test_the_result_is_taken_out_for_the_page_and_put_back_as_it_was(outputs):
    nb = _notebook(*copy.deepcopy(outputs))
    before = copy.deepcopy(nb)
    result, restore = _take_result(nb)
    assert result == {"total": 948.0}
    assert nb["cells"][0]["outputs"] == [PAGE]  # what the export sees: the page only
    restore()
    assert nb == before


def test_a_notebook_without_a_result_is_a_failure_with_nothing_written(tmp_path):
    job = Job(7, "标题", tmp_path, {}, NOTEBOOK)
    res = finish_job(job, Executed(7, 0.5, _notebook(PAGE)))
    assert not res.ok and res.error == "RuntimeError: 工作簿未输出评分结果"
    assert not list(tmp_path.iterdir())


def test_an_execution_error_passes_through_and_nothing_is_written(tmp_path):
    res = finish_job(Job(7, "标题", tmp_path, {}, NOTEBOOK), Executed(7, 0.5, error="机构序号 99 不在名单中"))
    assert (res.ok, res.error, res.seconds) == (False, "机构序号 99 不在名单中", 0.5)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_executing_writes_nothing_and_finishing_writes_the_sealed_report(tmp_path, monkeypatch):
    monkeypatch.setenv("RUBRIC_KERNEL_DB", str(tmp_path / "s.sqlite"))
    ws = load_workspace()
    out = tmp_path / "out"
    params = notebook_parameters(13, data=str(DEMO_DATA.resolve()))
    job = Job(13, "标题", out, params, NOTEBOOK, load_programme().roles.organiser.value, ws.dataset.synthetic)
    executed = execute_job(job, in_process=True)
    assert not executed.error
    assert not out.exists()  # the worker's part: the executed notebook, handed back
    res = finish_job(job, executed, direct=True)
    assert res.ok, res.error
    assert {"total", "grade", "status"} <= set(res.result)
    assert sorted(p.name for p in out.iterdir()) == ["13.html", "13.ipynb"]
    page = (out / "13.html").read_text(encoding="utf-8")
    assert 'id="rk-seal"' in page and RESULT_MIMETYPE not in page
    assert RESULT_MIMETYPE in (out / "13.ipynb").read_text(encoding="utf-8")  # the notebook keeps its result


def test_a_runs_sealing_key_is_looked_up_once_and_a_refusal_fails_each_report(tmp_path, monkeypatch):
    from rubric_kernel import keyring
    from rubric_kernel.signing import demo_key

    looked: list[str] = []
    monkeypatch.setattr(keyring, "issuer_key", lambda login, synthetic: looked.append(login) or demo_key(login))
    import nbformat

    def executed(n: int) -> Executed:
        page = {**PAGE, "data": {**PAGE["data"], RESULT_MIMETYPE: {"total": 948.0}}}
        cell = nbformat.v4.new_code_cell(
            outputs=[nbformat.v4.output_from_msg({"header": {"msg_type": "display_data"}, "content": page})]
        )
        return Executed(n, 0.5, nbformat.v4.new_notebook(cells=[cell]))

    keys: dict = {}
    for n in (7, 8):
        job = Job(n, "标题", tmp_path, {}, NOTEBOOK, "大证信用", True)
        assert finish_job(job, executed(n), direct=True, keys=keys).ok
    assert looked == ["大证信用"]

    def refuse(login: str, synthetic: bool):
        raise keyring.KeyRefused("签章需要私钥口令")

    monkeypatch.setattr(keyring, "issuer_key", refuse)
    keys = {}
    for n in (9, 10):
        job = Job(n, "标题", tmp_path, {}, NOTEBOOK, "大证信用", False)
        res = finish_job(job, executed(n), direct=True, keys=keys)
        assert not res.ok and "签章需要私钥口令" in res.error
