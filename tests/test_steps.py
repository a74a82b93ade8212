"""The seed's remaining workflow steps (issue 10 §7) on SQLite: telling the objector the decision
(告知申请人), the pre-collection record of the 12 credit record types (信用记录预采集), and the
notification package with tables 1–5 and the 信用承诺书 form. PostgreSQL: tests/test_steps_pg.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import test_workflow as tw
import yaml
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from test_workflow import AGENT, CENTRE, CENTRE_NAME, PUBLICITY, act, cli, to_reviewed

from rubric_kernel import clock
from rubric_kernel.assessment import Assessment
from rubric_kernel.judgments import bootstrap
from rubric_kernel.programme import DEFAULT_MARK, load_materials
from rubric_kernel.records import Event
from rubric_kernel.report.digest import input_digests
from rubric_kernel.report.loader import load_context
from rubric_kernel.report.render import report_body
from rubric_kernel.spreadsheet import MARK_COLUMN
from rubric_kernel.store import Store
from rubric_kernel.workflow import collection
from rubric_kernel.workflow.service import WorkflowError
from rubric_kernel.workspace import load_workspace

# the workflow tests' fixtures, shared (a bootstrapped template store per module, copied per test)
ws, template, db, store, wf, _actor_restored = tw.ws, tw.template, tw.db, tw.store, tw.wf, tw._actor_restored

TODAY = clock.today()
YESTERDAY = (TODAY - dt.timedelta(days=1)).isoformat()
OBJECTION = {"applicant": "赵晓明", "grounds": "表彰漏计", "evidence": "行业协会表彰文件"}


def kinds(store: Store, ws, n: int) -> list[str]:
    return [e.kind for e in store.events(ws.dataset.name, n)]


@pytest.fixture
def objected(wf):
    """Institution 13 in 异议处理 with one open objection; returns its id."""
    to_reviewed(wf, 13)
    act(CENTRE)
    wf.open_publicity(PUBLICITY[0], 7)
    return wf.add_objection(13, date=PUBLICITY[0], **OBJECTION).id


# --- 告知申请人 -------------------------------------------------------------------------------------


def test_no_letter_before_the_decision(wf, store, ws, db, objected):
    before = kinds(store, ws, 13)
    act(CENTRE)
    with pytest.raises(WorkflowError, match=f"异议 {objected} 尚未处理，不能告知申请人"):
        wf.send_letter(13, objected, clock.ActDate(TODAY))
    rc, _, err = cli("letter", "13", str(objected), "--db", str(db))
    assert rc == 3 and "尚未处理" in err
    assert kinds(store, ws, 13) == before


def test_only_the_centre_sends_the_letter(wf, store, ws, db, objected):
    act(CENTRE)
    wf.decide_objection(13, objected, decision="rejected", note="经核实无实质依据", adjust={})
    before = kinds(store, ws, 13)
    act(AGENT)
    rc, _, err = cli("letter", "13", str(objected), "--db", str(db))
    assert rc == 3
    assert "无权告知异议申请人处理结果：需要“省职鉴中心复核”角色" in err
    assert kinds(store, ws, 13) == before


def test_the_letter_is_dated_by_the_clock_and_sent_once(wf, store, ws, db, objected, tmp_path):
    out = tmp_path / "out"
    act(CENTRE)
    wf.decide_objection(13, objected, decision="rejected", note="经核实无实质依据", adjust={})
    before = kinds(store, ws, 13)
    future = (TODAY + dt.timedelta(days=1)).isoformat()
    for argv, message, code in [
        (("--date", future), "不能登记未来的日期", 2),
        (("--date", YESTERDAY), "须用 --late 写明补录理由", 2),
        (("--date", YESTERDAY, "--late", "漏登"), "早于异议处理日期", 3),  # the decision was recorded today
    ]:
        rc, _, err = cli("letter", "13", str(objected), *argv, "--db", str(db), "--out", str(out))
        assert rc == code and message in err, err
    assert kinds(store, ws, 13) == before
    assert not out.exists()

    rc, _, err = cli("letter", "13", str(objected), "--db", str(db), "--out", str(out))
    assert rc == 0, err
    sent = next(o for o in wf.state(13).objections if o.id == objected)
    assert (sent.letter, sent.letter_by, sent.letter_late) == (TODAY, CENTRE_NAME, "")
    event = store.events(ws.dataset.name, 13)[-1]
    assert (event.kind, event.login) == ("objection_letter", CENTRE)

    rc, status, _ = cli("status", "13", "--db", str(db))
    assert f"{TODAY.isoformat()} 已告知申请人（{CENTRE_NAME}）" in status

    rc, _, err = cli("letter", "13", str(objected), "--db", str(db), "--out", str(out))
    assert rc == 3 and f"已于 {TODAY.isoformat()} 告知申请人" in err


def test_the_letter_document_states_the_decision(wf, db, objected, tmp_path):
    act(CENTRE)
    wf.decide_objection(13, objected, decision="rejected", note="申请人所附表彰文件为 2019 年，在回溯期外", adjust={})
    rc, out, err = cli("letter", "13", str(objected), "--db", str(db), "--out", str(tmp_path))
    assert rc == 0, err
    (path,) = tmp_path.glob("*.html")
    assert path.name in out
    html = path.read_text(encoding="utf-8")
    for text in (
        "信用评估异议处理结果告知书",
        "演示数据",
        OBJECTION["applicant"],
        OBJECTION["grounds"],
        "异议不成立",
        "申请人所附表彰文件为 2019 年，在回溯期外",
        CENTRE_NAME,
        TODAY.isoformat(),
        "四川旅游学院",
        DEFAULT_MARK,
    ):
        assert text in html, text


def test_the_report_says_the_applicant_was_told(wf, ws, store, objected):
    act(CENTRE)
    wf.decide_objection(13, objected, decision="rejected", note="经核实无实质依据", adjust={})
    body = report_body(load_context(Assessment(ws, store, ws.institution(13), ws.dataset.as_of, "异议处理")))
    assert "已告知申请人" not in body
    wf.send_letter(13, objected, clock.ActDate(TODAY))
    body = report_body(load_context(Assessment(ws, store, ws.institution(13), ws.dataset.as_of, "异议处理")))
    assert f"{TODAY.isoformat()} 已告知申请人" in body


# --- 信用记录预采集 -----------------------------------------------------------------------------------


def test_the_seed_lists_twelve_record_types(rubric):
    types = collection.record_types()
    assert len(types) == 12 and set(types) <= set(rubric.record_types_by_code)


def test_the_demo_ships_the_demo_organisers_collection_record(wf):
    got = wf.collected()
    assert set(got) == set(collection.record_types())
    assert {(c.by, c.login) for c in got.values()} == {("大证信用（演示）", AGENT)}
    assert all(c.late.startswith("演示数据") for c in got.values())  # dated 2023: a late record, marked


def test_the_organiser_records_a_collection(wf, store, ws, db):
    act(AGENT)
    rc, out, err = cli("collect", "--type", "约谈，行政处罚", "--source", "四川省人社厅监管通报", "--db", str(db))
    assert rc == 0, err
    got = wf.collected()
    for type_ in ("约谈", "行政处罚"):
        assert (got[type_].source, got[type_].date, got[type_].login) == ("四川省人社厅监管通报", TODAY, AGENT)
    assert "12 类信用信息均已登记采集" in out


@pytest.mark.parametrize(
    ("who", "argv", "message"),
    [
        (CENTRE, ("--type", "约谈"), "无权登记信用记录预采集：需要“第三方评估机构”角色"),
        (AGENT, ("--type", "约谈,劳动争议"), "未知信用记录类型“劳动争议”"),  # one bad type: none is written
        (AGENT, ("--type", "约谈", "--date", "2099-01-01"), "不能登记未来的日期"),  # refused as input (2)
        (AGENT, ("--type", "约谈", "--date", "2023-05-08"), "须用 --late 写明补录理由"),
    ],
    ids=["centre", "unknown-type", "future", "past-without-late"],
)
def test_a_refused_collection_writes_nothing(store, ws, db, who, argv, message):
    before = kinds(store, ws, collection.PROGRAMME_WIDE)
    act(who)
    rc, _, err = cli("collect", *argv, "--source", "来源", "--db", str(db))
    assert rc in (2, 3) and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert kinds(store, ws, collection.PROGRAMME_WIDE) == before


def test_an_empty_source_is_refused(wf):
    act(AGENT)
    with pytest.raises(WorkflowError, match="须写明“约谈”信用信息的采集来源"):
        wf.collect("约谈", " ", clock.ActDate(TODAY))


def test_a_new_collection_changes_the_inputs_every_report_verifies(wf, ws, store):
    def inputs(n: int) -> dict[str, str]:
        return input_digests(Assessment(ws, store, ws.institution(n), ws.dataset.as_of, "现场评估"))

    before = {n: inputs(n) for n in (13, 66)}
    act(AGENT)
    wf.collect("约谈", "新的采集来源", clock.ActDate(TODAY))
    for n, digests in before.items():
        after = inputs(n)
        assert after["workflow"] != digests["workflow"] and after["judgments"] == digests["judgments"]


def _partial_demo(folder: Path, dropped: set[str]) -> None:
    path = folder / collection.DEMO_FILE
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["entries"] = [e for e in doc["entries"] if e["type"] not in dropped]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


def test_the_report_states_what_was_collected_and_names_what_was_not(demo_copy, tmp_path):
    dropped = {"负面舆情", "社保欠费欠缴"}
    _partial_demo(demo_copy, dropped)
    ws = load_workspace(demo_copy)
    with Store(f"sqlite:///{tmp_path / 's.sqlite'}") as s:
        bootstrap(s, ws)
        body = report_body(load_context(Assessment(ws, s, ws.institution(13), ws.dataset.as_of, "现场评估")))
    shown = [t for t in collection.record_types() if t not in dropped]
    entries = yaml.safe_load((demo_copy / collection.DEMO_FILE).read_text(encoding="utf-8"))["entries"]
    for e in entries:
        assert f"<td>{e['type']}</td><td>{e['source']}</td><td>{e['date']}（补录：{e['late']}）</td>" in body
    assert len(entries) == len(shown)
    assert "未登记采集的类型：负面舆情、社保欠费欠缴。" in body
    assert "大证信用（演示）" in body


def test_a_collection_record_naming_no_organiser_is_refused(demo_copy, tmp_path, capsys):
    path = demo_copy / collection.DEMO_FILE
    path.write_text(path.read_text(encoding="utf-8").replace("by: demo_organiser", "by: demo_centre"), "utf-8")
    rc, _, err = cli("status", "--data", str(demo_copy), "--db", str(tmp_path / "s.sqlite"))
    assert rc != 0 and "“demo_centre”不是已登记的第三方评估机构人员" in err
    assert "Traceback" not in err


def _event(i: int, type_: str, source: str) -> Event:
    payload = {"type": type_, "source": source, "date": "2023-05-08"}
    return Event(i, "demo", 0, i, "collection", "某人", "2023-05-08T00:00:00+00:00", payload, "", login="x")


@given(st.lists(st.tuples(st.sampled_from(collection.record_types()), st.text(min_size=1, max_size=5)), max_size=30))
def test_the_newest_collection_of_a_type_holds(entries):
    got = collection.collected([_event(i, t, s) for i, (t, s) in enumerate(entries, 1)])
    assert set(got) == {t for t, _ in entries}
    for t, c in got.items():
        assert c.source == [s for tt, s in entries if tt == t][-1]


# --- 评估通知 with tables 1–5 and the 信用承诺书 -----------------------------------------------------------


@pytest.fixture(scope="module")
def notified(template, tmp_path_factory):
    root = tmp_path_factory.mktemp("notified")
    path = tw.fresh_db(template, root / "db")
    act(AGENT)
    rc, _, err = cli("schedule", "--db", str(path), "--out", str(root / "out"))
    assert rc == 0, err
    return root / "out"


def test_the_notification_carries_the_fillable_personnel_tables(notified):
    tables = load_materials().tables
    book = load_workbook(notified / "personnel-tables.xlsx", read_only=True)
    try:
        for t in tables:
            rows = [r for r in book[f"表{t.number} {t.name}"[:31]].iter_rows(values_only=True)]
            assert rows[0][0] == MARK_COLUMN and all(r[0] == "演示数据" for r in rows[1:])  # demo: every row says so
            assert list(rows[0][1 : len(t.columns) + 1]) == t.columns
            if t.roles:
                assert [r[1] for r in rows[1:]] == t.roles
                assert all(not any(r[2 : len(t.columns) + 1]) for r in rows[1:])
            else:
                assert len(rows) > 1 and all(not any(r[1 : len(t.columns) + 1]) for r in rows[1:])
        notes = " ".join(str(c) for r in book["说明"].iter_rows(values_only=True) for c in r if c)
        assert "演示数据" in notes and DEFAULT_MARK in notes
    finally:
        book.close()
    html = (notified / "notifications.html").read_text(encoding="utf-8")
    for t in tables:
        assert f"表{t.number} {t.name}" in html
        assert all(f"<th>{c}</th>" in html for c in t.columns)


def test_the_notification_carries_the_commitment_form_marked_as_project_default(notified):
    for name in ("notifications.html", "commitment-form.html"):
        html = (notified / name).read_text(encoding="utf-8")
        assert "信用承诺书" in html and "确保资料真实有效" in html
        assert DEFAULT_MARK in html and "演示数据" in html
        assert "川人社职鉴〔2023〕22号" in html
