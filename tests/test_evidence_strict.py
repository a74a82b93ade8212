"""Malformed evidence tables and data YAML, one or more cases per class of issue 8 §2.

Each case breaks one file of a copy of data/demo and checks three things: the fault names the file
and the row (and column where there is one), ``rubric-kernel validate`` ends with a non-zero status
and Chinese lines instead of a traceback, and nothing was written anywhere.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rubric_kernel.cli import main
from rubric_kernel.errors import InputError, excerpt
from rubric_kernel.evidence import load_dataset
from rubric_kernel.programme import load_materials
from rubric_kernel.rubric import POSITIVE_WINDOW, parse_rubric
from rubric_kernel.scoring import in_window
from rubric_kernel.tabular import MAX_FIELD, Column, read_table
from rubric_kernel.workspace import RUBRIC_PATH

AS_OF = dt.date(2023, 7, 31)  # data/demo/dataset.yaml


# ── helpers ─────────────────────────────────────────────────────────────────────────────────────


def rows_of(folder: Path, stem: str) -> list[list[str]]:
    with (folder / f"{stem}.csv").open(encoding="utf-8-sig", newline="") as fh:
        return [list(r) for r in csv.reader(fh)]


def write_rows(folder: Path, stem: str, rows: list[list[str]]) -> None:
    with (folder / f"{stem}.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def set_cells(folder: Path, stem: str, row: int, **cells: str) -> list[str]:
    """Set cells of one row (numbered as in messages: header = 1); returns the row as written."""
    rows = rows_of(folder, stem)
    for column, value in cells.items():
        rows[row - 1][rows[0].index(column)] = value
    write_rows(folder, stem, rows)
    return rows[row - 1]


def copy_row(folder: Path, stem: str, row: int, **changes: str) -> int:
    """Append a copy of ``row`` with ``changes``; returns the new row's number."""
    rows = rows_of(folder, stem)
    new = list(rows[row - 1])
    for column, value in changes.items():
        new[rows[0].index(column)] = value
    write_rows(folder, stem, [*rows, new])
    return len(rows) + 1


