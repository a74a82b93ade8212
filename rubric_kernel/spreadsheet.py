"""Tables for analysts and officials: XLSX and CSV with the header on the first row.

Synthetic data carries its mark as a column (so every exported row says so, and pandas still reads
the header) and, in workbooks, as a first "说明" sheet. Text that a spreadsheet would run as a
formula (leading =, +, -, @) is written as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

MARK_COLUMN = "数据"
FORMULA_START = ("=", "+", "-", "@")


def marked(rows: list[dict], mark: str) -> list[dict]:
    return [{MARK_COLUMN: mark, **r} for r in rows] if mark else rows


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_text(rows: list[dict], mark: str) -> str:
    """UTF-8 with BOM so Excel opens Chinese correctly."""
    rows = marked(rows, mark)
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
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
                ws.append([safe_cell(v) for v in row.values()])
            ws.freeze_panes = ws.cell(row=2, column=3)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
