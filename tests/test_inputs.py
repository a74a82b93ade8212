"""Malformed evidence, judgments and roster files, encodings and formats, and the CLI on good and bad inputs.

Each malformed case copies data/demo (or the roster) to a temporary folder, breaks one file and checks
that InputError names that file and the place (row, column, indicator) of the fault.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import yaml
from demo_sheets import demo_findings

from rubric_kernel.cli import main
from rubric_kernel.errors import InputError
from rubric_kernel.evidence import load_dataset, parse_date
from rubric_kernel.judgments_file import read_judgments
from rubric_kernel.programme import load_materials
from rubric_kernel.roster import load_roster
from rubric_kernel.scoring import score
from rubric_kernel.workspace import DEMO_DATA, ROSTER_PATH, load_workspace, read_checked

LEVEL1 = ["基本情况", "质量控制", "财务状况", "社会责任", "服务管理", "行业信用", "公共信用"]


# ── helpers ─────────────────────────────────────────────────────────────────────────────────────


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [list(r) for r in csv.reader(fh)]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> None:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)


def set_cell(folder: Path, stem: str, row: int, column: str, value: str) -> None:
    """Set one cell; ``row`` counts like the loader's messages (header = row 1)."""
    path = folder / f"{stem}.csv"
    rows = read_csv(path)
    rows[row - 1][rows[0].index(column)] = value
    write_csv(path, rows)


def faults_of(call) -> list:
    with pytest.raises(InputError) as exc:
        call()
    assert exc.value.faults, "InputError without faults"
    return exc.value.faults


def one_fault(faults: list, file: str, row: int | None = None, column: str | None = None):
    """The fault at exactly this place; also checks that its text names the place as file:row [column]."""
    hits = [f for f in faults if Path(f.file).name == file and f.row == row and f.column == column]
    assert len(hits) == 1, [str(f) for f in faults]
    f = hits[0]
    text = str(f)
    assert file in text
    if row is not None:
        assert f"{file}:{row}" in text
    if column is not None:
        assert f"[{column}]" in text
    return f


@pytest.fixture(scope="module")
def ws():
    return load_workspace()


@pytest.fixture(scope="module")
def demo_evidence(rubric, roster):
    return load_dataset(DEMO_DATA, rubric, roster, load_materials()).evidence


def load(folder: Path, rubric, roster):
    return load_dataset(folder, rubric, roster, load_materials())


# ── the demo dataset as shipped ─────────────────────────────────────────────────────────────────


def test_demo_dataset_loads(rubric, roster):
    ds = load(DEMO_DATA, rubric, roster)
    assert ds.synthetic and ds.mark == "演示数据"
    assert ds.as_of == dt.date(2023, 7, 31)
    assert set(ds.evidence) == set(roster)
    materials = ds.for_institution(13).materials
    assert [m.item for m in materials] == list(range(1, load_materials().count + 1))
    assert {p.table for p in ds.for_institution(13).personnel} <= {1, 2, 3, 4, 5}


def test_parse_date_iso():
    assert parse_date(" 2023-05-08 ") == dt.date(2023, 5, 8)


@pytest.mark.parametrize(
    "text",
    ["", "2023-13-01", "2023-02-30", "2023-05", "昨天", "2023/5/8", "2023年5月8日", "2023.5.8", "2023-05-08 10:00:00"],
)
def test_parse_date_refuses(text):
    with pytest.raises(ValueError):
        parse_date(text)


# ── records.csv ─────────────────────────────────────────────────────────────────────────────────


def test_unknown_record_type(demo_copy, rubric, roster):
    set_cell(demo_copy, "records", 3, "记录类型", "乱收费")
    faults = faults_of(lambda: load(demo_copy, rubric, roster))
    f = one_fault(faults, "records.csv", 3, "记录类型")
    assert "乱收费" in f.message
    assert len(faults) == 1