def edit_text(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def faults(folder: Path, rubric, roster) -> list:
    with pytest.raises(InputError) as exc:
        load_dataset(folder, rubric, roster, load_materials())
    assert exc.value.faults, "InputError without faults"
    return exc.value.faults


def fault_at(found: list, file: str, row: int | None, column: str | None = None):
    """The single fault placed at file:row [column]; its text names that place."""
    hits = [f for f in found if Path(f.file).name == file and f.row == row and f.column == column]
    assert len(hits) == 1, [str(f) for f in found]
    text = str(hits[0])
    assert (f"{file}:{row}" if row is not None else file) in text
    if column:
        assert f"[{column}]" in text
    return hits[0]


def validate(capsys, monkeypatch, folder: Path, *args: str) -> tuple[int, str, str]:
    """Run ``rubric-kernel validate`` on ``folder``; checks no traceback and that nothing was written."""
    monkeypatch.chdir(folder.parent)
    before = tree(folder.parent)
    code = main(["validate", "--data", str(folder), *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert tree(folder.parent) == before, "validate wrote or changed a file"
    return code, out, err


def refused(capsys, monkeypatch, folder: Path, *places: str, args: tuple[str, ...] = ()) -> str:
    """validate fails, in Chinese, naming every ``place`` (``file:row [column]``)."""
    code, out, err = validate(capsys, monkeypatch, folder, *args)
    assert code != 0
    assert "校验通过" not in out
    assert "输入有误" in err
    for place in places:
        assert place in err, err
    return err


# ── CSV structure ───────────────────────────────────────────────────────────────────────────────


def test_file_ending_inside_quotes(demo_copy, rubric, roster, capsys, monkeypatch):
    path = demo_copy / "records.csv"
    text = path.read_text(encoding="utf-8")
    last = text.count("\n")  # the last record's row number (header = 1)
    path.write_text(text.rstrip("\n") + ',"未闭合的引号\n', encoding="utf-8")
    f = fault_at(faults(demo_copy, rubric, roster), "records.csv", last)
    assert "引号" in f.message
    refused(capsys, monkeypatch, demo_copy, f"records.csv:{last}")


def test_text_after_closing_quote(demo_copy, rubric, roster, capsys, monkeypatch):
    rows = rows_of(demo_copy, "records")
    lines = (demo_copy / "records.csv").read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].replace(rows[4][-1], f'"{rows[4][-1]}"多余')
    (demo_copy / "records.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert "引号" in fault_at(faults(demo_copy, rubric, roster), "records.csv", 5).message
    refused(capsys, monkeypatch, demo_copy, "records.csv:5")


def test_unquoted_comma_shifts_cells(demo_copy, rubric, roster, capsys, monkeypatch):
    lines = (demo_copy / "records.csv").read_text(encoding="utf-8").splitlines()
    lines[6] = lines[6].replace("（演示）", "（演示）经核查,", 1)  # a comma inside 摘要, not quoted
    (demo_copy / "records.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    f = fault_at(faults(demo_copy, rubric, roster), "records.csv", 7)
    assert "10 个单元格" in f.message and "逗号" in f.message
    refused(capsys, monkeypatch, demo_copy, "records.csv:7")


def test_short_row_is_not_padded(demo_copy, rubric, roster, capsys, monkeypatch):
    rows = rows_of(demo_copy, "records")
    rows[8] = rows[8][:-2]
    write_rows(demo_copy, "records", rows)
    f = fault_at(faults(demo_copy, rubric, roster), "records.csv", 9)
    assert "7 个单元格" in f.message
    refused(capsys, monkeypatch, demo_copy, "records.csv:9")


@pytest.mark.parametrize("stem", ["materials", "personnel"])
def test_ragged_rows_in_every_table(stem, demo_copy, rubric, roster, capsys, monkeypatch):
    rows = rows_of(demo_copy, stem)
    rows[2] = [*rows[2], "多出的单元格"]
    rows[5] = rows[5][:2]
    write_rows(demo_copy, stem, rows)
    found = faults(demo_copy, rubric, roster)
    fault_at(found, f"{stem}.csv", 3)
    fault_at(found, f"{stem}.csv", 6)
    refused(capsys, monkeypatch, demo_copy, f"{stem}.csv:3", f"{stem}.csv:6")


def test_oversized_field(demo_copy, rubric, roster, capsys, monkeypatch):
    limit = csv.field_size_limit()
    set_cells(demo_copy, "records", 4, 摘要="长" * (MAX_FIELD + 1))
    f = fault_at(faults(demo_copy, rubric, roster), "records.csv", 4)
    assert str(MAX_FIELD) in f.message and "长长长" not in f.message
    assert csv.field_size_limit() == limit  # the reader leaves the process-wide limit as it found it
    refused(capsys, monkeypatch, demo_copy, "records.csv:4")


def test_field_at_the_limit_is_read(demo_copy, rubric, roster):
    set_cells(demo_copy, "records", 4, 摘要="长" * MAX_FIELD)
    ds = load_dataset(demo_copy, rubric, roster, load_materials())
    assert any(len(r.summary) == MAX_FIELD for e in ds.evidence.values() for r in e.records)


COLUMNS = (Column("a", ("甲",)), Column("b", ("乙",)), Column("c", ("丙",)))
CELL = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(CELL, CELL, CELL), max_size=6), cut=st.integers(0, 5), extra=st.booleans())
def test_csv_round_trip_or_refusal(tmp_path, rows, cut, extra):
    """Whatever csv.writer writes (commas, quotes, line breaks in cells) is read back cell for cell;
    and a row with one cell too many or too few is refused at its row, never shifted or padded."""
    path = tmp_path / "t.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["甲", "乙", "丙"], *rows])
    kept = [(n, r) for n, r in enumerate(rows, start=2) if any(c.strip() for c in r)]
    assert [(row.number, tuple(row.values.values())) for row in read_table(path, COLUMNS)] == [
        (n, tuple(c.strip() for c in r)) for n, r in kept
    ]
    if not kept:
        return
    n, row = kept[cut % len(kept)]
    short = list(row[:2])
    broken = [*row, "多"] if extra or not any(c.strip() for c in short) else short  # a blank line is skipped
    lines = [["甲", "乙", "丙"], *(broken if k == n else r for k, r in enumerate(rows, start=2))]
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(lines)
    with pytest.raises(InputError) as exc:
        read_table(path, COLUMNS)
    assert [f.row for f in exc.value.faults] == [n]


# ── messages quote little of an unexpected file ─────────────────────────────────────────────────


def test_unknown_column_is_quoted_short_and_clean(demo_copy, rubric, roster, capsys, monkeypatch):
    rows = rows_of(demo_copy, "records")
    rows[0][rows[0].index("摘要")] = "情况\x1b[31m说明" + "很长" * 200
    write_rows(demo_copy, "records", rows)
    found = faults(demo_copy, rubric, roster)
    (unknown,) = [f for f in found if "未知列" in f.message]
    assert unknown.row == 1 and "\x1b" not in unknown.message
    quoted = unknown.message.split("“")[1].split("”")[0]
    assert quoted.startswith("情况") and len(quoted) <= 40
    err = refused(capsys, monkeypatch, demo_copy, "records.csv:1")
    assert "很长" * 30 not in err


def test_a_foreign_file_is_not_echoed(demo_copy, rubric, roster, capsys, monkeypatch):
    (demo_copy / "records.csv").unlink()
    (demo_copy / "records.csv").write_text(
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin\n", encoding="utf-8"
    )
    f = fault_at(faults(demo_copy, rubric, roster), "records.csv", 1)
    assert "root" not in f.message and "记录编号" in f.message
    err = refused(capsys, monkeypatch, demo_copy, "records.csv:1")
    assert "root" not in err


def test_excerpt_bounds_and_strips():
    assert excerpt("a\x00b\nc") == "a b c"
    assert len(excerpt("字" * 500)) == 40
    assert excerpt("短") == "短"


# ── duplicates ──────────────────────────────────────────────────────────────────────────────────


def test_same_document_under_two_record_ids(demo_copy, rubric, roster, capsys, monkeypatch):
    new = copy_row(demo_copy, "records", 3, 记录编号="R99-01")
    f = fault_at(faults(demo_copy, rubric, roster), "records.csv", new, "文号")
    assert "第 3 行" in f.message
    refused(capsys, monkeypatch, demo_copy, f"records.csv:{new} [文号]", "第 3 行")


def test_same_document_written_with_full_width_digits(demo_copy, rubric, roster):
    ref = rows_of(demo_copy, "records")[2][6]
    wide = ref.translate(str.maketrans("0123456789", "０１２３４５６７８９")) + " "
    new = copy_row(demo_copy, "records", 3, 记录编号="R99-01", 文号=f" {wide}")
    assert "第 3 行" in fault_at(faults(demo_copy, rubric, roster), "records.csv", new, "文号").message


def test_same_document_on_another_date_is_another_record(demo_copy, rubric, roster):
    row = rows_of(demo_copy, "records")[2]
    copy_row(demo_copy, "records", 3, 记录编号="R99-01", 日期="2023-07-01")
    ds = load_dataset(demo_copy, rubric, roster, load_materials())
    assert {"R99-01", row[0]} <= {r.id for r in ds.for_institution(int(row[1])).records}


def test_duplicate_record_id_names_both_rows(demo_copy, rubric, roster, capsys, monkeypatch):
    first = rows_of(demo_copy, "records")[1][0]
    set_cells(demo_copy, "records", 6, 记录编号=first)
    f = fault_at(faults(demo_copy, rubric, roster), "records.csv", 6, "记录编号")
    assert first in f.message and "第 2 行" in f.message
    refused(capsys, monkeypatch, demo_copy, "records.csv:6 [记录编号]")


def test_same_person_twice_in_one_table(demo_copy, rubric, roster, capsys, monkeypatch):
    new = copy_row(demo_copy, "personnel", 2, 岗位="综合管理岗位")  # the same person, another post
    f = fault_at(faults(demo_copy, rubric, roster), "personnel.csv", new, "姓名")
    assert "第 2 行" in f.message and "、" in f.message
    refused(capsys, monkeypatch, demo_copy, f"personnel.csv:{new} [姓名]", "第 2 行")


def test_person_three_times_counts_once_or_not_at_all(demo_copy, rubric, roster):
    second = copy_row(demo_copy, "personnel", 10)
    third = copy_row(demo_copy, "personnel", 10)
    found = faults(demo_copy, rubric, roster)
    fault_at(found, "personnel.csv", second, "姓名")
    fault_at(found, "personnel.csv", third, "姓名")


def test_id_number_tells_namesakes_apart(demo_copy, rubric, roster, capsys, monkeypatch):
    rows = rows_of(demo_copy, "personnel")
    rows[0].append("证件号码")
    for k, r in enumerate(rows[1:], start=1):
        r.append(f"5101{k:014d}")
    namesake = [*rows[1][:-1], "510100000000099999"]
    write_rows(demo_copy, "personnel", [*rows, namesake])
    ds = load_dataset(demo_copy, rubric, roster, load_materials())
    table = [p for p in ds.for_institution(int(namesake[0])).personnel if p.table == int(namesake[1])]
    assert sum(p.name == namesake[3] for p in table) == 2
    same_id = [*rows[5][:-1], rows[4][-1]]  # another name under row 5's ID number
    same_id[3] = "另一个名字"
    write_rows(demo_copy, "personnel", [*rows, same_id])
    f = fault_at(faults(demo_copy, rubric, roster), "personnel.csv", len(rows) + 1, "证件号码")
    assert "第 5 行" in f.message
    refused(capsys, monkeypatch, demo_copy, f"personnel.csv:{len(rows) + 1} [证件号码]")


def test_same_person_in_two_tables_is_fine(demo_copy, rubric, roster):
    name = rows_of(demo_copy, "personnel")[1][3]
    copy_row(demo_copy, "personnel", 2, 表号="4", 岗位="内部质量督导员")
    ds = load_dataset(demo_copy, rubric, roster, load_materials())
    assert {p.table for p in ds.for_institution(1).personnel if p.name == name} == {1, 4}


def test_materials_duplicate_names_both_rows(demo_copy, rubric, roster):
    set_cells(demo_copy, "materials", 4, 材料序号="1")
    assert "第 2 行" in fault_at(faults(demo_copy, rubric, roster), "materials.csv", 4, "材料序号").message


# ── dates ───────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "text", ["5/8/23", "23-05-08", "2023/5/8", "2023-5-8", "2023年5月8日", "08-05-2023", "２０２３-０５-０８"]
)
def test_foreign_date_forms_are_refused(text, demo_copy, rubric, roster, capsys, monkeypatch):
    set_cells(demo_copy, "records", 5, 日期=text)
    f = fault_at(faults(demo_copy, rubric, roster), "records.csv", 5, "日期")
    assert text in f.message and "YYYY-MM-DD" in f.message and "2023-05-08" in f.message
    refused(capsys, monkeypatch, demo_copy, "records.csv:5 [日期]")


def test_record_after_the_assessment_date(demo_copy, rubric, roster, capsys, monkeypatch):
    set_cells(demo_copy, "records", 5, 日期=(AS_OF + dt.timedelta(days=1)).isoformat())
    f = fault_at(faults(demo_copy, rubric, roster), "records.csv", 5, "日期")
    assert AS_OF.isoformat() in f.message
    refused(capsys, monkeypatch, demo_copy, "records.csv:5 [日期]")


def test_record_on_the_assessment_date_counts(demo_copy, rubric, roster):
    row = set_cells(demo_copy, "records", 5, 日期=AS_OF.isoformat())
    ds = load_dataset(demo_copy, rubric, roster, load_materials())
    (rec,) = [r for r in ds.for_institution(int(row[1])).records if r.id == row[0]]
    assert rec.date == AS_OF and in_window(rec, rubric, AS_OF)


def test_impossible_date(demo_copy, rubric, roster):
    set_cells(demo_copy, "records", 5, 日期="2023-02-29")
    assert "2023-02-29" in fault_at(faults(demo_copy, rubric, roster), "records.csv", 5, "日期").message


# ── XLSX ────────────────────────────────────────────────────────────────────────────────────────


def to_xlsx(folder: Path, stem: str, edit=None) -> Path:
    """Turn ``stem.csv`` into ``stem.xlsx`` (dates as date cells), applying ``edit(sheet)``."""
    openpyxl = pytest.importorskip("openpyxl")
    rows = rows_of(folder, stem)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "信用记录"
    for k, r in enumerate(rows):
        cells: list[object] = list(r)
        if k and "日期" in rows[0]:
            cells[rows[0].index("日期")] = dt.datetime.fromisoformat(r[rows[0].index("日期")])
        ws.append(cells)
    if edit:
        edit(ws)
    path = folder / f"{stem}.xlsx"
    wb.save(path)
    (folder / f"{stem}.csv").unlink()
    return path


def test_xlsx_date_cells_load(demo_copy, rubric, roster):
    expected = load_dataset(demo_copy, rubric, roster, load_materials()).evidence
    to_xlsx(demo_copy, "records")
    assert load_dataset(demo_copy, rubric, roster, load_materials()).evidence == expected


def test_xlsx_formula_without_saved_result(demo_copy, rubric, roster, capsys, monkeypatch):
    to_xlsx(demo_copy, "records", lambda ws: ws.cell(row=3, column=7, value='="演示〔2023〕"&"1号"'))
    f = fault_at(faults(demo_copy, rubric, roster), "records.xlsx", 3)
    assert "信用记录" in f.message and "G3" in f.message and "公式" in f.message
    refused(capsys, monkeypatch, demo_copy, "records.xlsx:3", "G3")


def test_xlsx_error_value(demo_copy, rubric, roster):
    to_xlsx(demo_copy, "records", lambda ws: ws.cell(row=4, column=8, value="#DIV/0!"))
    f = fault_at(faults(demo_copy, rubric, roster), "records.xlsx", 4)
    assert "H4" in f.message and "#DIV/0!" in f.message


def test_xlsx_cell_outside_the_header(demo_copy, rubric, roster):
    to_xlsx(demo_copy, "records", lambda ws: ws.cell(row=6, column=12, value="备用"))
    assert "第 12 列" in fault_at(faults(demo_copy, rubric, roster), "records.xlsx", 6).message


def test_xlsx_number_in_date_column(demo_copy, rubric, roster):
    def serial(ws):  # a date serial without a date format: a plain number to Excel too
        ws.cell(row=5, column=5, value=45054).number_format = "General"

    to_xlsx(demo_copy, "records", serial)
    assert "45054" in fault_at(faults(demo_copy, rubric, roster), "records.xlsx", 5, "日期").message


def test_xlsx_with_a_broken_sheet(demo_copy, rubric, roster, capsys, monkeypatch):
    import zipfile

    path = to_xlsx(demo_copy, "records")
    with zipfile.ZipFile(path) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"][:300]  # cut off mid-element
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in parts.items():
            zout.writestr(name, data)
    assert "XLSX" in fault_at(faults(demo_copy, rubric, roster), "records.xlsx", None).message
    refused(capsys, monkeypatch, demo_copy, "records.xlsx")


# ── one table, one file ─────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("stem", ["records", "materials", "personnel"])
def test_csv_and_xlsx_together(stem, demo_copy, rubric, roster, capsys, monkeypatch):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    for r in rows_of(demo_copy, stem):
        wb.active.append(r)
    wb.save(demo_copy / f"{stem}.xlsx")
    f = fault_at(faults(demo_copy, rubric, roster), f"{stem}.xlsx", None)
    assert f"{stem}.csv" in f.message
    refused(capsys, monkeypatch, demo_copy, f"{stem}.xlsx")


def test_old_xls_gets_a_hint(demo_copy, rubric, roster):
    (demo_copy / "records.csv").rename(demo_copy / "records.xls")
    assert ".xlsx" in fault_at(faults(demo_copy, rubric, roster), "records.xls", None).message


# ── record type and issuer ──────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("rtype", "authority", "severity"),
    [
        ("荣誉奖励", "成都市中级人民法院", ""),
        ("司法判决", "国家税务总局成都市税务局", "一般"),
        ("社保欠费欠缴", "四川省民政厅", "一般"),
        ("红名单", "某某信息咨询有限公司", ""),
    ],
)
def test_implausible_issuer_warns(rtype, authority, severity, demo_copy, rubric, roster, capsys, monkeypatch):
    set_cells(demo_copy, "records", 5, 记录类型=rtype, 发布机关=authority, 严重程度=severity)
    ds = load_dataset(demo_copy, rubric, roster, load_materials())
    (w,) = ds.warnings
    assert (Path(w.file).name, w.row, w.column) == ("records.csv", 5, "发布机关")
    assert rtype in w.message and authority in w.message
    code, out, err = validate(capsys, monkeypatch, demo_copy)
    assert code == 0 and "校验通过" in out and "警告 1 条" in out
    assert "警告：demo/records.csv:5 [发布机关]" in err


