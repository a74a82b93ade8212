"""Tables for analysts and officials: XLSX and CSV with the header on the first row.

Synthetic data carries its mark as a column (so every exported row says so, and pandas still reads
the header) and, in workbooks, as a first "说明" sheet that also holds the workbook's notes. Every sheet
is set up once, by ``print_setup``, to print the way an office prints it. Text that a spreadsheet would run as a
formula is written as text: in workbooks as a text cell (shown as typed), in CSV with a leading
apostrophe (``csv_safe``), since a CSV cell has no type.
"""

from __future__ import annotations

import csv
import io
import math
import unicodedata
from collections.abc import Sequence
from functools import cache

MARK_COLUMN = "数据"


def marked(rows: list[dict], mark: str) -> list[dict]:
    return [{MARK_COLUMN: mark, **r} for r in rows] if mark else rows


def append_row(ws, values: list) -> None:
    """Append a row; text that openpyxl would store as a formula (leading "=") is kept as text.

    Such text goes in as a text cell: reading the appended row back (``ws[ws.max_row]``) scanned every
    cell of the sheet for each row, which made a 75-row summary quadratic."""
    ws.append([_text_cell(ws, v) if isinstance(v, str) and v.startswith("=") else v for v in values])


def _text_cell(ws, value: str):
    from openpyxl.cell import Cell

    cell = Cell(ws, value=value)
    cell.data_type = "s"
    return cell


def warm_up() -> None:
    """Import openpyxl now (a fifth of a second), e.g. on a thread while a batch's notebooks run, rather
    than when its workbooks are wanted."""
    import openpyxl  # noqa: F401


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """The one guard of every CSV the tool writes (OWASP CSV injection): text beginning with = + - @,
    tab or CR gets a leading apostrophe, whatever follows ("-3 扣分说明" too: a spreadsheet may still
    evaluate it). Numbers stay numbers: a negative score is a float, data rather than text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: list[dict], mark: str) -> str:
    """UTF-8 with BOM so Excel opens Chinese correctly; CRLF rows (RFC 4180)."""
    rows = marked(rows, mark)
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\r\n")  # RFC 4180; a CR in a cell is quoted
        w.writeheader()
        w.writerows({k: csv_safe(v) for k, v in r.items()} for r in rows)
    return "\ufeff" + buf.getvalue()


def text_width(text: object) -> int:
    """Display columns of the longest line: CJK (wide and fullwidth) characters take two."""
    lines = str(text).split("\n") if text is not None else [""]
    return max(sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line) for line in lines)


def _line_count(text: object, width: float) -> int:
    """Lines a wrapped cell takes; LibreOffice does not size rows written by openpyxl, so we must."""
    if text is None or text == "":
        return 1
    usable = max(width - 1.5, 1.0)
    return sum(max(1, math.ceil(text_width(line) * 1.1 / usable)) for line in str(text).split("\n"))


HEADER_FOOTER = "第 &P 页，共 &N 页"


@cache
def _wrapped(horizontal: str | None):
    """One alignment object per horizontal alignment, shared by every cell and workbook: a workbook keeps
    each distinct alignment once, found by equality, and a new equal object per cell made every lookup a
    field-by-field comparison (most of a 75-row summary's print setup)."""
    from openpyxl.styles import Alignment

    return Alignment(wrap_text=True, vertical="top", horizontal=horizontal)


def print_setup(
    ws,
    title: str,
    mark: str,
    *,
    header_row: int = 1,
    table_end: int | None = None,
    freeze_col: int = 0,
    max_width: float = 40,
    fit_columns: bool = True,
) -> None:
    """The one print layout of every sheet: columns fitted to content (CJK counted double), wrapped cells
    with row heights from their line count, the header row repeated on each A4 page fitted to the width,
    title and page numbers in header and footer, frozen header, autofilter over the table."""
    from openpyxl.utils import get_column_letter

    last_col, last_row = ws.max_column, ws.max_row  # each is a scan of every cell: read once
    end = table_end or last_row
    spans = {(m.min_row, m.min_col): m for m in ws.merged_cells.ranges}
    inside = {(r, c) for m in ws.merged_cells.ranges for r, c in m.cells if (r, c) != (m.min_row, m.min_col)}
    if fit_columns:
        for col in range(1, last_col + 1):
            body = header = 0
            for row in range(header_row, last_row + 1):
                m = spans.get((row, col))
                if (row, col) in inside or (m is not None and m.max_col > m.min_col):
                    continue
                w = text_width(ws.cell(row=row, column=col).value)
                if row == header_row:
                    header = w
                else:
                    body = max(body, w)
            width = max(body, min(header, max(body, 10)), 4) * 1.1 + 2  # a long header wraps over a narrow column
            ws.column_dimensions[get_column_letter(col)].width = min(width, max_width)
    widths = [ws.column_dimensions[get_column_letter(c)].width or 8.43 for c in range(1, last_col + 1)]
    for row in ws.iter_rows(min_row=1, max_row=last_row):
        lines, size = 1, 11.0
        for cell in row:
            if (cell.row, cell.column) in inside:
                continue
            m = spans.get((cell.row, cell.column))
            if m is not None and m.max_row > m.min_row:
                continue  # a cell merged down the rows has their height
            width = sum(widths[m.min_col - 1 : m.max_col]) if m is not None else widths[cell.column - 1]
            cell.alignment = _wrapped(cell.alignment.horizontal if cell.has_style else None)  # unstyled: default
            lines = max(lines, _line_count(cell.value, width))
            size = max(size, float(cell.font.sz or 11))
        ws.row_dimensions[row[0].row].height = round(lines * size * 1.45 + 4, 1)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if sum(widths) > 95 else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    heading = (f"【{mark}】" if mark else "") + title
    ws.oddHeader.center.text = heading.replace("&", "&&")
    ws.oddFooter.center.text = HEADER_FOOTER
    ws.freeze_panes = ws.cell(row=header_row + 1, column=freeze_col + 1)
    if end > header_row:
        ws.auto_filter.ref = f"A{header_row}:{get_column_letter(last_col)}{end}"


def xlsx_bytes(sheets: Sequence[tuple[str, list[dict]]], mark: str, notes: Sequence[str] = ()) -> bytes:
    """A workbook of tables, one per sheet; the demo mark and ``notes`` go on a first "说明" sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    lines = [f"【{mark}】本工作簿由合成数据生成，不代表任何机构的真实信用状况。"] if mark else []
    lines += [n for n in notes if n]
    if lines:
        note = wb.create_sheet("说明")
        note.append(["说明"])
        note["A1"].font = Font(bold=True)
        for line in lines:
            append_row(note, [line])
        if mark:
            note["A2"].font = Font(bold=True, color="C0392B")
        print_setup(note, "说明", mark, max_width=90)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        rows = marked(rows, mark)
        if rows:
            ws.append(list(rows[0]))
            for cell in ws[1]:
                cell.font = Font(bold=True)
            for row in rows:
                append_row(ws, list(row.values()))
        print_setup(ws, title, mark, freeze_col=2 + bool(mark))  # keep 序号 and 机构 in view
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
