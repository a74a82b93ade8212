"""Every workbook the tool writes, printed as an office prints it: through LibreOffice to PDF, read back.

The layout itself (widths, wrapped rows, repeated header, A4 fitted to the width, header and footer,
frozen header, autofilter) is checked on the workbook; the print test converts each workbook with
headless LibreOffice (``tools/system_deps.sh office``) and reads the PDF with poppler, so a name cut
by a narrow column ("安徽新华教") or a summary spread over two dozen pages fails.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from demo_sheets import demo_sheets
from hypothesis import given
from hypothesis import strategies as st
from office import convert_to_pdf
from openpyxl import load_workbook

from rubric_kernel.batch import cohort_pages
from rubric_kernel.files import atomic_write
from rubric_kernel.labels import DEFAULTS_NOTE
from rubric_kernel.programme import load_programme
from rubric_kernel.score_sheet import score_sheet_xlsx
from rubric_kernel.spreadsheet import HEADER_FOOTER, text_width, xlsx_bytes
from rubric_kernel.workflow import documents
from rubric_kernel.workflow.schedule import Visit
from rubric_kernel.workspace import load_workspace

TOOLS = ("soffice", "pdftotext", "pdfinfo")
EXPERTS = ["马红敏（演示专家）", "李建国（演示专家）"]


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> dict[str, Path]:
    """The workbooks of a demo cohort: summary and preview of all 75, two score sheets, a 公示 list, the schedule."""
    ws = load_workspace()
    sheets = demo_sheets(ws)
    scored = {n: ws.score(n, sheet) for n, sheet in sheets.items()}
    results = {n: r.as_json() for n, r in scored.items()}
    out = tmp_path_factory.mktemp("books")
    mark, programme = ws.dataset.mark, load_programme()
    cohort_pages.write_summary(out, ws.rubric, results, mark)
    cohort_pages.write_publicity(out, ws.roster, results, mark, programme=programme, rubric=ws.rubric)
    for n in (13, 66):
        atomic_write(out / f"sheet{n}.xlsx", score_sheet_xlsx(ws.rubric, ws.roster[n], scored[n], mark, EXPERTS))
    start = dt.date(2023, 9, 1)
    note = documents.publicity_note(programme, start, programme.publicity_days)
    documents.write_public_list(
        out, "gongshi", "信用评估结果公示名单", ws.roster, results, mark, note, programme, ws.rubric
    )
    visits = [
        Visit(n, dt.date(2023, 5, 15) + dt.timedelta(days=n // 3), 1 + n % 3, dt.date(2023, 5, 8)) for n in ws.roster
    ]
    documents.write_schedule(
        out, visits, ws.roster, mark, programme=programme, checklist=ws.materials, notified=programme.notification_date
    )
    complete = {n for n, r in results.items() if r["status"] == "complete" and r["grade"]}
    names = {n: inst.name for n, inst in ws.roster.items()}
    return {
        "dir": out,
        "names": {
            "summary": list(names.values()),
            "publicity": [names[n] for n in complete],
            "gongshi": [names[n] for n in complete],
            "schedule": list(names.values()),
            "notifications": list(names.values()),
            "sheet13": [names[13]],
            "sheet66": [names[66]],
        },
    }


BOOKS = ("summary", "publicity", "gongshi", "schedule", "notifications", "sheet13", "sheet66")


@pytest.mark.parametrize("stem", BOOKS)
def test_every_sheet_is_set_up_for_print(books, stem):
    wb = load_workbook(books["dir"] / f"{stem}.xlsx")
    for ws in wb.worksheets:
        assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4, (stem, ws.title)
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0), (stem, ws.title)
        assert ws.sheet_properties.pageSetUpPr.fitToPage, (stem, ws.title)
        assert ws.print_title_rows, (stem, ws.title)
        header_row = int(ws.print_title_rows.split(":")[0].lstrip("$"))
        assert ws.freeze_panes and int(re.sub(r"\D", "", ws.freeze_panes)) == header_row + 1, (stem, ws.title)
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith(f"A{header_row}:"), (stem, ws.title)
        assert "演示数据" in ws.oddHeader.center.text and ws.oddFooter.center.text == HEADER_FOOTER
        for row in ws.iter_rows(min_row=header_row):
            for cell in row:
                if isinstance(cell.value, str) and "\n" in cell.value:
                    height = ws.row_dimensions[cell.row].height
                    assert height and height >= 14 * (cell.value.count("\n") + 1), (stem, cell.coordinate)


def test_columns_fit_their_longest_name(books):
    ws = load_workbook(books["dir"] / "summary.xlsx")["评分汇总"]
    head = [c.value for c in ws[1]]
    col = ws.cell(row=1, column=head.index("评价机构") + 1).column_letter
    longest = max(text_width(n) for n in books["names"]["summary"])
    assert ws.column_dimensions[col].width >= longest


def test_a_wrapped_row_is_as_tall_as_its_lines():
    rows = [{"序号": 1, "说明": "\n".join(["扣分说明"] * 5)}, {"序号": 2, "说明": "无"}]
    ws = load_workbook(io.BytesIO(xlsx_bytes([("表", rows)], "")))["表"]
    assert ws.row_dimensions[2].height >= 4 * ws.row_dimensions[3].height
    assert ws.cell(row=2, column=2).alignment.wrap_text


@given(st.text(max_size=40))
def test_text_width_counts_wide_characters_double(text):
    line = text.replace("\n", "")
    assert len(line) <= text_width(line) <= 2 * len(line)
    assert text_width("安徽" + line) == text_width(line) + 4


def test_defaults_note_follows_the_rubric(books):
    wb = load_workbook(books["dir"] / "summary.xlsx")
    assert DEFAULTS_NOTE in [c.value for c in wb["说明"]["A"]]
    sheet = load_workbook(books["dir"] / "sheet13.xlsx").active
    assert DEFAULTS_NOTE in [c.value for c in sheet["A"]]


def _office_missing() -> bool:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing and os.geteuid() == 0:
        pytest.fail(f"缺少 {'、'.join(missing)}：运行 make test-deps（tools/system_deps.sh office）")
    return bool(missing)


@pytest.fixture(scope="module")
def printed(books, tmp_path_factory) -> dict[str, tuple[list[str], int]]:
    """Each workbook converted by one LibreOffice start with a private profile: page texts and page count."""
    if _office_missing():
        pytest.skip("需要 LibreOffice 与 poppler：tools/system_deps.sh office")
    pdf = tmp_path_factory.mktemp("pdf")
    profile = tmp_path_factory.mktemp("lo-profile")
    convert_to_pdf([books["dir"] / f"{stem}.xlsx" for stem in BOOKS], profile, pdf)
    out = {}
    for stem in BOOKS:
        path = pdf / f"{stem}.pdf"
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True)
        info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
        pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
        out[stem] = ([p for p in text.stdout.split("\f") if p.strip()], pages)
    return out


@pytest.mark.parametrize("stem", BOOKS)
def test_printed_names_are_whole_and_every_page_is_headed(printed, books, stem):
    pages, count = printed[stem]
    assert len(pages) == count
    text = "\n".join(pages)
    names = books["names"][stem]
    assert names
    cut = [n for n in names if n not in text]
    assert not cut, f"{stem}: names cut or missing in print: {cut[:5]}"
    for i, page in enumerate(pages, start=1):
        assert "演示数据" in page, (stem, i)
        assert f"第 {i} 页，共 {count} 页" in page, (stem, i)


@pytest.mark.parametrize("stem", ["summary", "publicity", "gongshi", "schedule"])
def test_printed_tables_repeat_their_header_and_stay_short(printed, books, stem):
    pages, count = printed[stem]
    table_pages = [p for p in pages if any(n in p for n in books["names"][stem])]
    assert table_pages
    for page in table_pages:
        assert "评价机构" in page and "序号" in page, stem
    # 75 institutions fit a handful of pages once the table is fitted to the width (it printed 24)
    assert count <= 1 + len(books["names"][stem]) // 15, (stem, count)
