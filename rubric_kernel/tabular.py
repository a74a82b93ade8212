"""Read CSV (UTF-8 or GBK) and XLSX tables into rows keyed by canonical column names.

Government systems export either encoding and often Chinese headers, so each table declares its
columns with Chinese and English aliases; the reader maps headers, reports unknown or missing
columns, and keeps the source row number (header = row 1, as a spreadsheet numbers it) for every
later fault. The reader is strict where a lenient one would move values into the wrong column: a
CSV row with more or fewer cells than the header (an unquoted comma, a cut-off line), a quote left
open at the end of the file, an oversized field, and XLSX formulas without a saved result or error
values are refused, never padded or guessed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import Fault, InputError, display_path, excerpt

MAX_FIELD = 131_072  # characters in one cell; Python's csv default, stated so it cannot drift


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    aliases: tuple[str, ...]
    required: bool = True

    @property
    def label(self) -> str:
        return self.aliases[0]


@dataclass(frozen=True, slots=True)
class Row:
    file: str
    number: int
    values: Mapping[str, str]

    def fault(self, column: str | None, message: str) -> Fault:
        return Fault(self.file, message, row=self.number, column=column)


@dataclass(frozen=True, slots=True)
class _Cells:
    """A file's rows as text (with their spreadsheet row numbers) and whether the row widths are fixed."""

    rows: list[tuple[int, list[str]]]
    ragged_is_fault: bool  # CSV: a different cell count means shifted values; XLSX cells sit in their column


def _decode(raw: bytes, file: str) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InputError([Fault(file, "无法识别文件编码（应为 UTF-8 或 GBK）")])


def _csv_error(message: str) -> str:
    if "field larger" in message:
        return f"单元格超过 {MAX_FIELD} 个字符，不像一份信用数据表：请检查引号是否配对、文件是否正确"
    if "end of data" in message:
        return "文件在引号内结束：本行开始的带引号的单元格没有闭合的英文双引号"
    return '引号使用不正确：带引号的单元格在闭合引号后还有字符（单元格内的双引号应写成两个 ""）'


def _read_csv(path: Path, file: str) -> _Cells:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError([Fault(file, f"无法读取：{exc.strerror}")]) from None
    previous = csv.field_size_limit(MAX_FIELD)
    rows: list[tuple[int, list[str]]] = []
    try:
        reader = csv.reader(io.StringIO(_decode(raw, file), newline=""), strict=True)
        number = 0
        while True:
            number += 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # the reader cannot resynchronise: report where the broken row starts
                raise InputError([Fault(file, _csv_error(str(exc)), row=number)]) from None
            rows.append((number, cells))
    finally:
        csv.field_size_limit(previous)
    return _Cells(rows, ragged_is_fault=True)


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _read_xlsx(path: Path, file: str) -> _Cells:
    """The first worksheet; formula cells take the result Excel saved with them.

    Opened twice (results, then formulas) because openpyxl shows a formula whose result was never
    saved as an empty cell: the record would count with a blank value.
    """
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    try:
        values_wb = load_workbook(path, read_only=True, data_only=True)
        formulas_wb = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise InputError([Fault(file, f"无法读取 XLSX：{excerpt(exc)}")]) from None
    rows: list[tuple[int, list[str]]] = []
    faults: list[Fault] = []
    try:
        if not values_wb.worksheets:
            raise InputError([Fault(file, "工作簿中没有工作表")])
        values, formulas = values_wb.worksheets[0], formulas_wb.worksheets[0]
        sheet = excerpt(values.title, 31)
        for number, (vrow, frow) in enumerate(zip(values.iter_rows(), formulas.iter_rows(), strict=False), start=1):
            texts = []
            for pos, (vcell, fcell) in enumerate(zip(vrow, frow, strict=False), start=1):
                where = f"工作表“{sheet}”单元格 {get_column_letter(pos)}{number}"
                if fcell.data_type == "f" and vcell.value is None:
                    faults.append(
                        Fault(
                            file, f"{where} 是公式但没有保存计算结果：请在 Excel 中打开并保存，或改为数值", row=number
                        )
                    )
                elif vcell.data_type == "e":
                    faults.append(Fault(file, f"{where} 是错误值 {excerpt(vcell.value, 12)}", row=number))
                texts.append(_cell_text(vcell.value))
            rows.append((number, texts))
    except InputError:
        raise
    except Exception as exc:  # a sheet's XML can be broken inside a valid archive
        raise InputError([Fault(file, f"无法读取 XLSX 的内容：{excerpt(exc)}")]) from None
    finally:
        values_wb.close()
        formulas_wb.close()
    if faults:
        raise InputError(faults)
    return _Cells(rows, ragged_is_fault=False)


def _header_faults(file: str, header: list[str], columns: Sequence[Column]) -> tuple[dict[str, int], list[Fault]]:
    lookup = {alias: col.key for col in columns for alias in (*col.aliases, col.key)}
    allowed = "、".join(c.label for c in columns)
    if not any(name in lookup for name in header):  # not this table at all: say so without echoing its content
        return {}, [Fault(file, f"表头中没有任何可识别的列，可能不是正确的文件；应有的列：{allowed}", row=1)]
    faults = []
    index: dict[str, int] = {}
    for pos, name in enumerate(header):
        if not name:
            continue
        key = lookup.get(name)
        if key is None:
            faults.append(Fault(file, f"未知列“{excerpt(name)}”；允许的列：{allowed}", row=1))
        elif key in index:
            faults.append(Fault(file, f"列“{excerpt(name)}”重复", row=1))
        else:
            index[key] = pos
    for col in columns:
        if col.required and col.key not in index:
            faults.append(Fault(file, f"缺少必需列“{col.label}”", row=1))
    return index, faults


def read_table(path: Path | str, columns: Sequence[Column]) -> list[Row]:
    """Rows of a table whose header matches ``columns``; raises InputError naming every structural fault."""
    path = Path(path)
    file = display_path(path)
    cells = _read_xlsx(path, file) if path.suffix.lower() == ".xlsx" else _read_csv(path, file)
    if not cells.rows or not any(c.strip() for c in cells.rows[0][1]):
        raise InputError([Fault(file, "文件为空或缺少表头")])
    header = [h.strip() for h in cells.rows[0][1]]
    index, faults = _header_faults(file, header, columns)
    if faults:
        raise InputError(faults)
    width = len(header)
    rows = []
    for n, raw in cells.rows[1:]:
        if not any(c.strip() for c in raw):
            continue
        if cells.ragged_is_fault and len(raw) != width:
            faults.append(Fault(file, _ragged(len(raw), width), row=n))
            continue
        stray = [pos for pos, cell in enumerate(raw) if cell.strip() and (pos >= width or not header[pos])]
        if stray:
            faults.append(Fault(file, f"第 {stray[0] + 1} 列有内容但没有表头", row=n))
            continue
        rows.append(Row(file, n, {k: (raw[i].strip() if i < len(raw) else "") for k, i in index.items()}))
    if faults:
        raise InputError(faults)
    return rows


def _ragged(cells: int, width: int) -> str:
    if cells > width:
        return (
            f"本行有 {cells} 个单元格，表头只有 {width} 列：单元格内的逗号会把内容挤到后面的列，"
            "含逗号的单元格须用英文双引号括起"
        )
    return f"本行只有 {cells} 个单元格，表头有 {width} 列：本行不完整，请补齐（空单元格也要保留逗号）"
