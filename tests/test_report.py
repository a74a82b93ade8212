"""The per-institution HTML report from the executed notebook: content, safety, self-containment, verify."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from rubric_kernel.cli import main
from rubric_kernel.judgments import bootstrap
from rubric_kernel.store import Store
from rubric_kernel.workspace import load_workspace

pytestmark = pytest.mark.slow

DATASET = "demo"
XSS = "<script>alert(1)</script>现场发现问题"


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One report for institution 13, after an expert's free deduction whose reason is hostile HTML."""
    tmp = tmp_path_factory.mktemp("report")
    db = str(tmp / "s.sqlite")
    out = tmp / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUBRIC_KERNEL_DB", db)
        store = Store(f"sqlite:///{db}")
        bootstrap(store, load_workspace())
        snap = store.snapshot(DATASET, 13)
        content = dict(snap.live.get("indicator:1", {"ticks": {}, "evidence": "", "note": ""}))
        content["free"] = [{"points": 3.0, "reason": XSS}]
        written = store.save(DATASET, 13, {"indicator:1": content}, snap.base, expert="测试", stage="现场评估")
        assert len(written) == 1
        store.close()

        code, _ = _run(["report", "13", "--db", db, "--out", str(out)])
        assert code == 0
        scored_code, scored = _run(["score", "13", "--json", "--db", db])
        assert scored_code == 0
        html_path = out / "13.html"
        yield {
            "db": db,
            "out": out,
            "html_path": html_path,
            "html": html_path.read_text(encoding="utf-8"),
            "score": json.loads(scored),
        }


def test_report_files(made):
    out: Path = made["out"]
    assert made["html_path"].is_file()
    assert (out / "13.ipynb").is_file()
    assert not list(out.glob(".*.part")), "no temporary file is left behind"
    assert made["html"].rstrip().endswith("</html>")


def test_identity_grade_and_level1_scores(made):
    html, s = made["html"], made["score"]
    assert "四川旅游学院" in html
    assert s["name"] == "四川旅游学院"
    grade = s["grade"] or "暂不评定"
    assert re.search(rf'class="rk-grade"[^>]*>\s*{re.escape(grade)}\s*<', html), grade
    assert f"{s['total']:g}" in html
    # the free deduction counted: indicator 1 lost 3 points
    assert s["indicators"]["1"] == pytest.approx(12.0)
    assert len(s["level1"]) == 7
    for name, value in s["level1"].items():
        row = re.search(rf"<tr>\s*<td>\s*{re.escape(name)}\s*</td>(.*?)</tr>", html, re.S)
        assert row, f"no row for first-level indicator {name}"
        assert re.search(rf"<strong>\s*{re.escape(f'{value:g}')}\s*</strong>", row.group(1)), (
            name,
            value,
            row.group(1),
        )


def test_demo_mark(made):
    assert "演示数据" in made["html"]


def test_reason_is_escaped_and_the_report_has_no_script(made):
    html = made["html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;现场发现问题" in html
    assert "<script" not in html.lower(), "the report must contain no script at all"
    assert "alert(1)</script>" not in html


def test_no_code(made):
    html = made["html"]
    for code in ("open_assessment(", "show_report(", "show_form(", "from rubric_kernel", "institution = "):
        assert code not in html, code


def test_self_contained_and_printable(made):
    html = made["html"]
    assert not re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*https?://""", html, re.I)
    assert not re.search(r"<link\b", html, re.I), "no external stylesheet or other linked resource"
    assert not re.search(r"@import", html, re.I)
    assert not re.search(r"url\(\s*['\"]?https?://", html, re.I)
    assert re.search(r"@page\s*\{[^}]*size\s*:\s*A4", html), "an A4 print rule"


def test_digest_element(made):
    html = made["html"]
    tag = re.search(r"<div\b[^>]*\bid=\"rk-digest\"[^>]*>", html)
    assert tag, "the input digest element"
    attrs = dict(re.findall(r'data-([\w-]+)="([^"]*)"', tag.group(0)))
    assert attrs.get("institution") == "13"
    assert attrs.get("dataset") == DATASET
    for key in ("rubric", "roster", "evidence", "judgments", "inputs"):
        assert re.fullmatch(r"[0-9a-f]{64}", attrs.get(key, "")), key


def test_injected_parameters_are_readable(made):
    text = (made["out"] / "13.ipynb").read_text(encoding="utf-8")
    nb = json.loads(text)
    injected = [c for c in nb["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(injected) == 1
    source = "".join(injected[0]["source"])
    assert "stage = '现场评估'" in source
    assert "institution = '13'" in source, "the institution is passed as a string"
    assert "\\u" not in source


def test_verify_matches_then_detects_a_change(made, capsys):
    db, html = made["db"], str(made["html_path"])
    assert main(["verify", html, "--db", db]) == 0
    assert "一致" in capsys.readouterr().out

    store = Store(f"sqlite:///{db}")
    snap = store.snapshot(DATASET, 13)
    content = dict(snap.live["indicator:2"])
    content["note"] = "复核后补充说明"
    assert store.save(DATASET, 13, {"indicator:2": content}, snap.base, expert="测试", stage="现场评估")
    store.close()

    assert main(["verify", html, "--db", db]) == 1
    out = capsys.readouterr().out
    assert "不一致" in out
    assert "专家评分" in out


def test_the_exporter_without_nbconvert_preprocessors_renders_the_same_report(made):
    """The report exporter drops nbconvert's default preprocessors (the report uses none of them): the
    HTML must be exactly what the stock preprocessor chain gives."""
    import nbformat

    from rubric_kernel.batch.worker import _take_result
    from rubric_kernel.report.export import _exporter, export_html
    from rubric_kernel.report.style import CSS

    nb = nbformat.read(made["out"] / "13.ipynb", as_version=4)
    _take_result(nb)
    ours = _exporter()
    stock = type(ours)(
        extra_template_basedirs=ours.extra_template_basedirs,
        template_name=ours.template_name,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    assert len(ours._preprocessors) < len(stock._preprocessors)
    expected, _ = stock.from_notebook_node(nb, resources={"rk_title": "标题", "rk_css": CSS})
    assert export_html(nb, "标题") == expected
