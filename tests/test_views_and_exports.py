"""Words users read and files officials open: provisional ranges, spreadsheet safety, Chinese CLI errors."""

import io

from openpyxl import load_workbook

from rubric_kernel.cli import main
from rubric_kernel.labels import next_grade_text, total_note
from rubric_kernel.scoring import score
from rubric_kernel.sheet import IndicatorJudgment, Sheet
from rubric_kernel.spreadsheet import csv_safe, csv_text, xlsx_bytes
from rubric_kernel.workspace import load_workspace


def test_a_provisional_total_states_the_range_its_pending_indicators_leave_open():
    ws = load_workspace()
    inst = ws.roster[13]
    judged_all_but_awards = Sheet(
        {i.number: IndicatorJudgment() for i in ws.rubric.indicators.values() if i.needs_judgment and i.base == "full"}
    )
    r = score(ws.rubric, inst, ws.dataset.for_institution(13), judged_all_but_awards, ws.dataset.as_of)
    awards = [i for i in ws.rubric.indicators.values() if i.needs_judgment and i.base == "zero"]
    centre = [i for i in ws.rubric.indicators.values() if i.finding]  # no 人社 finding on this sheet either
    assert set(r.pending) == {i.number for i in awards + centre}
    assert r.pending_points == sum(x.score for x in r.indicators if x.pending)
    assert r.pending_upside == sum(x.max_points - x.score for x in r.indicators if x.pending) > 0
    note = total_note(r)
    assert f"{r.total - r.pending_points:g} 至 {r.total + r.pending_upside:g}" in note
    assert r.grade is None and r.next_grade is None and next_grade_text(r) == "暂定结果，不计算"


def test_spreadsheets_keep_formula_looking_text_as_text_and_notes_as_written():
    rows = [{"说明": '=HYPERLINK("http://x")', "扣分": "-3 考评员未持证", "分值": -3.0}]
    wb = load_workbook(io.BytesIO(xlsx_bytes([("表", rows)], mark="演示数据")))
    assert wb.sheetnames == ["说明", "表"]
    ws = wb["表"]
    assert [c.value for c in ws[1]] == ["数据", "说明", "扣分", "分值"], "header on the first row"
    formula_cell, note_cell, number_cell = ws["B2"], ws["C2"], ws["D2"]
    assert formula_cell.data_type == "s" and formula_cell.value.startswith("=HYPERLINK")
    assert note_cell.value == "-3 考评员未持证", "no stray apostrophe in what experts sign"
    assert number_cell.value == -3
    assert csv_safe("=1+1") == "'=1+1" and csv_safe("-3 说明") == "'-3 说明" and csv_safe("-x") == "'-x"
    assert "'=HYPERLINK" in csv_text(rows, "").splitlines()[1]


def test_command_line_errors_are_in_chinese(capsys):
    try:
        main(["score", "abc"])
    except SystemExit as exc:
        assert exc.code == 2
    err = capsys.readouterr().err
    assert "用法：" in err and "错误" in err and "不是有效的值" in err
    assert "usage:" not in err and "error:" not in err


def test_verify_needs_an_existing_store_and_never_creates_one(tmp_path, capsys):
    report = tmp_path / "13.html"
    report.write_text(
        '<div data-institution="13" data-dataset="demo" data-as-of="2023-07-31" id="rk-digest"></div>', encoding="utf-8"
    )
    missing = tmp_path / "missing.sqlite"
    assert main(["verify", str(report), "--db", str(missing)]) == 2
    assert "评分库不存在" in capsys.readouterr().err
    assert not missing.exists()