def test_plausible_pairs_do_not_warn(demo_copy, rubric, roster, capsys, monkeypatch):
    set_cells(demo_copy, "records", 5, 记录类型="劳动争议", 发布机关="成都市劳动人事争议仲裁委员会", 严重程度="一般")
    assert load_dataset(demo_copy, rubric, roster, load_materials()).warnings == ()
    code, out, err = validate(capsys, monkeypatch, demo_copy)
    assert code == 0 and "警告" not in out + err


def test_issuers_must_name_defined_kinds(rubric_dict):
    rubric_dict["record_types"][1]["issuers"] = ["法院", "教育局"]
    with pytest.raises(InputError) as exc:
        parse_rubric(rubric_dict)
    assert any("教育局" in f.message and "司法判决" in f.message for f in exc.value.faults)


# ── positive records: no severity, their own window ────────────────────────────────────────────


def test_positive_record_with_a_severity(demo_copy, rubric, roster, capsys, monkeypatch):
    row = next(k for k, r in enumerate(rows_of(demo_copy, "records"), start=1) if r[2] == "红名单")
    set_cells(demo_copy, "records", row, 严重程度="严重")
    f = fault_at(faults(demo_copy, rubric, roster), "records.csv", row, "严重程度")
    assert "留空" in f.message
    refused(capsys, monkeypatch, demo_copy, f"records.csv:{row} [严重程度]")


