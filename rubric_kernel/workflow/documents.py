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
from ..labels import defaults_note
from ..programme import DEFAULT_MARK, Materials, Programme, Setting
from ..report.page import list_page, page
from ..roster import Institution
from ..rubric import Rubric
from ..spreadsheet import csv_text, xlsx_bytes
from .schedule import Visit

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
    paths = [out / "schedule.xlsx", out / "schedule.ics", out / "notifications.xlsx", out / "notifications.html"]
    atomic_write(paths[0], xlsx_bytes([("现场评估日程", rows)], mark))
    atomic_write(paths[1], schedule_ics(visits, roster, dt.datetime.now(dt.UTC)))
    atomic_write(paths[2], xlsx_bytes([("评估通知", notes), ("准备材料清单", items)], mark))
    body = "".join(
        f"<section><h2>{escape(n['评价机构'])}</h2><p>{escape(n['通知内容'])}（通知日期 {escape(n['通知日期'])}）</p></section>"
        for n in notes
    )
    body += (
        f"<h2>附件3 {escape(checklist.title)}</h2><ol>"
        + "".join(f"<li>{escape(i['材料'])}</li>" for i in items)
        + "</ol>"
    )
    atomic_write(paths[3], page("信用评估实地评估通知", body, mark))
    return paths


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
