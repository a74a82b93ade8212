"""The cohort pages a run writes (index, preview of the 公示 list, the workflow's lists): what they show,
how they sort and print, that names are escaped, and that the rubric's defaults note comes and goes
with the rubric's own ``official`` flag."""

from __future__ import annotations

import dataclasses
import datetime as dt
from html.parser import HTMLParser
from pathlib import Path

import pytest
from demo_sheets import demo_findings
from openpyxl import load_workbook

from rubric_kernel.batch import cohort_pages
from rubric_kernel.errors import InputError
from rubric_kernel.labels import DEFAULTS_NOTE
from rubric_kernel.programme import load_programme
from rubric_kernel.rubric import Rubric, parse_rubric
from rubric_kernel.score_sheet import score_sheet_xlsx
from rubric_kernel.sheet import Sheet
from rubric_kernel.workflow import documents
from rubric_kernel.workspace import judgment_files, load_workspace, read_checked

VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'
HOSTILE = '<script>alert("x")</script>&测试'


class Table(HTMLParser):
    """Rows of the first table as (text, sort key) per cell; the key is what the index's sorter reads:
    the data-v of the cell or of the element inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.head: list[str] = []
        self.rows: list[list[tuple[str, str | None]]] = []
        self._cell: list | None = None
        self._in_head = False
        self.css = ""
        self._style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "style":
            self._style = True
        elif tag == "th":
            self._in_head = True
            self.head.append("")
        elif tag == "tr" and not self._in_head:
            self.rows.append([])
        elif tag == "td":
            self._cell = ["", a.get("data-v")]
            self.rows[-1].append(self._cell)
        elif self._cell is not None and "data-v" in a and self._cell[1] is None:
            self._cell[1] = a["data-v"]

    def handle_endtag(self, tag):
        if tag == "style":
            self._style = False
        elif tag == "th":
            self._in_head = False
        elif tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._style:
            self.css += data
        elif self._in_head:
            self.head[-1] += data
        elif self._cell is not None:
            self._cell[0] += data

    def column(self, name: str) -> list[tuple[str, str | None]]:
        i = self.head.index(name)
        return [tuple(r[i]) for r in self.rows if r]


@pytest.fixture(scope="module")
def cohort():
    """A few demo institutions scored from their judgments (66 with its confirmed veto), one left unjudged."""
    ws = load_workspace()
    files = judgment_files(ws)
    judged = [*range(1, 13), 66]
    found = demo_findings(ws)

    def sheet(n: int) -> Sheet:  # the judgments file with the demo centre's 人社 finding, as the store holds it
        return dataclasses.replace(read_checked(ws, files[n], n).sheet, findings=found[n])

    results = {n: ws.score(n, sheet(n)).as_json() for n in judged}
    results[70] = ws.score(70, Sheet()).as_json()
    return ws, results


def official(rubric: Rubric) -> Rubric:
    return rubric.model_copy(update={"meta": rubric.meta.model_copy(update={"official": True})})


def index_of(tmp_path: Path, ws, results, rubric=None, roster=None) -> tuple[str, Table]:
    cohort_pages.write_index(tmp_path, rubric or ws.rubric, roster or ws.roster, results, {}, ws.dataset.mark, "r1")
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    table = Table()
    table.feed(html)
    return html, table


def test_index_has_a_veto_column_marking_66(tmp_path, cohort):
    ws, results = cohort
    assert results[66]["veto"], "the demo's institution 66 has a confirmed veto"
    _, table = index_of(tmp_path, ws, results)
    cells = dict(zip([int(t) for t, _ in table.column("序号")], table.column("否定项"), strict=True))
    for n, r in results.items():
        text, key = cells[n]
        assert bool(r["veto"]) == ("否定项" in text) == (key == "1"), n
        for clause in r["veto"]:
            assert f"第{clause}条" in text


def test_provisional_totals_are_marked_and_keyed_after_final_ones(tmp_path, cohort):
    ws, results = cohort
    assert results[70]["status"] == "provisional"
    _, table = index_of(tmp_path, ws, results)
    totals = dict(zip([int(t) for t, _ in table.column("序号")], table.column("总分"), strict=True))
    final = [float(totals[n][1]) for n, r in results.items() if r["status"] == "complete"]
    text, key = totals[70]
    assert text == f"{results[70]['total']:g}（暂定）"
    assert float(key) < min(final), "sorted by total, a provisional result comes after every final one"
    unrun = [float(k) for n, (t, k) in totals.items() if n not in results]
    assert unrun and max(unrun) < float(key)


def test_grade_keys_run_from_the_highest_grade_to_not_graded(tmp_path, cohort):
    ws, results = cohort
    _, table = index_of(tmp_path, ws, results)
    order = [*cohort_pages.grade_order(ws.rubric), "暂不评定"]
    seen = {}
    for text, key in table.column("等级"):
        assert key is not None, "every grade cell carries its sort key"
        if text:
            seen.setdefault(text, set()).add(int(key))
    assert {"暂不评定", "A"} <= seen.keys() and len(seen) >= 3
    assert all(len(keys) == 1 for keys in seen.values())
    ranked = sorted(seen, key=lambda g: seen[g].pop())
    assert ranked == [g for g in order if g in ranked]


def test_index_escapes_names_and_prints_one_line_without_links(tmp_path, cohort):
    ws, results = cohort
    roster = dict(ws.roster)
    roster[1] = dataclasses.replace(roster[1], name=HOSTILE)
    html, table = index_of(tmp_path, ws, results, roster=roster)
    assert HOSTILE not in html and "&lt;script&gt;" in html
    assert table.column("评价机构")[0][0] == HOSTILE
    assert html.count(VIEWPORT) == 1
    assert table.head[-1] == "报告"
    assert "@media print" in table.css and "tr>:last-child{display:none}" in table.css
    assert "white-space:nowrap" in table.css


def test_preview_list_names_issuer_site_channel_and_prints_whole_scores(tmp_path, cohort):
    ws, results = cohort
    programme = load_programme()
    results = {**results, 1: {**results[1], "total": 812.0, "status": "complete", "grade": "AAAA"}}
    cohort_pages.write_publicity(tmp_path, ws.roster, results, ws.dataset.mark, programme=programme, rubric=ws.rubric)
    html = (tmp_path / "publicity.html").read_text(encoding="utf-8")
    assert VIEWPORT in html
    table = Table()
    table.feed(html)
    assert "信用分值" in table.head and "信用得分" not in html
    scores = dict(zip([int(t) for t, _ in table.column("序号")], table.column("信用分值"), strict=True))
    assert scores[1][0] == "812"
    for text in (programme.issuer.value, programme.publication_site.value, programme.objection.phone.value):
        assert text in html
    assert "rubric-kernel" not in html
    book = load_workbook(tmp_path / "publicity.xlsx")
    row = next(r for r in book["拟公示名单（预览）"].iter_rows(min_row=2, values_only=True) if r[1] == 1)
    assert row[0] == "演示数据" and row[4] == 812 and isinstance(row[4], int)


def documents_of(tmp_path: Path, ws, results, rubric: Rubric) -> dict[str, str]:
    """The text of every cohort document written with ``rubric``."""
    programme, mark = load_programme(), ws.dataset.mark
    cohort_pages.write_index(tmp_path, rubric, ws.roster, results, {}, mark, "r1")
    cohort_pages.write_summary(tmp_path, rubric, results, mark)
    cohort_pages.write_publicity(tmp_path, ws.roster, results, mark, programme=programme, rubric=rubric)
    note = documents.publicity_note(programme, dt.date(2023, 9, 1), programme.publicity_days)
    documents.write_public_list(
        tmp_path, "gs", "信用评估结果公示名单", ws.roster, results, mark, note, programme, rubric
    )
    note = documents.announcement_note(programme, dt.date(2023, 9, 20), programme.validity_years)
    documents.write_public_list(tmp_path, "gg", "信用评估结果公告", ws.roster, results, mark, note, programme, rubric)
    sheet = ws.score(13, read_checked(ws, judgment_files(ws)[13], 13).sheet)
    (tmp_path / "sheet.xlsx").write_bytes(score_sheet_xlsx(rubric, ws.roster[13], sheet, mark, []))

    def cells(name: str) -> str:
        book = load_workbook(tmp_path / name)
        return "\n".join(str(c) for s in book.worksheets for row in s.iter_rows(values_only=True) for c in row if c)

    out = {name: (tmp_path / name).read_text(encoding="utf-8") for name in ("index.html", "publicity.html")}
    out |= {name: (tmp_path / name).read_text(encoding="utf-8") for name in ("gs.html", "gg.html")}
    out |= {name: cells(name) for name in ("summary.xlsx", "publicity.xlsx", "gs.xlsx", "gg.xlsx", "sheet.xlsx")}
    return out


@pytest.mark.parametrize("is_official", [False, True], ids=["project-defaults", "official"])
def test_defaults_note_stands_on_every_document_until_the_rubric_is_official(tmp_path, cohort, is_official):
    ws, results = cohort
    assert ws.rubric.meta.official is False, "the bundled rubric's figures are the project's defaults"
    rubric = official(ws.rubric) if is_official else ws.rubric
    for name, text in documents_of(tmp_path, ws, results, rubric).items():
        assert text.count(DEFAULTS_NOTE) == (0 if is_official else 1), name


@pytest.mark.parametrize("value", ["yes", 1, "false"])
def test_official_must_be_a_boolean(rubric_dict, value):
    rubric_dict["meta"]["official"] = value
    with pytest.raises(InputError) as exc:
        parse_rubric(rubric_dict)
    assert any("official" in str(f) for f in exc.value.faults)