def test_negative_record_without_a_severity(demo_copy, rubric, roster):
    row = next(k for k, r in enumerate(rows_of(demo_copy, "records"), start=1) if r[2] == "行政处罚")
    set_cells(demo_copy, "records", row, 严重程度="")
    fault_at(faults(demo_copy, rubric, roster), "records.csv", row, "严重程度")


def test_positive_window_and_its_boundary_day(demo_copy, rubric, roster):
    days = rubric.look_back_days[POSITIVE_WINDOW]
    row = next(k for k, r in enumerate(rows_of(demo_copy, "records"), start=1) if r[2] == "荣誉奖励")
    rid = set_cells(demo_copy, "records", row, 日期=(AS_OF - dt.timedelta(days=days - 1)).isoformat())[0]
    copy_row(demo_copy, "records", row, 记录编号="R99-01", 文号="", 日期=(AS_OF - dt.timedelta(days=days)).isoformat())
    recs = {
        r.id: r for e in load_dataset(demo_copy, rubric, roster, load_materials()).evidence.values() for r in e.records
    }
    assert recs[rid].severity == recs["R99-01"].severity == POSITIVE_WINDOW
    assert in_window(recs[rid], rubric, AS_OF)
    assert not in_window(recs["R99-01"], rubric, AS_OF)  # exactly N days old: outside


