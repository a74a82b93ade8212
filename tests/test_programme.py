"""Programme settings and the 附件3 checklist as validated data: faults name file and field in Chinese, values the
seed does not fix are marked as project defaults, and the documents showing them say 本项目默认值."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import io
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from rubric_kernel.cli import main
from rubric_kernel.errors import InputError
from rubric_kernel.programme import (
    DEFAULT_MARK,
    LIMITS,
    MATERIALS_PATH,
    PROGRAMME_PATH,
    Programme,
    load_materials,
    load_programme,
)
from rubric_kernel.workflow import documents
from rubric_kernel.workflow.schedule import Visit
from rubric_kernel.workspace import load_workspace

D = dt.date
RAW = yaml.safe_load(PROGRAMME_PATH.read_text(encoding="utf-8"))
RAW_MATERIALS = yaml.safe_load(MATERIALS_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def programme() -> Programme:
    return load_programme()


@pytest.fixture(scope="module")
def ws():
    return load_workspace()


def faults_of(tmp_path: Path, data: dict, loader, name: str) -> list[str]:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        loader(path)
    return [str(f) for f in exc.value.faults]


def changed(path: tuple, value) -> dict:
    """A copy of the shipped programme with one field replaced (``...`` deletes it)."""
    data = copy.deepcopy(RAW)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        (("issuer",), ..., "issuer", "缺少此项"),
        (("objection", "phone"), ..., "objection.phone", "缺少此项"),
        (("notification_date", "value"), "2023-05-32", "notification_date.value", "日期“2023-05-32”无效"),
        (("window", "value", "start"), "五月八日", "window.value.start", "应为 YYYY-MM-DD"),
        (("window", "value"), {"start": "2023-08-31", "end": "2023-05-08"}, "window.value", "结束日 2023-05-08 早于"),
        (("publicity_days", "value"), -7, "publicity_days.value", "-7 过小，应不小于 1"),
        (("notice_days", "value"), -5, "notice_days.value", "过小"),
        (("validity_years", "value"), 100000, "validity_years.value", "100000 过大，应不大于 10"),
        (("groups", "value"), "三", "groups.value", "应为整数"),
        (("publicity_days", "default"), False, "publicity_days", "种子未规定的值标 default: true"),
        (("window", "default"), True, "window", "须二选一"),
        (("report_number", "value"), "川信评{month}", "report_number", "报告编号格式"),
        (("window", "colour"), "red", "window.colour", "不认识的字段"),
    ],
)
def test_programme_faults_name_file_and_field(tmp_path, path, value, field, message):
    faults = faults_of(tmp_path, changed(path, value), load_programme, "programme.yaml")
    hits = [f for f in faults if f"programme.yaml [{field}]" in f]
    assert len(hits) == 1, faults
    assert message in hits[0]


def test_programme_faults_are_reported_together(tmp_path):
    data = changed(("issuer",), ...)
    data["publicity_days"]["value"] = 0
    faults = faults_of(tmp_path, data, load_programme, "programme.yaml")
    assert (
        len(faults) == 2 and any("[issuer]" in f for f in faults) and any("[publicity_days.value]" in f for f in faults)
    )


def test_an_unreadable_programme_is_a_fault_not_a_traceback(tmp_path):
    path = tmp_path / "programme.yaml"
    path.write_text("window: [unclosed", encoding="utf-8")
    with pytest.raises(InputError, match="YAML 格式错误"):
        load_programme(path)
    with pytest.raises(InputError, match="无法读取"):
        load_programme(tmp_path / "missing.yaml")


def test_the_shipped_programme_cites_the_seed_or_marks_a_default(programme):
    """The seed fixes window, notice, bodies, phone, site and the notice's identity; it leaves the rest open."""
    assert (programme.window.value.start, programme.window.value.end) == (D(2023, 5, 8), D(2023, 8, 31))
    assert programme.notice_days.value == 5 and not programme.notice_days.default
    assert programme.document_number.value == "川人社职鉴〔2023〕22号"
    assert programme.issuer.value == "四川省职业技能鉴定指导中心"
    assert programme.organiser.value == "四川大证信用评级有限公司"
    assert programme.publication_site.value == "http://rst.sc.gov.cn/"
    assert "86136211" in programme.objection.phone.value and not programme.objection.phone.default
    for name in ("notification_date", "publicity_days", "validity_years", "report_number", "groups", "per_day"):
        assert getattr(programme, name).default, name
    assert programme.objection.address.default and programme.objection.email.default
    for name, (low, high) in LIMITS.items():
        assert low <= getattr(programme, name).value <= high


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (lambda d: d["items"].pop(5), "items", "材料须从 1 起连续编号"),
        (lambda d: d["tables"][2].update(number=7), "tables", "人员统计表须从 1 起连续编号"),
        (lambda d: d["items"][0].update(text=""), "items.0.text", "不能为空"),
        (lambda d: d.pop("title"), "title", "缺少此项"),
        (lambda d: d["tables"][0].pop("columns"), "tables.0.columns", "缺少此项"),
    ],
)
def test_materials_faults_name_file_and_field(tmp_path, mutate, field, message):
    data = copy.deepcopy(RAW_MATERIALS)
    mutate(data)
    faults = faults_of(tmp_path, data, load_materials, "materials.yaml")
    assert any(f"materials.yaml [{field}]" in f and message in f for f in faults), faults


