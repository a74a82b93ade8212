"""Files the workflow hands to people and systems: schedule (XLSX, ICS), notifications with the 附件3
checklist, publicity and final lists, and the data-sharing export (CSV, JSON; see docs/sharing-schema.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

from ..files import atomic_write
from ..labels import DECISION_ZH, defaults_note
from ..programme import DEFAULT_MARK, Materials, PersonnelTable, Programme, Setting
from ..report.page import list_page, page, table
from ..roster import Institution
from ..rubric import Rubric
from ..spreadsheet import csv_text, xlsx_bytes
from .schedule import Visit
from .state import Objection

SHARING_FIELDS = (
    "institution",
    "name",
    "unified_social_credit_code",
    "class",
    "grade",
    "score",
    "assessment_date",
    "valid_until",
    "announcement_date",
    "synthetic",
)


def _ics_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def schedule_ics(visits: Sequence[Visit], roster: Mapping[int, Institution], stamp: dt.datetime) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//rubric-kernel//信用评估//ZH", "CALSCALE:GREGORIAN"]
    for v in visits:
        inst = roster[v.institution]
        lines += [
            "BEGIN:VEVENT",
            f"UID:rk-visit-{v.institution}-{v.date:%Y%m%d}@rubric-kernel",
            f"DTSTAMP:{stamp:%Y%m%dT%H%M%SZ}",
            f"DTSTART;VALUE=DATE:{v.date:%Y%m%d}",
            f"DTEND;VALUE=DATE:{v.date + dt.timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{_ics_text(f'信用评估现场评估：{inst.name}（第{v.group}组）')}",
            f"LOCATION:{_ics_text(inst.address)}",
            f"DESCRIPTION:{_ics_text(f'机构序号 {inst.number}；通知日 {v.notified.isoformat()}')}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) for line in lines)


def _fold(line: str, limit: int = 75) -> str:
    """RFC 5545 line folding: at most 75 octets a line, never inside a UTF-8 character."""
    out, current = [], b""
    for ch in line:
        b = ch.encode("utf-8")
        if len(current) + len(b) > limit:
            out.append(current)
            current = b" "
        current += b
    out.append(current)
    return "\r\n".join(part.decode("utf-8") for part in out) + "\r\n"


def write_schedule(
    out: Path,
    visits: Sequence[Visit],
    roster: Mapping[int, Institution],
    mark: str,
    *,
    programme: Programme,
    checklist: Materials,
    notified: Setting,
) -> list[Path]:
    """Schedule and notifications; ``notified`` is the date every visit was notified on, and whether it is the
    project default (then the notifications say so)."""
    rows = [
        {
            "序号": v.institution,
            "评价机构": roster[v.institution].name,
            "地址": roster[v.institution].address,
            "评估日期": v.date.isoformat(),
            "星期": "一二三四五六日"[v.date.weekday()],
            "评估小组": f"第{v.group}组",
            "通知日期": v.notified.isoformat(),
        }
        for v in visits
    ]
    basis = (
        f"根据{programme.issuer.value}{programme.title.value}（{programme.document_number.value}），"
        f"{programme.organiser.value}"
    )
    notes = [
        {
            "序号": v.institution,
            "评价机构": roster[v.institution].name,
            "通知日期": notified.shown(),
            "实地评估日期": v.date.isoformat(),
            "通知内容": f"{basis}定于 {v.date.isoformat()} 对贵机构开展实地信用评估"
            f"（实地评估前{programme.notice_days.value}日通知），请按附件3准备材料（共 {checklist.count} 项）。",
        }
        for v in visits
    ]
    items = [{"序号": i.number, "材料": i.text} for i in checklist.items]
    paths = [
        out / "schedule.xlsx",
        out / "schedule.ics",
        out / "notifications.xlsx",
        out / "notifications.html",
        out / "personnel-tables.xlsx",
        out / "commitment-form.html",
    ]
    atomic_write(paths[0], xlsx_bytes([("现场评估日程", rows)], mark))
    atomic_write(paths[1], schedule_ics(visits, roster, dt.datetime.now(dt.UTC)))
    atomic_write(paths[2], xlsx_bytes([("评估通知", notes), ("准备材料清单", items)], mark))
    atomic_write(paths[4], xlsx_bytes(personnel_sheets(checklist), mark, [BLANK_ROWS_NOTE]))
    atomic_write(paths[5], page("信用承诺书", commitment_form(programme), mark))
    body = "".join(
        f"<section><h2>{escape(n['评价机构'])}</h2><p>{escape(n['通知内容'])}（通知日期 {escape(n['通知日期'])}）</p></section>"
        for n in notes
    )
    body += (
        f"<h2>附件3 {escape(checklist.title)}</h2><ol>"
        + "".join(f"<li>{escape(i['材料'])}</li>" for i in items)
        + "</ol>"
    )
    body += personnel_html(checklist) + f"<h2>信用承诺书（附后）</h2>{commitment_form(programme)}"
    atomic_write(paths[3], page("信用评估实地评估通知", body, mark))
    return paths


BLANK_ROWS = 8  # empty rows a fillable table offers below its header (project default)
BLANK_ROWS_NOTE = f"人员统计表栏目为附件3原文；每表预留 {BLANK_ROWS} 行空行为{DEFAULT_MARK}，可自行增加。"


def personnel_rows(table: PersonnelTable) -> list[dict]:
    """A fillable personnel table: table 1 lists the seed's posts, one row each; the others blank rows."""
    blank = dict.fromkeys(table.columns, "")
    if table.roles:
        return [{**blank, table.columns[0]: role} for role in table.roles]
    return [dict(blank) for _ in range(BLANK_ROWS)]


