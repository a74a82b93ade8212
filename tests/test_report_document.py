"""The 评估报告 built from its frozen context: order, wording, banners, escaping, no internal keys.

These render the template directly (no notebook), from a private store seeded with the demo judgments;
tests/test_report.py covers the report the notebook and nbconvert produce.
"""

from __future__ import annotations

import dataclasses
import html
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rubric_kernel.assessment import open_assessment
from rubric_kernel.report.loader import load_context
from rubric_kernel.report.render import report_body
from rubric_kernel.sheet_codec import parse_key

XSS = "<script>alert(1)</script>甲"
SECTIONS = (
    "head",
    "conclusion",
    "findings",
    "opinion",
    "signatures",
    "appendix-comparison",
    "appendix-indicators",
    "appendix-records",
    "appendix-materials",
    "appendix-history",
    "appendix-digests",
)
INTERNAL = (
    r"indicator:\d",
    r"bonus:\w",
    r"veto:\d",
    r"\[\w+\]",
    r"\bR\d+-\d+\b",
    r"\b\d+[a-z]\b",  # rule item ids such as 49b
    r"数据集",
    r"rubric-kernel",
    r"sc-2023:",
)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return str(tmp_path_factory.mktemp("doc") / "s.sqlite")


def _open(db: str, n: int):
    return open_assessment(str(n), db=f"sqlite:///{db}")


def _context(db: str, n: int):
    a = _open(db, n)
    try:
        return load_context(a)
    finally:
        a.store.close()


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment)))


def _section(body: str, name: str) -> str:
    m = re.search(rf'<(section|header)\b[^>]*data-section="{name}"[^>]*>(.*?)</\1>', body, re.S)
    assert m, name
    return m.group(2)


def test_every_top_level_part_is_named_in_the_issue_s_order(db):
    body = report_body(_context(db, 13))
    names = re.findall(r'<(?:section|header|div)\b[^>]*data-section="([\w-]+)"', body)
    assert [n for n in names if n != "mark"] == list(SECTIONS)
    tops = re.findall(r"<(section|header)\b([^>]*)>", body)
    assert tops and all("data-section=" in attrs for _, attrs in tops)


@pytest.mark.parametrize("n", [13, 66])
def test_no_internal_keys_or_command_lines_in_the_body(db, n):
    text = _text(report_body(_context(db, n)))
    found = {p: re.findall(p, text)[:3] for p in INTERNAL if re.search(p, text)}
    assert not found


def test_head_numbers_the_report_from_the_programme_settings(db):
    from rubric_kernel.programme import load_programme

    ctx = _context(db, 13)
    head = _text(_section(report_body(ctx), "head"))
    programme = load_programme()
    assert ctx.head.report_no == programme.report_no(13)
    for word in ("报告编号", programme.report_no(13), "报告日期", "评估专家组", "评估基准日", "四川旅游学院"):
        assert word in head
    assert programme.organiser.value in head


def test_an_effective_veto_is_a_banner_with_clause_facts_and_source_record(db):
    ctx = _context(db, 66)
    assert ctx.conclusion.vetoes, "institution 66's demo veto is confirmed"
    conclusion = _section(report_body(ctx), "conclusion")
    banner = re.search(r'<div class="rk-veto-banner"[^>]*>(.*?)</div>', conclusion, re.S)
    assert banner
    text = _text(banner.group(1))
    v = ctx.conclusion.vetoes[0]
    assert f"否定项第{v.clause}条" in text and v.text in text and v.facts in text
    a = _open(db, 66)
    try:
        raised = [rec for rec in a.evidence.records if rec.id in a.score().effective_veto[0].raised_by]
    finally:
        a.store.close()
    assert raised and all(rec.authority in text and rec.date.isoformat() in text for rec in raised)
    assert ctx.conclusion.grade == ctx.conclusion.lowest_grade


def test_findings_list_only_what_moved_and_the_appendix_all_68(db):
    a = _open(db, 13)
    try:
        r = a.score()
        ctx = load_context(a)
    finally:
        a.store.close()
    moved = {i.number for i in r.indicators if not i.pending and i.score != (i.max_points if i.base == "full" else 0)}
    assert moved, "institution 13 lost or gained points somewhere"
    assert {int(f.label.split(".")[0]) for f in ctx.findings} == moved
    body = report_body(ctx)
    findings = _text(_section(body, "findings"))
    assert "无扣分" not in findings and "未获加分" not in findings
    rows = [row for g in ctx.indicator_groups for row in g.rows]
    assert [row.number for row in rows] == list(range(1, 69))
    assert all(row.basis for row in rows), "评估依据 on every indicator"


