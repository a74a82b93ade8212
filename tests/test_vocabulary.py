"""One vocabulary: each label is written once (labels.py) and every view uses it."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook

from rubric_kernel.labels import BASE_ZH, INFERRED_ZH, group_title
from rubric_kernel.score_sheet import score_sheet_xlsx
from rubric_kernel.sheet import Sheet
from rubric_kernel.workspace import load_workspace

PACKAGE = Path(__file__).resolve().parents[1] / "rubric_kernel"
SOURCES = sorted(p for p in PACKAGE.rglob("*") if p.suffix in (".py", ".j2", ".tpl", ".html", ".css"))


def test_an_inferred_group_name_is_called_the_same_everywhere():
    stray = [
        f"{p.relative_to(PACKAGE)}:{n}"
        for p in SOURCES
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if "名称系推定" in line
    ]
    assert not stray, f"名称系推定 instead of labels.INFERRED_ZH: {stray}"
    assert group_title(3, "培训与考核", True) == f"（3）培训与考核{INFERRED_ZH}" == "（3）培训与考核（名称系推断）"
    assert group_title(3, "培训与考核", False) == "（3）培训与考核"


@pytest.mark.parametrize("word", sorted(set(BASE_ZH.values()) | {INFERRED_ZH}))
def test_labels_are_spelled_out_only_in_labels_py(word):
    quoted = re.compile(rf"[\"']{re.escape(word)}[\"']")
    elsewhere = [p.name for p in SOURCES if p.name != "labels.py" and quoted.search(p.read_text())]
    assert not elsewhere, f"{word} written as a literal in {elsewhere}: use rubric_kernel.labels"


def test_the_score_sheet_marks_inferred_group_names():
    ws = load_workspace()
    inst = ws.institution(13)
    result = ws.score(13, Sheet())
    book = load_workbook(BytesIO(score_sheet_xlsx(ws.rubric, inst, result, ws.dataset.mark, [])))
    cells = {str(c.value) for row in book.active.iter_rows() for c in row if c.value}
    inferred = [g for lv in ws.rubric.levels for g in lv.groups if g.inferred]
    assert inferred, "the bundled rubric has groups whose names are inferred"
    for g in inferred:
        assert group_title(g.number, g.name, True) in cells


@pytest.mark.parametrize("column", range(3))
def test_page_tables_escape_every_cell(column):
    from markupsafe import Markup

    from rubric_kernel.report.page import html_table, table

    hostile = "<script>alert(1)</script>"
    row = {"序号": 1, "评价机构": "甲", "状态": "已完成"}
    key = list(row)[column]
    html = html_table([{**row, key: hostile}])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>" not in table([hostile, "乙"], [["a", "b"]])  # headers too
    kept = html_table([{**row, key: Markup('<a href="13.html">查看报告</a>')}])
    assert '<a href="13.html">查看报告</a>' in kept, "a fragment marked as HTML is kept"


def test_the_score_sheet_cites_the_basis_and_words_unchanged_rows_by_style():
    """评估依据 in full beside each indicator and the bonus item; 待评 on pending rows (no 无扣分 there),
    未获加分 on an award-style indicator left at 0, 无扣分 on a judged deduction-style one."""
    ws = load_workspace()
    award = next(n for n, i in ws.rubric.indicators.items() if i.base == "zero" and i.needs_judgment)
    deduct = next(n for n, i in ws.rubric.indicators.items() if i.base == "full" and i.needs_judgment)
    from rubric_kernel.sheet import IndicatorJudgment

    result = ws.score(13, Sheet(indicators={award: IndicatorJudgment(), deduct: IndicatorJudgment()}))
    book = load_workbook(BytesIO(score_sheet_xlsx(ws.rubric, ws.institution(13), result, ws.dataset.mark, [])))
    rows = [[str(c) if c is not None else "" for c in row] for row in book.active.iter_rows(values_only=True)]
    head = next(r for r in rows if "评估依据" in r)
    col = head.index("评估依据")
    by_number = {int(r[2].split(".")[0]): r for r in rows if re.match(r"\d+\. ", r[2])}
    for n, ind in ws.rubric.indicators.items():
        assert by_number[n][col] == ws.rubric.basis_text(ind.basis), n
    notes = head.index("扣分、加分说明")
    assert by_number[award][notes] == "未获加分"
    assert by_number[deduct][notes] == "无扣分"
    pending = [n for n in result.pending if not by_number[n][notes].startswith(("+", "-"))]
    waits = {n: "待评：待省职鉴中心录入人社部门数据" if ws.rubric.indicators[n].finding else "待评" for n in pending}
    assert 16 in waits and all(by_number[n][notes] == waits[n] for n in pending)
    bonus = next(r for r in rows if r[0] == "加分项")
    assert "机构提供、大数据采集" in bonus and "中共中央办公厅" in bonus[col]


def test_the_score_sheet_carries_the_group_opinion():
    ws = load_workspace()
    result = ws.score(13, Sheet())
    text = "考务管理规范，建议加强题库保密。"
    book = load_workbook(BytesIO(score_sheet_xlsx(ws.rubric, ws.institution(13), result, ws.dataset.mark, [], text)))
    rows = [[c for c in row if c] for row in book.active.iter_rows(values_only=True)]
    assert ["专家组意见", text] in rows