@pytest.mark.parametrize(
    ("table", "row", "column", "value", "quoted"),
    [
        pytest.param("records", 4, "日期", "2023-02-30", True, id="bad_record_date"),
        pytest.param("records", 2, "机构序号", "99", True, id="unknown_institution_number"),
        pytest.param("records", 2, "机构序号", "十三", False, id="non_numeric_institution"),
        pytest.param("records", 5, "严重程度", "特别严重", True, id="bad_severity"),
        pytest.param("records", 5, "发布机关", "", False, id="empty_authority"),
        pytest.param("materials", 3, "是否提供", "部分", False, id="materials_bad_provided"),
        # row 2 is institution 1, item 1
        pytest.param("materials", 3, "材料序号", "1", False, id="materials_duplicate_item"),
        pytest.param("personnel", 5, "从业年限", "-3", True, id="personnel_negative_years"),
        pytest.param("personnel", 6, "表号", "6", False, id="personnel_bad_table"),
        pytest.param("personnel", 7, "姓名", "", False, id="personnel_empty_name"),
    ],
)
def test_one_bad_cell_is_one_fault(demo_copy, rubric, roster, table, row, column, value, quoted):
    """A bad cell is reported once, naming the file, its row and column (and the value, where it helps)."""
    set_cell(demo_copy, table, row, column, value)
    f = one_fault(faults_of(lambda: load(demo_copy, rubric, roster)), f"{table}.csv", row, column)
    if quoted:
        assert value in f.message


def test_duplicate_record_id(demo_copy, rubric, roster):
    first = read_csv(demo_copy / "records.csv")[1][0]
    set_cell(demo_copy, "records", 6, "记录编号", first)
    f = one_fault(faults_of(lambda: load(demo_copy, rubric, roster)), "records.csv", 6, "记录编号")
    assert first in f.message


def test_several_faults_reported_together(demo_copy, rubric, roster):
    set_cell(demo_copy, "records", 3, "记录类型", "乱收费")
    set_cell(demo_copy, "records", 7, "严重程度", "很重")
    set_cell(demo_copy, "materials", 10, "是否提供", "也许")
    faults = faults_of(lambda: load(demo_copy, rubric, roster))
    one_fault(faults, "records.csv", 3, "记录类型")
    one_fault(faults, "records.csv", 7, "严重程度")
    one_fault(faults, "materials.csv", 10, "是否提供")


def test_empty_records_file(demo_copy, rubric, roster):
    (demo_copy / "records.csv").write_bytes(b"")
    f = one_fault(faults_of(lambda: load(demo_copy, rubric, roster)), "records.csv")
    assert "空" in f.message


def test_unknown_column(demo_copy, rubric, roster):
    rows = read_csv(demo_copy / "records.csv")
    rows[0][rows[0].index("摘要")] = "情况说明"
    write_csv(demo_copy / "records.csv", rows)
    faults = faults_of(lambda: load(demo_copy, rubric, roster))
    unknown = [f for f in faults if "情况说明" in f.message]
    assert len(unknown) == 1 and unknown[0].row == 1 and Path(unknown[0].file).name == "records.csv"
    assert any("摘要" in f.message and f.row == 1 for f in faults)  # and the column it replaced is missing


def test_extra_unknown_column(demo_copy, rubric, roster):
    rows = read_csv(demo_copy / "records.csv")
    write_csv(demo_copy / "records.csv", [[*r, "x"] for r in rows[:1]] + [[*r, ""] for r in rows[1:]])
    faults = faults_of(lambda: load(demo_copy, rubric, roster))
    (f,) = faults
    assert (Path(f.file).name, f.row) == ("records.csv", 1)
    assert "“x”" in f.message


def test_missing_required_column(demo_copy, rubric, roster):
    rows = read_csv(demo_copy / "records.csv")
    k = rows[0].index("信息来源")
    write_csv(demo_copy / "records.csv", [r[:k] + r[k + 1 :] for r in rows])
    faults = faults_of(lambda: load(demo_copy, rubric, roster))
    (f,) = faults
    assert (Path(f.file).name, f.row) == ("records.csv", 1)
    assert "信息来源" in f.message