def personnel_sheets(checklist: Materials) -> list[tuple[str, list[dict]]]:
    return [(f"表{t.number} {t.name}"[:31], personnel_rows(t)) for t in checklist.tables]


def personnel_html(checklist: Materials) -> str:
    parts = []
    for t in checklist.tables:
        rows = personnel_rows(t)
        parts.append(f"<h2>表{t.number} {escape(t.name)}</h2>" + table(t.columns, (r.values() for r in rows), "fill"))
    return "".join(parts) + f'<p class="muted">{escape(BLANK_ROWS_NOTE)}</p>'


def commitment_form(programme: Programme) -> str:
    """The 信用承诺书 form the institution signs on site (实施方案 四（三）2). The seed names it but gives
    no text, so the wording is the project's default and says so."""
    pledges = (
        "所提供的营业执照、人员证书、制度文件、工作记录等评估资料真实、准确、完整、有效，不存在虚假记载或隐瞒；",
        "如实介绍机构整体情况、技能人才评价工作及质量管理情况，积极配合信用评估小组的现场核查；",
        "严格遵守技能人才评价相关法律法规和政策规定，依法诚信开展评价活动；",
        "如有失实或失信行为，自愿接受有关部门依法依规作出的处理，并承担相应责任。",
    )
    return (
        f"<p>致：{escape(programme.issuer.value)}、{escape(programme.organiser.value)}</p>"
        f"<p>根据{escape(programme.title.value)}（{escape(programme.document_number.value)}），本机构郑重承诺：</p>"
        "<ol>" + "".join(f"<li>{escape(p)}</li>" for p in pledges) + "</ol>"
        "<p>承诺机构（盖章）：________________　统一社会信用代码：________________</p>"
        "<p>法定代表人或负责人（签字）：________________　签署日期：____年__月__日</p>"
        f'<p class="muted">方案只规定评价机构“签订《信用承诺书》，确保资料真实有效”，未给出承诺书文本；'
        f"以上文本为{DEFAULT_MARK}。</p>"
    )


def write_decision_letter(
    out: Path, institution: Institution, objection: Objection, programme: Programme, mark: str
) -> list[Path]:
    """告知申请人: the centre's letter telling the objector how their objection was decided, dated the day
    it was sent (a late record says so)."""
    assert objection.letter is not None, "a letter is written only once its sending is recorded"
    sent = objection.letter.isoformat() + (f"（补录：{objection.letter_late}）" if objection.letter_late else "")
    rows = [
        ("申请人", objection.applicant),
        ("异议对象", f"{institution.name}（序号 {institution.number}）的信用评估结果"),
        ("异议编号", str(objection.id)),
        ("提出日期", objection.date.isoformat()),
        ("异议理由", objection.grounds),
        ("实质性依据", objection.evidence),
        ("处理结论", f"异议{DECISION_ZH[objection.decision]}"),
        ("核实情况", objection.finding),
        ("分数调整", objection.change or "无"),
        ("处理人", objection.decided_by),
        ("告知日期", sent),
        ("告知人", objection.letter_by),
    ]
    body = (
        f"<p>{escape(objection.applicant)}：</p>"
        f"<p>您在公示期间对{escape(institution.name)}信用评估结果提出的异议，{escape(programme.issuer.value)}"
        f"已结合实际情况进行核实，现将处理结果告知如下。</p>"
        + table(("事项", "内容"), rows)
        + f"<p>{escape(programme.issuer.value)}　{escape(objection.letter.isoformat())}</p>"
        f'<p class="muted">依据：实施方案 四（五）“省职鉴中心结合实际情况进行核实并将处理结果告知申请人”；'
        f"告知书格式为{DEFAULT_MARK}。</p>"
    )
    path = out / f"异议处理结果告知书-{institution.number}-{objection.id}.html"
    atomic_write(path, page("信用评估异议处理结果告知书", body, mark))
    return [path]