# ── data YAML files ─────────────────────────────────────────────────────────────────────────────

BOMB = (
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
)


def test_dataset_yaml_alias_bomb(demo_copy, rubric, roster, capsys, monkeypatch):
    assert len(BOMB.encode()) < 400
    (demo_copy / "dataset.yaml").write_text("name: demo\nas_of: 2023-07-31\n" + BOMB, encoding="utf-8")
    f = fault_at(faults(demo_copy, rubric, roster), "dataset.yaml", 3)
    assert "别名" in f.message
    refused(capsys, monkeypatch, demo_copy, "dataset.yaml:3")


def test_dataset_yaml_duplicate_key(demo_copy, rubric, roster, capsys, monkeypatch):
    path = demo_copy / "dataset.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "as_of: '2024-01-01'\n", encoding="utf-8")
    f = fault_at(faults(demo_copy, rubric, roster), "dataset.yaml", 5)
    assert "as_of" in f.message and "第 3 行" in f.message
    refused(capsys, monkeypatch, demo_copy, "dataset.yaml:5")


@pytest.mark.parametrize(
    ("old", "new", "word"),
    [
        ("as_of: '2023-07-31'", "as_of: 2023-02-30", "2023-02-30"),
        ("as_of: '2023-07-31'", "as_of: 31/7/2023", "YYYY-MM-DD"),
        ("synthetic: true", "synthetic: 'false'", "synthetic"),
        ("name: demo", "name: demo\nasof: '2023-07-31'", "asof"),
    ],
)
def test_dataset_yaml_values(old, new, word, demo_copy, rubric, roster, capsys, monkeypatch):
    edit_text(demo_copy, "dataset.yaml", old, new)
    found = faults(demo_copy, rubric, roster)
    assert all(Path(f.file).name == "dataset.yaml" for f in found)
    assert any(word in f.message for f in found), [str(f) for f in found]
    refused(capsys, monkeypatch, demo_copy, "dataset.yaml")


def test_rubric_with_an_alias_is_refused(demo_copy, capsys, monkeypatch):
    text = RUBRIC_PATH.read_text(encoding="utf-8")
    text = text.replace("look_back_days:\n", "look_back_days: &windows\n", 1) + "spare: *windows\n"
    (demo_copy.parent / "rubric.yaml").write_text(text, encoding="utf-8")
    err = refused(capsys, monkeypatch, demo_copy, "rubric.yaml:", args=("--rubric", "rubric.yaml"))
    assert "锚点" in err


def test_data_yaml_loader_matches_plain_yaml_on_clean_files():
    from rubric_kernel.yamlsafe import load_yaml

    assert load_yaml(RUBRIC_PATH) == yaml.safe_load(RUBRIC_PATH.read_text(encoding="utf-8"))


# ── other values that used to escape as exceptions ──────────────────────────────────────────────


def test_huge_institution_number(demo_copy, rubric, roster, capsys, monkeypatch):
    set_cells(demo_copy, "records", 5, 机构序号="9" * 5000)
    f = fault_at(faults(demo_copy, rubric, roster), "records.csv", 5, "机构序号")
    assert len(f.message) < 120
    refused(capsys, monkeypatch, demo_copy, "records.csv:5 [机构序号]")