def test_duplicate_column(demo_copy, rubric, roster):
    rows = read_csv(demo_copy / "records.csv")
    rows[0][rows[0].index("摘要")] = "日期"
    write_csv(demo_copy / "records.csv", rows)
    faults = faults_of(lambda: load(demo_copy, rubric, roster))
    assert any("日期" in f.message and "重复" in f.message and f.row == 1 for f in faults)


def test_english_headers_accepted(demo_copy, rubric, roster, demo_evidence):
    rows = read_csv(demo_copy / "records.csv")
    rows[0] = ["id", "institution", "type", "authority", "date", "severity", "reference", "summary", "source"]
    write_csv(demo_copy / "records.csv", rows)
    assert load(demo_copy, rubric, roster).evidence == demo_evidence


def test_missing_records_file(demo_copy, rubric, roster):
    (demo_copy / "records.csv").unlink()
    faults = faults_of(lambda: load(demo_copy, rubric, roster))
    assert any(Path(f.file).name == "records.csv" and "缺少" in f.message for f in faults)


def test_gbk_records_load_like_utf8(demo_copy, rubric, roster, demo_evidence):
    rows = read_csv(demo_copy / "records.csv")
    write_csv(demo_copy / "records.csv", rows, encoding="gbk")
    raw = (demo_copy / "records.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert load(demo_copy, rubric, roster).evidence == demo_evidence


def test_utf8_bom_records_load(demo_copy, rubric, roster, demo_evidence):
    rows = read_csv(demo_copy / "records.csv")
    write_csv(demo_copy / "records.csv", rows, encoding="utf-8-sig")
    assert load(demo_copy, rubric, roster).evidence == demo_evidence


def test_xlsx_records_load(demo_copy, rubric, roster, demo_evidence):
    openpyxl = pytest.importorskip("openpyxl")
    rows = read_csv(demo_copy / "records.csv")
    header = rows[0]
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.append(header)
    for r in rows[1:]:
        cells: list[object] = list(r)
        cells[header.index("机构序号")] = int(r[header.index("机构序号")])  # numbers as numbers
        cells[header.index("日期")] = dt.datetime.combine(parse_date(r[header.index("日期")]), dt.time())
        sheet.append(cells)
    sheet.append([None] * len(header))  # trailing empty row, as exports often have
    wb.save(demo_copy / "records.xlsx")
    (demo_copy / "records.csv").unlink()
    assert load(demo_copy, rubric, roster).evidence == demo_evidence


def test_xlsx_fault_names_row_and_column(demo_copy, rubric, roster):
    openpyxl = pytest.importorskip("openpyxl")
    rows = read_csv(demo_copy / "records.csv")
    rows[3][rows[0].index("严重程度")] = "很重"
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(demo_copy / "records.xlsx")
    (demo_copy / "records.csv").unlink()
    one_fault(faults_of(lambda: load(demo_copy, rubric, roster)), "records.xlsx", 4, "严重程度")


def test_broken_xlsx(demo_copy, rubric, roster):
    (demo_copy / "records.csv").unlink()
    (demo_copy / "records.xlsx").write_bytes(b"not a workbook")
    one_fault(faults_of(lambda: load(demo_copy, rubric, roster)), "records.xlsx")


# ── materials.csv, personnel.csv, dataset.yaml ──────────────────────────────────────────────────


def test_materials_item_28(demo_copy, rubric, roster):
    set_cell(demo_copy, "materials", 2, "材料序号", "28")
    f = one_fault(faults_of(lambda: load(demo_copy, rubric, roster)), "materials.csv", 2, "材料序号")
    assert "28" in f.message and "27" in f.message


def test_dataset_yaml_bad_as_of(demo_copy, rubric, roster):
    meta = yaml.safe_load((demo_copy / "dataset.yaml").read_text(encoding="utf-8"))
    meta["as_of"] = "next monday"
    (demo_copy / "dataset.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    one_fault(faults_of(lambda: load(demo_copy, rubric, roster)), "dataset.yaml")


def test_dataset_yaml_missing(demo_copy, rubric, roster):
    (demo_copy / "dataset.yaml").unlink()
    one_fault(faults_of(lambda: load(demo_copy, rubric, roster)), "dataset.yaml")


# ── roster ──────────────────────────────────────────────────────────────────────────────────────


def roster_copy(tmp_path: Path, row: int, column: str, value: str) -> Path:
    path = tmp_path / "institutions.csv"
    shutil.copyfile(ROSTER_PATH, path)
    rows = read_csv(path)
    rows[row - 1][rows[0].index(column)] = value
    write_csv(path, rows)
    return path


def test_roster_bad_class(tmp_path):
    path = roster_copy(tmp_path, 6, "class", "大学")
    f = one_fault(faults_of(lambda: load_roster(path)), "institutions.csv", 6, "类别")
    assert "大学" in f.message


def test_roster_bad_type(tmp_path):
    path = roster_copy(tmp_path, 8, "types", "认定机构、培训机构")
    one_fault(faults_of(lambda: load_roster(path)), "institutions.csv", 8, "机构类型")


def test_roster_duplicate_number(tmp_path):
    path = roster_copy(tmp_path, 4, "number", "2")
    one_fault(faults_of(lambda: load_roster(path)), "institutions.csv", 4, "序号")


# ── judgments files ─────────────────────────────────────────────────────────────────────────────


def judgments_file(tmp_path: Path, ws, **changes) -> Path:
    """The demo judgments of institution 13 with top-level ``changes``, written to a temporary file."""
    data = yaml.safe_load((ws.dataset.folder / "judgments" / "13.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    path = tmp_path / "13.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def line_of(path: Path, start: str) -> int:
    """The 1-based line of a YAML file whose text (indentation stripped) begins with ``start``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip().startswith(start))


def test_demo_judgments_pass(ws):
    jf = read_checked(ws, ws.dataset.folder / "judgments" / "13.yaml")
    assert jf.institution == 13


def test_judgment_unknown_item_id(tmp_path, ws):
    path = judgments_file(tmp_path, ws, indicators={1: {"ticks": {"1z": 1}}})
    f = one_fault(faults_of(lambda: read_checked(ws, path)), "13.yaml")
    assert f.indicator == 1 and "1z" in f.message
    assert "指标1" in str(f)


def test_judgment_item_of_another_indicator(tmp_path, ws):
    path = judgments_file(tmp_path, ws, indicators={2: {"ticks": {"1b": 1}}})
    assert one_fault(faults_of(lambda: read_checked(ws, path)), "13.yaml").indicator == 2


def test_judgment_count_on_plain_item(tmp_path, ws):
    path = judgments_file(tmp_path, ws, indicators={1: {"ticks": {"1b": 2}}})  # 1b has no unit
    assert one_fault(faults_of(lambda: read_checked(ws, path)), "13.yaml").indicator == 1


def test_judgment_free_deduction_above_max(tmp_path, ws):
    path = judgments_file(tmp_path, ws, indicators={6: {"free": [{"points": 12, "reason": "设备陈旧"}]}})
    f = one_fault(faults_of(lambda: read_checked(ws, path)), "13.yaml")
    assert f.indicator == 6 and "12" in f.message


def test_judgment_free_deduction_without_reason(tmp_path, ws):
    path = judgments_file(tmp_path, ws, indicators={6: {"free": [{"points": 2, "reason": "  "}]}})
    f = one_fault(faults_of(lambda: read_checked(ws, path)), "13.yaml")
    assert f.indicator == 6 and "理由" in f.message


def test_judgment_free_deduction_reason_missing_key(tmp_path, ws):
    path = judgments_file(tmp_path, ws, indicators={6: {"free": [{"points": 2}]}})
    faults = faults_of(lambda: read_checked(ws, path))
    assert [f.indicator for f in faults] == [6]
    assert "reason" in faults[0].message


def test_judgment_dismisses_record_of_another_institution(tmp_path, ws):
    other = ws.dataset.for_institution(1).records[0].id
    path = judgments_file(tmp_path, ws, dismissed={other: "信用修复"})
    f = one_fault(faults_of(lambda: read_checked(ws, path)), "13.yaml")
    assert other in f.message


def test_judgment_unknown_top_level_key(tmp_path, ws):
    path = judgments_file(tmp_path, ws, indicator={1: {}})
    f = one_fault(faults_of(lambda: read_checked(ws, path)), "13.yaml", line_of(path, "indicator:"))
    assert "indicator" in f.message


def test_judgment_unknown_key_in_indicator(tmp_path, ws):
    path = judgments_file(tmp_path, ws, indicators={4: {"tick": {"4a": 1}}})
    f = one_fault(faults_of(lambda: read_judgments(path)), "13.yaml", line_of(path, "tick:"))
    assert f.indicator == 4 and "tick" in f.message


def test_judgment_unknown_institution(tmp_path, ws):
    path = judgments_file(tmp_path, ws, institution=99)
    f = one_fault(faults_of(lambda: read_checked(ws, path)), "13.yaml")
    assert "99" in f.message


def test_judgment_unknown_bonus_and_veto(tmp_path, ws):
    path = judgments_file(
        tmp_path, ws, bonus={"golf": ""}, veto={"10": {"status": "raised", "reason": "x"}}, indicators={}
    )
    faults = faults_of(lambda: read_checked(ws, path))
    assert any("golf" in f.message for f in faults)
    assert any("10" in f.message for f in faults)
    assert all(Path(f.file).name == "13.yaml" for f in faults)


def test_judgment_adjustment_out_of_range(tmp_path, ws):
    path = judgments_file(tmp_path, ws, adjustments={5: {"score": 16, "reason": "复核"}})
    assert one_fault(faults_of(lambda: read_checked(ws, path)), "13.yaml").indicator == 5


def test_judgment_yaml_syntax_error(tmp_path):
    path = tmp_path / "13.yaml"
    path.write_text("institution: 13\nexpert: [李明\n", encoding="utf-8")
    one_fault(faults_of(lambda: read_judgments(path)), "13.yaml", 3)  # the list is still open at the end


def test_judgment_empty_file(tmp_path):
    path = tmp_path / "13.yaml"
    path.write_text("", encoding="utf-8")
    one_fault(faults_of(lambda: read_judgments(path)), "13.yaml")


def test_judgment_json_accepted(tmp_path, ws):
    data = yaml.safe_load((ws.dataset.folder / "judgments" / "13.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "13.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert read_checked(ws, path).sheet == read_checked(ws, ws.dataset.folder / "judgments" / "13.yaml").sheet


# ── CLI ─────────────────────────────────────────────────────────────────────────────────────────


def test_cli_validate_demo(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "校验通过" in out and "演示数据" in out


def test_cli_validate_broken_dataset(capsys, demo_copy, monkeypatch):
    monkeypatch.chdir(demo_copy.parent)
    set_cell(demo_copy, "records", 3, "记录类型", "乱收费")
    set_cell(demo_copy, "personnel", 5, "从业年限", "-1")
    code = main(["validate", "--data", str(demo_copy)])
    assert code != 0
    captured = capsys.readouterr()
    assert "records.csv:3 [记录类型]" in captured.err
    assert "personnel.csv:5 [从业年限]" in captured.err
    assert "校验通过" not in captured.out


def test_cli_validate_broken_judgments(capsys, demo_copy, monkeypatch):
    monkeypatch.chdir(demo_copy.parent)
    path = demo_copy / "judgments" / "13.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["indicators"]["1"] = {"ticks": {"1z": 1}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["validate", "--data", str(demo_copy)]) != 0
    err = capsys.readouterr().err
    assert "13.yaml" in err and "指标1" in err and "1z" in err


def test_cli_validate_judgments_file_named_for_another_institution(capsys, demo_copy, monkeypatch):
    # judgments/13.yaml holding institution 14: institution 13 silently loses its judgments and 14 has two
    # files; validate must say so rather than pass.
    monkeypatch.chdir(demo_copy.parent)
    path = demo_copy / "judgments" / "13.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["institution"] = 14
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["validate", "--data", str(demo_copy)]) != 0
    assert "13.yaml" in capsys.readouterr().err


def expected_keys() -> list[str]:
    return [
        "institution", "name", "class", "as_of", "total", "grade", "status", "bonus", "veto", "level1",
        "pending", "next_grade", "to_next_grade", "pending_points", "pending_upside", "indicators",
    ]  # fmt: skip


def test_cli_score_json(capsys, tmp_path, monkeypatch, ws):
    monkeypatch.chdir(tmp_path)
    assert main(["score", "13", "--json", "--db", str(tmp_path / "s.sqlite")]) == 0
    payload = json.loads(capsys.readouterr().out)
    # the schema of docs/evidence-formats.md (score --json): Result.as_json() plus the dataset's name and kind
    assert list(payload) == [*expected_keys(), "dataset", "synthetic"]
    assert (payload["dataset"], payload["synthetic"]) == (ws.dataset.name, ws.dataset.synthetic)
    assert payload["institution"] == 13
    assert payload["name"] == "四川旅游学院"
    assert list(payload["level1"]) == LEVEL1
    assert payload["status"] in ("complete", "provisional")
    assert isinstance(payload["veto"], list) and isinstance(payload["pending"], list)
    # the CLI reports what the core computes from the same inputs
    jf = read_checked(ws, ws.dataset.folder / "judgments" / "13.yaml")
    sheet = dataclasses.replace(jf.sheet, findings=demo_findings(ws)[13])  # with the demo centre's 人社 data
    expected = score(ws.rubric, ws.roster[13], ws.dataset.for_institution(13), sheet, ws.dataset.as_of)
    assert expected.status == "complete"
    assert payload["total"] == expected.total
    assert payload["grade"] == expected.grade
    assert payload["bonus"] == expected.bonus
    assert payload["level1"] == expected.level1
    assert abs(sum(payload["level1"].values()) + payload["bonus"] - payload["total"]) < 1e-6


def test_cli_score_unknown_institution(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["score", "99", "--json", "--db", str(tmp_path / "s.sqlite")]) != 0
    assert "99" in capsys.readouterr().err


def test_cli_rubric_json(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["rubric", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    indicators = payload["indicators"]
    assert len(indicators) == 68
    assert [i["number"] for i in indicators] == list(range(1, 69))
    for i in indicators:
        assert {"number", "name", "level1", "level2", "max_points", "base"} <= set(i)
        assert i["level1"] in LEVEL1
        assert i["base"] in ("full", "zero")
    assert sum(i["max_points"] for i in indicators) == 1000
    assert payload["bonus_cap"] == 50
    assert payload["cutoffs"] == {"AAAAA": 900, "AAAA": 800, "AAA": 700, "AA": 600, "A": 0}
    assert len(payload["veto_clauses"]) == 15
    assert "1(7)" in payload["veto_clauses"] and "9" in payload["veto_clauses"]


def test_cli_rubric_broken_file(capsys, tmp_path, monkeypatch, rubric_dict):
    monkeypatch.chdir(tmp_path)
    rubric_dict["grades"]["presets"]["default"].reverse()
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(rubric_dict, allow_unicode=True), encoding="utf-8")
    assert main(["rubric", "--json", "--rubric", "r.yaml"]) != 0
    assert "r.yaml" in capsys.readouterr().err