def test_materials_model_is_what_the_dataset_is_checked_against(ws):
    assert ws.materials == load_materials()
    assert {m.item for m in ws.dataset.for_institution(13).materials} <= {i.number for i in ws.materials.items}


# --- documents say 本项目默认值 beside a default, and not beside a value given on the command line --------------


def test_publicity_and_announcement_notes_mark_defaults(programme):
    days = programme.publicity_days
    note = documents.publicity_note(programme, D(2023, 9, 1), days)
    assert f"共 {days.value} 天（{DEFAULT_MARK}）" in note
    assert f"{programme.objection.email.value}（{DEFAULT_MARK}）" in note
    assert f"{programme.objection.phone.value}（" not in note  # the seed's phone is not a default
    assert programme.publication_site.value in note
    given = days.overridden(10, "--days")
    assert not given.default
    overridden = documents.publicity_note(programme, D(2023, 9, 1), given)
    assert "共 10 天；" in overridden and "2023-09-10" in overridden
    years = programme.validity_years
    assert f"有效期 {years.value} 年（{DEFAULT_MARK}）" in documents.announcement_note(programme, D(2023, 9, 8), years)
    assert f"有效期 3 年（{DEFAULT_MARK}" not in documents.announcement_note(
        programme, D(2023, 9, 8), years.overridden(3, "--valid-years")
    )


def test_public_list_shows_the_note_and_report_numbers_in_both_formats(tmp_path, programme, ws):
    results = {13: {"status": "complete", "grade": "AAA", "total": 812.5}}
    note = documents.publicity_note(programme, D(2023, 9, 1), programme.publicity_days)
    html, xlsx = documents.write_public_list(
        tmp_path, "公示名单", "信用评估结果公示名单", ws.roster, results, "演示数据", note, programme, ws.rubric
    )
    text = html.read_text(encoding="utf-8")
    number = programme.report_no(13)
    assert number in text and f"天（{DEFAULT_MARK}）" in text and f"报告编号格式为{DEFAULT_MARK}" in text
    book = load_workbook(xlsx, read_only=True)
    cells = {str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row if c}
    book.close()
    assert number in cells and any(f"天（{DEFAULT_MARK}）" in c for c in cells)


@pytest.mark.parametrize("override", [None, D(2023, 5, 5)], ids=["programme-default", "command-line"])
def test_notifications_mark_a_default_notification_date(tmp_path, programme, ws, override):
    notified = programme.notification_date.overridden(override, "--notify-on")
    visits = [Visit(13, D(2023, 5, 15), 1, notified.value)]
    documents.write_schedule(
        tmp_path, visits, ws.roster, "演示数据", programme=programme, checklist=ws.materials, notified=notified
    )
    html = (tmp_path / "notifications.html").read_text(encoding="utf-8")
    marked = f"通知日期 {notified.value.isoformat()}（{DEFAULT_MARK}）" in html
    assert marked == (override is None)
    assert programme.document_number.value in html and programme.organiser.value in html
    assert f"共 {ws.materials.count} 项" in html


def test_a_faulty_programme_file_stops_a_command_with_file_and_field(tmp_path):
    path = tmp_path / "programme.yaml"
    path.write_text(yaml.safe_dump(changed(("publicity_days", "value"), 0), allow_unicode=True), encoding="utf-8")
    db = tmp_path / "s.sqlite"
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        rc = main(["publicity", "--start", "2023-09-01", "--programme", str(path), "--db", str(db)])
    assert rc == 2
    assert "programme.yaml [publicity_days.value]: 0 过小，应不小于 1" in err.getvalue()
    assert not db.exists()
