"""Read CSV (UTF-8 or GBK) and XLSX tables into rows keyed by canonical column names.

Government systems export either encoding and often Chinese headers, so each table declares its
columns with Chinese and English aliases; the reader maps headers, reports unknown or missing
columns, and keeps the source row number (header = row 1) for every later fault.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import Fault, InputError, display_path


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


def _decode(raw: bytes, file: str) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InputError([Fault(file, "无法识别文件编码（应为 UTF-8 或 GBK）")])


def _read_cells(path: Path, file: str) -> list[list[str]]:
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken workbook
            raise InputError([Fault(file, f"无法读取 XLSX：{exc}")]) from None
        ws = wb.worksheets[0]
        rows = [["" if v is None else _cell_text(v) for v in r] for r in ws.iter_rows(values_only=True)]
        wb.close()
        return rows
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError([Fault(file, f"无法读取：{exc.strerror}")]) from None
    return [list(r) for r in csv.reader(io.StringIO(_decode(raw, file)))]


def _cell_text(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if hasattr(v, "date") and hasattr(v, "isoformat"):
        return v.date().isoformat() if hasattr(v, "hour") else v.isoformat()  # type: ignore[union-attr]
    return str(v)


def read_table(path: Path | str, columns: Sequence[Column]) -> list[Row]:
    """Rows of a table whose header matches ``columns``; raises InputError naming every header fault."""
    path = Path(path)
    file = display_path(path)
    cells = [r for r in _read_cells(path, file)]
    if not cells or not any(c.strip() for c in cells[0]):
        raise InputError([Fault(file, "文件为空或缺少表头")])
    header = [h.strip() for h in cells[0]]
    lookup = {alias: col.key for col in columns for alias in (*col.aliases, col.key)}
    faults = []
    index: dict[str, int] = {}
    for pos, name in enumerate(header):
        if not name:
            continue
        key = lookup.get(name)
        if key is None:
            faults.append(Fault(file, f"未知列“{name}”；允许的列：{'、'.join(c.label for c in columns)}", row=1))
        elif key in index:
            faults.append(Fault(file, f"列“{name}”重复", row=1))
        else:
            index[key] = pos
    for col in columns:
        if col.required and col.key not in index:
            faults.append(Fault(file, f"缺少必需列“{col.label}”", row=1))
    if faults:
        raise InputError(faults)
    rows = []
    for n, raw in enumerate(cells[1:], start=2):
        if not any(c.strip() for c in raw):
            continue
        values = {k: (raw[i].strip() if i < len(raw) else "") for k, i in index.items()}
        rows.append(Row(file, n, values))
    return rows