def test_wording_of_unchanged_and_pending_rows(db, monkeypatch):
    monkeypatch.setenv("RUBRIC_KERNEL_ACTOR", "demo_expert_13")  # a registered expert of 13's group
    a = _open(db, 13)
    try:
        # withdraw a judged deduction-style indicator: it becomes pending
        rubric = a.ws.rubric
        judged, number = next(
            (k, parsed.ident)
            for k in a.snapshot().live
            if (parsed := parse_key(rubric, k))
            and parsed.kind == "indicator"
            and rubric.indicators[parsed.ident].base == "full"
        )
        a.save({judged: None}, a.snapshot().base, reason="")
        a.snapshot(refresh=True)
        ctx = load_context(a)
    finally:
        a.store.close()
    rows = {row.number: row for g in ctx.indicator_groups for row in g.rows}
    pending = rows[number]
    assert pending.pending and pending.summary == "待评" and pending.score == "待评"
    zero_unmoved = [row for row in rows.values() if row.style == "加分制" and not row.pending and row.score == "0"]
    assert zero_unmoved and all(row.summary == "未获加分" for row in zero_unmoved)
    body = report_body(ctx)
    for row in re.findall(r'<tr class="rk-pending-row">(.*?)</tr>', body, re.S):
        assert "无扣分" not in row and "待评" in row
    assert ctx.conclusion.provisional
    banner = re.search(r'<div class="rk-provisional-banner"[^>]*>(.*?)</div>', body, re.S)
    assert banner and pending.name in _text(banner.group(1)) and "至" in _text(banner.group(1))


def test_opinion_is_stored_with_the_sheet_and_escaped(db, monkeypatch):
    monkeypatch.setenv("RUBRIC_KERNEL_ACTOR", "demo_expert_20")  # a registered expert of 20's group
    a = _open(db, 20)
    try:
        a.save({"opinion": {"text": XSS}}, a.snapshot().base, reason="")
        a.snapshot(refresh=True)
        ctx = load_context(a)
        assert a.snapshot().sheet(a.ws.rubric).opinion == XSS
    finally:
        a.store.close()
    body = report_body(ctx)  # the store is closed: rendering needs only the context
    assert ctx.opinion == XSS
    assert "&lt;script&gt;alert(1)&lt;/script&gt;甲" in _section(body, "opinion")
    assert "<script" not in body
    assert "专家组意见" in _text(_section(body, "appendix-history")), "the opinion's version is in the history"


def test_a_hostile_institution_name_renders_escaped(db):
    ctx = _context(db, 13)
    head = dataclasses.replace(ctx.head, institution=dataclasses.replace(ctx.head.institution, name=XSS))
    signoffs = tuple(dataclasses.replace(s, name=XSS) for s in ctx.signoffs)
    body = report_body(dataclasses.replace(ctx, head=head, signoffs=signoffs))
    assert "<script" not in body
    assert body.count("&lt;script&gt;alert(1)&lt;/script&gt;甲") == 2 + len(signoffs)


def test_the_context_is_frozen(db):
    ctx = _context(db, 13)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.opinion = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.head.report_no = "x"  # type: ignore[misc]


def test_signature_block_shows_each_entry_valid_or_not(db):
    ctx = _context(db, 13)
    roles = [s.role for s in ctx.signoffs]
    assert "评价机构确认" in roles and any("复核" in r for r in roles) and "领导审签" in roles
    block = _text(_section(report_body(ctx), "signatures"))
    for s in ctx.signoffs:
        assert s.role in block
    assert block.count("未签") >= sum(s.valid is None for s in ctx.signoffs)


def test_the_judgments_file_carries_the_opinion(tmp_path):
    """专家组意见 in a judgments file becomes the sheet's opinion entry and is written back unchanged."""
    import datetime as dt

    from rubric_kernel.bundled import RUBRIC_PATH
    from rubric_kernel.judgments_file import JudgmentsFile, read_judgments, write_judgments
    from rubric_kernel.rubric import load_rubric
    from rubric_kernel.sheet import Sheet
    from rubric_kernel.sheet_codec import OPINION_KEY, entries_to_sheet, sheet_to_entries

    text = "机构考务管理规范，建议加强题库保密。\n第二段。"
    jf = JudgmentsFile(13, "专家甲", dt.date(2023, 6, 1), Sheet(opinion=text))
    path = tmp_path / "13.yaml"
    write_judgments(jf, path)
    back = read_judgments(path, today=dt.date(2023, 6, 2)).sheet
    assert back.opinion == text
    rubric = load_rubric(RUBRIC_PATH)
    entries = sheet_to_entries(back, rubric)
    assert entries[OPINION_KEY] == {"text": text}
    assert entries_to_sheet(entries, rubric).opinion == text
    assert OPINION_KEY not in sheet_to_entries(Sheet(), rubric), "no empty opinion entry"


@pytest.fixture(scope="module")
def ctx13(db):
    return _context(db, 13)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=40))
def test_any_opinion_or_name_reads_back_as_written(ctx13, text):
    """Whatever an expert types (markup, quotes, ampersands), the page shows exactly that text and no tag of it."""
    head = dataclasses.replace(ctx13.head, institution=dataclasses.replace(ctx13.head.institution, name=text))
    body = report_body(dataclasses.replace(ctx13, opinion=text, head=head))
    opinion = re.search(r'<p class="rk-opinion">(.*?)</p>', body, re.S)
    assert opinion and html.unescape(opinion.group(1)) == text
    assert "<" not in opinion.group(1) and ">" not in opinion.group(1)
