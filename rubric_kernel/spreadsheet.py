"""Tables for analysts and officials: XLSX and CSV with the header on the first row.

Synthetic data carries its mark as a column (so every exported row says so, and pandas still reads
the header) and, in workbooks, as a first "说明" sheet. Text that a spreadsheet would run as a
formula is written as text: in workbooks as a text cell (shown as typed), in CSV with a leading
apostrophe (``csv_safe``), since a CSV cell has no type.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

MARK_COLUMN = "数据"


def marked(rows: list[dict], mark: str) -> list[dict]:
    return [{MARK_COLUMN: mark, **r} for r in rows] if mark else rows


def append_row(ws, values: list) -> None:
    """Append a row; text that openpyxl would store as a formula (leading "=") is kept as text."""
    ws.append(values)
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str) and cell.value.startswith("="):
            cell.data_type = "s"


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


def xlsx_bytes(sheets: Sequence[tuple[str, list[dict]]], mark: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    if mark:
        note = wb.create_sheet("说明")
        note.append([f"【{mark}】本工作簿由合成数据生成，不代表任何机构的真实信用状况。"])
        note["A1"].font = Font(bold=True, color="C0392B")
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        rows = marked(rows, mark)
        if rows:
            ws.append(list(rows[0]))
            for cell in ws[1]:
                cell.font = Font(bold=True)
            for row in rows:
                append_row(ws, list(row.values()))
            ws.freeze_panes = ws.cell(row=2, column=3 + bool(mark))  # keep 序号 and 机构 in view
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
