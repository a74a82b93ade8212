"""The centre's findings from 人社部门's own data (16 题库建设) at the edges: its table, the commands, the
store and the documents. The rule itself is in test_finding_rules.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from io import BytesIO

import pytest
from openpyxl import load_workbook

from rubric_kernel import findings
from rubric_kernel.assessment import open_assessment
from rubric_kernel.cli import main
from rubric_kernel.errors import InputError
from rubric_kernel.identity import ACTOR_ENV
from rubric_kernel.labels import FINDING_PENDING
from rubric_kernel.report.loader import load_context
from rubric_kernel.report.render import report_body
from rubric_kernel.score_sheet import score_sheet_xlsx
from rubric_kernel.sheet import Finding, Sheet
from rubric_kernel.store import Store
from rubric_kernel.workspace import load_workspace

SOURCE = "人力资源和社会保障部门 技能人才评价管理信息系统"
DAY = dt.date(2023, 6, 30)


HEADER = "机构序号,指标,结果,来源,日期,说明\n"


@pytest.fixture(scope="module")
def ws():
    return load_workspace()


def test_the_centres_table_is_read_row_by_row(tmp_path, ws):
    path = tmp_path / "findings.csv"
    path.write_text(HEADER + f"13,16,无问题,{SOURCE},2023-06-30,通过\n14,16,16a、16b×2,{SOURCE},2023-06-29,\n", "utf-8")
    got = findings.read_findings(path, ws)
    assert [(e.institution, e.indicator, dict(e.finding.ticks), e.finding.date) for e in got] == [
        (13, 16, {}, DAY),
        (14, 16, {"16a": 1, "16b": 2}, dt.date(2023, 6, 29)),
    ]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            f"13,15,无问题,{SOURCE},2023-06-30,",
            "findings.csv:2 [指标]: 指标“15”不由省职鉴中心录入人社部门数据；可录入的指标：16",
        ),
        (f"13,16,通过,{SOURCE},2023-06-30,", "findings.csv:2 [结果]: 结果“通过”无效"),
        ("13,16,无问题,,2023-06-30,", "findings.csv:2 [来源]: 来源为空"),
        (f"13,16,无问题,{SOURCE},2023/6/30,", "findings.csv:2 [日期]: 日期“2023/6/30”无效"),
        (f"99,16,无问题,{SOURCE},2023-06-30,", "findings.csv:2 [机构序号]: 机构序号 99 不在机构名单中"),
        (f"13,16,16a×2,{SOURCE},2023-06-30,", "findings.csv:2 指标16: 细则 16a 不按次数计分"),
        (f"13,16,16a、16a,{SOURCE},2023-06-30,", "findings.csv:2 [结果]: 结果中细则 16a 重复"),
    ],
)
def test_a_bad_row_is_refused_naming_row_and_field(tmp_path, ws, monkeypatch, row, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "findings.csv").write_text(HEADER + row + "\n", "utf-8")
    with pytest.raises(InputError) as exc:
        findings.read_findings(tmp_path / "findings.csv", ws)
    assert len(exc.value.faults) == 1 and str(exc.value.faults[0]).startswith(expected)


def test_a_duplicate_row_is_refused(tmp_path, ws, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = f"13,16,无问题,{SOURCE},2023-06-30,\n"
    (tmp_path / "findings.csv").write_text(HEADER + line + line, "utf-8")
    with pytest.raises(InputError, match=r"findings.csv:3 \[指标\]: 与第 2 行是同一机构同一指标的数据"):
        findings.read_findings(tmp_path / "findings.csv", ws)


# ── the command line and the store ─────────────────────────────────────────────────────────────


def _score(db: str, n: int, capsys) -> dict:
    capsys.readouterr()
    assert main(["score", str(n), "--json", "--db", db]) == 0
    return json.loads(capsys.readouterr().out)


def _finding_versions(db: str, n: int) -> list:
    with Store(db) as store:
        return [v for v in store.history("demo", n) if v.key == "finding:sc-2023:ind:16"]


def test_the_demo_ships_findings_and_leaves_75_waiting(tmp_path, capsys):
    db = str(tmp_path / "s.sqlite")
    assert 16 not in _score(db, 13, capsys)["pending"]
    assert 16 in _score(db, 75, capsys)["pending"]
    (v,) = _finding_versions(db, 13)
    assert v.expert == "省职鉴中心复核员（演示）" and v.login == "demo_centre"
    assert v.content["source"] == SOURCE and v.content["date"] == "2023-06-30"


def test_the_centre_records_a_finding_and_a_new_one_is_a_new_version(tmp_path, capsys, monkeypatch):
    db = str(tmp_path / "s.sqlite")
    monkeypatch.setenv(ACTOR_ENV, "demo_centre")
    assert main(["finding", "75", "--result", "无问题", "--note", "技术评估通过", "--db", db]) == 0
    assert "已由 省职鉴中心复核员（演示）（demo_centre） 录入" in capsys.readouterr().out
    after = _score(db, 75, capsys)
    assert 16 not in after["pending"] and after["indicators"]["16"] == 20.0
    assert main(["finding", "75", "--result", "16a", "--db", db]) == 0
    assert _score(db, 75, capsys)["indicators"]["16"] == 10.0
    first, second = _finding_versions(db, 75)
    assert (first.seq, second.seq) == (1, 2) and first.content["ticks"] == {}
    assert second.content["ticks"] == {"sc-2023:item:16a": 1} and second.replaces == first.id


@pytest.mark.parametrize("actor", ["demo_organiser", "demo_leader"])
def test_any_other_role_is_refused_in_one_line_and_nothing_is_written(tmp_path, capsys, monkeypatch, actor):
    db = str(tmp_path / "s.sqlite")
    assert main(["score", "75", "--db", db]) == 0  # the store's first use, as anyone
    monkeypatch.setenv(ACTOR_ENV, actor)
    capsys.readouterr()
    assert main(["finding", "75", "--result", "无问题", "--db", db]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.endswith("无权录入人社部门数据：需要“省职鉴中心复核”角色")
    assert _finding_versions(db, 75) == []


def test_an_expert_is_refused_too(tmp_path, capsys, monkeypatch):
    db = str(tmp_path / "s.sqlite")
    with Store(db) as store:
        from rubric_kernel.judgments import bootstrap

        bootstrap(store, load_workspace())
        expert = next(p for p in __import__("rubric_kernel").people.registry(store, "demo").values() if p.has("expert"))
    monkeypatch.setenv(ACTOR_ENV, expert.login)
    assert main(["finding", "75", "--result", "无问题", "--db", db]) != 0
    assert "无权录入人社部门数据：需要“省职鉴中心复核”角色" in capsys.readouterr().err
    assert _finding_versions(db, 75) == []


def test_the_clock_rules_hold_for_the_findings_date(tmp_path, capsys, monkeypatch):
    db = str(tmp_path / "s.sqlite")
    monkeypatch.setenv(ACTOR_ENV, "demo_centre")
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    assert main(["finding", "75", "--result", "无问题", "--date", future, "--db", db]) != 0
    assert "不能登记未来的日期" in capsys.readouterr().err
    assert main(["finding", "75", "--result", "无问题", "--date", "2023-06-30", "--db", db]) != 0
    assert "须用 --late 写明补录理由" in capsys.readouterr().err
    assert _finding_versions(db, 75) == []
    assert main(["finding", "75", "--result", "无问题", "--date", "2023-06-30", "--late", "系统延迟", "--db", db]) == 0
    (v,) = _finding_versions(db, 75)
    assert v.content["date"] == "2023-06-30" and v.content["late"] == "系统延迟"


def test_import_findings_records_the_table_in_one_go(tmp_path, capsys, monkeypatch):
    db = str(tmp_path / "s.sqlite")
    monkeypatch.setenv(ACTOR_ENV, "demo_centre")
    today = dt.date.today().isoformat()  # the clock's day may differ from Beijing's near midnight: --late covers it
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"75,16,16b×2,{SOURCE},{today},\n", "utf-8")
    assert main(["import-findings", str(path), "--late", "隔日导入", "--db", db]) == 0
    assert _score(db, 75, capsys)["indicators"]["16"] == 10.0


def test_a_signed_sheets_finding_needs_the_review_stage_and_a_reason(tmp_path, ws):
    db = str(tmp_path / "s.sqlite")
    with Store(db) as store:
        from rubric_kernel import people
        from rubric_kernel.judgments import bootstrap

        bootstrap(store, ws)
        store.add_event("demo", 75, "transition", actor="x", payload={"from": "现场评估", "to": "初评"}, note="")
        centre = people.registry(store, "demo")["demo_centre"]
        entry = findings.Entry(75, 16, Finding(SOURCE, DAY))
        with pytest.raises(findings.FindingRefused, match="修改已签字的评分必须填写理由"):
            findings.record(store, ws, [entry], centre, "")
        (written,) = findings.record(store, ws, [entry], centre, "人社部门补报技术评估结果")
        assert written[0].stage == "复核"


# ── the documents ──────────────────────────────────────────────────────────────────────────────


def _sheet_rows(ws, result) -> dict[int, dict[str, str]]:
    book = load_workbook(BytesIO(score_sheet_xlsx(ws.rubric, ws.institution(13), result, ws.dataset.mark, [])))
    rows = [[str(c) if c is not None else "" for c in row] for row in book.active.iter_rows(values_only=True)]
    head = next(r for r in rows if "佐证" in r)
    return {int(r[2].split(".")[0]): dict(zip(head, r, strict=False)) for r in rows if re.match(r"\d+\. ", r[2])}


def test_the_score_sheet_cites_the_finding_or_says_what_16_waits_for(ws):
    waiting = _sheet_rows(ws, ws.score(13, Sheet()))[16]
    assert (waiting["得分"], waiting["扣分、加分说明"], waiting["佐证"]) == ("待评", FINDING_PENDING, "")
    found = _sheet_rows(ws, ws.score(13, Sheet(findings={16: Finding(SOURCE, DAY, {"16a": 1}, "未通过", "甲")})))[16]
    assert found["得分"] == "10" and found["扣分、加分说明"].startswith("-10 题库建设技术评估未通过")
    assert found["佐证"] == f"人社部门数据：{SOURCE}（2023-06-30，甲录入）；未通过"


def test_the_report_cites_the_finding_or_says_what_16_waits_for(tmp_path, monkeypatch):
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    monkeypatch.setenv(ACTOR_ENV, "demo_centre")
    contexts = {}
    for n in (13, 75):
        a = open_assessment(str(n), db=db)
        try:
            contexts[n] = load_context(a)
        finally:
            a.store.close()
    rows = {n: {r.number: r for g in c.indicator_groups for r in g.rows} for n, c in contexts.items()}
    assert rows[75][16].pending and rows[75][16].summary == FINDING_PENDING
    assert "16. 题库建设（待省职鉴中心录入人社部门数据）" in contexts[75].conclusion.pending_names
    assert (
        rows[13][16].summary
        == f"无扣分；人社部门数据：{SOURCE}（2023-06-30，省职鉴中心复核员（演示）录入）；（演示）题库建设技术评估结果：通过"
    )
    history = [h for h in contexts[13].history if "人社部门数据" in h.item]
    assert [(h.item, h.content) for h in history] == [
        (
            "16. 题库建设（人社部门数据）",
            f"人社部门数据：无问题（{SOURCE}，2023-06-30）；（演示）题库建设技术评估结果：通过",
        )
    ]
    body = report_body(contexts[13])
    assert "sc-2023:" not in body and "finding:" not in body
    # the centre who entered the 人社 data is not one of the 评估专家组
    assert contexts[13].head.experts and "省职鉴中心复核员（演示）" not in contexts[13].head.experts