def score_value(total: float) -> int | float:
    """A score as a list prints it: 812 rather than 812.0, fractions kept."""
    return int(total) if float(total).is_integer() else total


def publicity_rows(roster: Mapping[int, Institution], results: Mapping[int, dict]) -> list[dict]:
    """Only what may be published: no personal data, only complete results; the seed's term 信用分值."""
    return [
        {
            "序号": n,
            "评价机构": roster[n].name,
            "类别": roster[n].klass,
            "信用分值": score_value(r["total"]),
            "信用等级": r["grade"],
        }
        for n, r in sorted(results.items())
        if r["status"] == "complete" and r["grade"]
    ]


def publicity_note(programme: Programme, start: dt.date, days: Setting) -> str:
    """Window, site and objection channels of a publicity, each project default flagged."""
    end = start + dt.timedelta(days=days.value - 1)
    return (
        f"公示期 {start.isoformat()} 至 {end.isoformat()}，共 {days.shown(' 天')}；"
        f"由{programme.issuer.value}通过 {programme.publication_site.shown()} 公示。{programme.objection_text()}"
    )


def announcement_note(programme: Programme, day: dt.date, years: Setting) -> str:
    return (
        f"公告日期 {day.isoformat()}，信用评估结果有效期 {years.shown(' 年')}；"
        f"由{programme.issuer.value}通过 {programme.publication_site.shown()} 公告。"
    )


def write_public_list(
    out: Path,
    stem: str,
    title: str,
    roster: Mapping[int, Institution],
    results: Mapping[int, dict],
    mark: str,
    note: str,
    programme: Programme,
    rubric: Rubric,
) -> list[Path]:
    """A public list (公示 or 公告) with its note in both formats; report numbers follow the programme's pattern,
    and the rubric's defaults note stands beside the figures while they are not official."""
    rows = [{**r, "报告编号": programme.report_no(r["序号"])} for r in publicity_rows(roster, results)]
    if programme.report_number.default:
        note += f"报告编号格式为{DEFAULT_MARK}。"
    return write_list(out, stem, title, rows, [n for n in (note, defaults_note(rubric)) if n], mark)


def write_list(out: Path, stem: str, title: str, rows: list[dict], notes: list[str], mark: str) -> list[Path]:
    """A list of institutions as a page and a workbook, its notes above the rows in both."""
    html, xlsx = out / f"{stem}.html", out / f"{stem}.xlsx"
    atomic_write(html, list_page(title, rows, notes, mark))
    atomic_write(xlsx, xlsx_bytes([(title[:28], rows)], mark, notes))  # a worksheet name has 31 characters at most
    return [html, xlsx]


def _add_years(day: dt.date, years: int) -> dt.date:
    """Same calendar day ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _years(valid_years: Mapping[int, int] | int, n: int) -> int:
    return valid_years if isinstance(valid_years, int) else valid_years[n]


def sharing_records(
    roster: Mapping[int, Institution],
    results: Mapping[int, dict],
    *,
    as_of: dt.date,
    announced: Mapping[int, dt.date],
    valid_years: Mapping[int, int] | int,
    synthetic: bool,
) -> list[dict]:
    """One record per announced institution, each with its own announcement date and validity."""
    return [
        {
            "institution": n,
            "name": roster[n].name,
            "unified_social_credit_code": roster[n].credit_code or None,
            "class": roster[n].klass,
            "grade": r["grade"],
            "score": r["total"],
            "assessment_date": as_of.isoformat(),
            "valid_until": (_add_years(announced[n], _years(valid_years, n)) - dt.timedelta(days=1)).isoformat(),
            "announcement_date": announced[n].isoformat(),
            "synthetic": synthetic,
        }
        for n, r in sorted(results.items())
    ]


def write_sharing(out: Path, records: list[dict]) -> list[Path]:
    paths = [out / "sharing.csv", out / "sharing.json"]
    atomic_write(paths[0], csv_text(records, mark=""))  # the schema's own "synthetic" field marks demo records
    atomic_write(
        paths[1], json.dumps({"schema": "rubric-kernel/sharing/1", "records": records}, ensure_ascii=False, indent=1)
    )
    return paths
