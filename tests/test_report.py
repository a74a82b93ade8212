"""The per-institution HTML report from the executed notebook: content, safety, self-containment, verify."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_run import run as _run

from rubric_kernel.cli import main
from rubric_kernel.judgments import bootstrap
from rubric_kernel.store import Store
from rubric_kernel.workspace import load_workspace

pytestmark = pytest.mark.slow

DATASET = "demo"
XSS = "<script>alert(1)</script>现场发现问题"


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
        content = dict(snap.live.get("sc-2023:ind:1", {"ticks": {}, "evidence": "", "note": ""}))
        content["free"] = [{"points": 3.0, "reason": XSS}]
        written = store.save(DATASET, 13, {"sc-2023:ind:1": content}, snap.base, expert="测试", stage="现场评估")
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
    content = dict(snap.live["sc-2023:ind:2"])
    content["note"] = "复核后补充说明"
    assert store.save(DATASET, 13, {"sc-2023:ind:2": content}, snap.base, expert="测试", stage="现场评估")
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


def test_exported_report_is_the_评估报告_in_order(made):
    """The notebook's export carries the template's parts in the issue's order, with 报告编号 from the
    programme settings, and the expert's free deduction among what lost points."""
    from rubric_kernel.programme import load_programme

    html = made["html"]
    names = re.findall(r'<(?:section|header)\b[^>]*data-section="([\w-]+)"', html)
    assert names[:5] == ["head", "conclusion", "findings", "opinion", "signatures"]
    assert all(n.startswith("appendix-") for n in names[5:]) and "appendix-digests" in names
    assert load_programme().report_no(13) in html
    findings = re.search(r'data-section="findings"[^>]*>(.*?)</section>', html, re.S).group(1)
    assert "1. 岗位设置" in findings and "&lt;script&gt;alert(1)&lt;/script&gt;现场发现问题" in findings


# ------------------------------------------------------------------------------ the report's seal (issue 10 §6)
@pytest.fixture(scope="module")
def keys_file(made, tmp_path_factory):
    """The registered public keys, exported: all a verifier without the store needs."""
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    assert _run(["keys", "export", "--db", made["db"], "--out", str(path)])[0] == 0
    return path


def _verify_alone(html: str, keys: Path, tmp_path: Path) -> tuple[int, str]:
    report = tmp_path / "13.html"
    report.write_text(html, encoding="utf-8")
    return _run(["verify", str(report), "--keys", str(keys), "--db", str(tmp_path / "absent.sqlite")])


def test_the_report_is_sealed_by_the_organisers_demo_key(made, keys_file, tmp_path):
    html = made["html"]
    assert 'id="rk-seal"' in html and "大证信用" in html and "演示密钥" in html
    code, out = _verify_alone(html, keys_file, tmp_path)
    assert code == 0, out
    assert "签章核对：相符" in out and "演示密钥" in out and "输入核对：未进行" in out
    assert not (tmp_path / "absent.sqlite").exists()


@pytest.mark.parametrize(
    ("edit", "section"),
    [
        (lambda h: re.sub(r'rk-total">[^<]*<', 'rk-total">420<', h, count=1), "评估结论"),
        (lambda h: re.sub(r'rk-grade">[^<]*<', 'rk-grade">A<', h, count=1), "评估结论"),
        (
            lambda h: re.sub(
                r'(data-section="appendix-indicators".*?<td><strong>)(\d+)(</strong>)',
                lambda m: m.group(1) + str(int(m.group(2)) + 1) + m.group(3),
                h,
                count=1,
                flags=re.S,
            ),
            "附录二",
        ),
        (lambda h: h.replace("现场发现问题", "无问题", 1), "扣分、加分与否定项说明"),
    ],
)
def test_an_edited_figure_or_reason_fails_verification_naming_the_section(made, keys_file, tmp_path, edit, section):
    edited = edit(made["html"])
    assert edited != made["html"]
    code, out = _verify_alone(edited, keys_file, tmp_path)
    assert code == 1
    assert f"签章核对：不符。章节“{section}”的内容与签章时不同" in out


def test_a_removed_section_fails_verification(made, keys_file, tmp_path):
    edited = re.sub(
        r'<section class="rk-section rk-appendix" data-section="appendix-records".*?</section>',
        "",
        made["html"],
        flags=re.S,
    )
    assert edited != made["html"]
    code, out = _verify_alone(edited, keys_file, tmp_path)
    assert code == 1 and "缺少章节“附录三”" in out


# ------------------------------------------------------------------ one report without a kernel (issue 12 §3)
def _comparable(html: str) -> str:
    """The report less what differs between two runs: the injected cell's random id and the seal's time
    and signature (the seal's digests of the body and of each section stay in)."""
    from html import escape, unescape

    html = re.sub(r'id="cell-id=[^"]*"', 'id="cell-id"', html)
    html = re.sub(r"于 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d 以", "于 … 以", html)
    m = re.search(r'data-seal="([^"]*)"', html)
    assert m, "the report is sealed"
    seal = {k: v for k, v in json.loads(unescape(m.group(1))).items() if k not in {"at", "signature"}}
    return html.replace(m.group(0), f'data-seal="{escape(json.dumps(seal, sort_keys=True))}"')


def test_the_command_s_report_is_the_one_the_batch_s_kernel_makes(made, tmp_path, monkeypatch):
    """``report`` runs the notebook's cells in its own process; the batch runs them in a kernel. Same
    notebook, same parameters: the same HTML, body digests included."""
    from rubric_kernel.batch.contract import notebook_parameters
    from rubric_kernel.batch.params import install
    from rubric_kernel.batch.worker import Job, run_job
    from rubric_kernel.bundled import DEMO_DATA, NOTEBOOK
    from rubric_kernel.programme import load_programme
    from rubric_kernel.report.style import report_title

    # Both now, on the same store: other tests of this module add versions after the fixture's report.
    code, _ = _run(["report", "13", "--db", made["db"], "--out", str(tmp_path / "command")])
    assert code == 0
    command = (tmp_path / "command" / "13.html").read_text(encoding="utf-8")
    monkeypatch.setenv("RUBRIC_KERNEL_DB", f"sqlite:///{made['db']}")
    ws = load_workspace()
    install()
    params = notebook_parameters(13, data=str(DEMO_DATA.resolve()))
    job = Job(
        13,
        report_title(ws.institution(13).name, ws.dataset.mark),
        tmp_path,
        params,
        NOTEBOOK,
        load_programme().roles.organiser.value,
        ws.dataset.synthetic,
    )
    res = run_job(job)  # in a kernel, as each batch worker does
    assert res.ok, res.error
    batch = (tmp_path / "13.html").read_text(encoding="utf-8")
    assert "演示数据" in batch
    assert _comparable(command) == _comparable(batch)


def test_a_cell_error_in_process_is_one_chinese_line(tmp_path, capsys, monkeypatch):
    """An institution missing from the roster fails inside the notebook: the command says so in one line."""
    monkeypatch.setenv("RUBRIC_KERNEL_DB", str(tmp_path / "s.sqlite"))
    from rubric_kernel.batch.worker import Job, run_job
    from rubric_kernel.bundled import NOTEBOOK

    params = {"institution": "99", "mode": "report"}
    res = run_job(Job(99, "标题", tmp_path, params, NOTEBOOK), in_process=True)
    assert not res.ok
    assert "99" in res.error and "Traceback" not in res.error and "\n" not in res.error
    assert not list(tmp_path.glob("*.html"))
