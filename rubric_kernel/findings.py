"""The centre's findings from 人社部门's own data: recorded one at a time or from the centre's table.

Some indicators (rubric ``finding``; in 附件2 only 16 题库建设, whose one source is 人力资源和社会保障部门)
are scored from data only 人社部门 holds, such as the 题库建设技术评估 results. The centre
(省职鉴中心) reads them in 人社's own systems and records what they show, with source and date;
until it does, the indicator is pending, never full marks. Each finding is a new version of the
institution's group sheet (``finding:<indicator urn>``), written only by a person with the centre
role: the application checks here, PostgreSQL again (``pg_setup``).

A real centre gets these results as one list for all institutions, so the usual input is a table
(``findings.csv``: one row per institution and indicator) imported in one transaction; a single
command records one finding, for a late result or a correction.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from . import clock
from .authz import Person, edit_stage, role_problem
from .errors import Fault, InputError, display_path, excerpt
from .evidence import DATE_HINT, _institution, parse_date
from .rubric import Indicator, Rubric
from .sheet import Finding, Sheet, check_sheet
from .sheet_codec import sheet_to_entries
from .store import SaveRequest, Store, StoreError, Version
from .tabular import Column, Row, read_table
from .workflow.state import derive, edit_problems
from .workspace import Workspace

FILE_STEM = "findings"  # the dataset's table: findings.csv or findings.xlsx
NO_PROBLEM = "无问题"
ACT = "录入人社部门数据"
COLUMNS = (
    Column("institution", ("机构序号", "institution")),
    Column("indicator", ("指标", "indicator")),
    Column("result", ("结果", "result")),
    Column("source", ("来源", "source")),
    Column("date", ("日期", "date")),
    Column("note", ("说明", "note"), required=False),
)
TICK = re.compile(r"([0-9A-Za-z]+)(?:[×xX*]([0-9]+))?")


@dataclass(frozen=True, slots=True)
class Entry:
    """One finding for one institution's indicator, as entered (``by`` is set when it is recorded)."""

    institution: int
    indicator: int
    finding: Finding


def parse_result(text: str, ind: Indicator) -> dict[str, int]:
    """``无问题`` or the rule items the data shows, e.g. ``16a`` or ``16a、16b×2``; ValueError says why not."""
    text = text.strip()
    if text == NO_PROBLEM:
        return {}
    ticks: dict[str, int] = {}
    for part in re.split(r"[、，,；;\s]+", text):
        m = TICK.fullmatch(part)
        if not part or m is None:
            raise ValueError(
                f"结果“{excerpt(text)}”无效：写“{NO_PROBLEM}”，或写扣分细则编号（如 {ind.items[0].id}，按次数计的写 "
                f"{ind.items[-1].id}×2），多项用“、”分隔"
            )
        if m[1] in ticks:
            raise ValueError(f"结果中细则 {m[1]} 重复")
        ticks[m[1]] = int(m[2] or 1)
    return ticks


def _faults(rubric: Rubric, ws: Workspace, entry: Entry, file: str) -> list[Fault]:
    """The finding against the rubric (an indicator that takes one, items it has, counts it can use)."""
    sheet = Sheet(findings={entry.indicator: entry.finding})
    return check_sheet(sheet, rubric, ws.dataset.for_institution(entry.institution), file)


def read_findings(path: Path | str, ws: Workspace) -> list[Entry]:
    """The centre's table, every row checked; any fault refuses the whole file (nothing is recorded)."""
    file = display_path(path)
    faults: list[Fault] = []
    out: list[Entry] = []
    seen: dict[tuple[int, int], int] = {}
    for row in read_table(path, COLUMNS):
        entry = _row_entry(row, ws, faults)
        if entry is None:
            continue
        key = (entry.institution, entry.indicator)
        if key in seen:
            faults.append(row.fault("指标", f"与第 {seen[key]} 行是同一机构同一指标的数据：每家机构每项指标只写一行"))
            continue
        seen[key] = row.number
        found = _faults(ws.rubric, ws, entry, file)
        faults.extend(Fault(f.file, f.message, row=row.number, indicator=f.indicator) for f in found)
        out.append(entry)
    if faults:
        raise InputError(faults)
    return out


def _row_entry(row: Row, ws: Workspace, faults: list[Fault]) -> Entry | None:
    v = row.values
    n = _institution(row, ws.roster, faults)
    raw = v["indicator"]
    ind = ws.rubric.indicators.get(int(raw)) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else None
    if ind is None or ind.finding is None:
        takes = "、".join(str(i.number) for i in ws.rubric.indicators.values() if i.finding)
        faults.append(row.fault("指标", f"指标“{excerpt(raw)}”不由省职鉴中心录入人社部门数据；可录入的指标：{takes}"))
        return None
    try:
        ticks = parse_result(v["result"], ind)
    except ValueError as exc:
        faults.append(row.fault("结果", str(exc)))
        return None
    if not v["source"]:
        faults.append(row.fault("来源", f"来源为空：写明数据取自何处，例如“{ind.finding.source}”"))
        return None
    try:
        date = parse_date(v["date"])
    except ValueError:
        faults.append(row.fault("日期", f"日期“{excerpt(v['date'])}”无效：{DATE_HINT}"))
        return None
    if n is None:
        return None
    return Entry(n, ind.number, Finding(v["source"], date, ticks, v.get("note", "")))


def one(ws: Workspace, institution: int, indicator: int, result: str, source: str, date: dt.date, note: str) -> Entry:
    """A finding entered on the command line, checked as a table row is."""
    ind = ws.rubric.indicators.get(indicator)
    file = "命令行"
    if ind is None or ind.finding is None:
        takes = "、".join(str(i.number) for i in ws.rubric.indicators.values() if i.finding)
        raise InputError([Fault(file, f"指标 {indicator} 不由省职鉴中心录入人社部门数据；可录入的指标：{takes}")])
    ws.institution(institution)
    try:
        ticks = parse_result(result, ind)
    except ValueError as exc:
        raise InputError([Fault(file, str(exc), indicator=indicator)]) from None
    entry = Entry(institution, indicator, Finding(source.strip(), date, ticks, note.strip()))
    faults = _faults(ws.rubric, ws, entry, file)
    if faults:
        raise InputError(faults)
    return entry


def dated(entries: Sequence[Entry], late: str, today: dt.date | None = None) -> list[Entry]:
    """The clock's rules for each finding's date: today, or a past date only as a late record with its
    reason; a future date is refused (``clock.DateRefused``)."""
    out = []
    for e in entries:
        act = clock.act_date(
            e.finding.date, late, what=f"机构 {e.institution} 指标 {e.indicator} 人社部门数据", on=today
        )
        out.append(replace(e, finding=replace(e.finding, date=act.date, late=act.late)))
    return out


def record(store: Store, ws: Workspace, entries: Sequence[Entry], actor: Person, reason: str) -> list[list[Version]]:
    """Record the findings as the centre's new versions, one transaction; refused for any other role.

    Before the group signs, a finding is simply recorded; on a signed sheet it is a change the
    workflow allows only at 复核 or 异议处理 and with a reason (``edit_problems``).
    """
    problem = role_problem(actor, "centre", act=ACT)
    if problem:
        raise FindingRefused([problem])
    by_institution: dict[int, dict[int, Finding]] = {}
    for e in entries:
        by_institution.setdefault(e.institution, {})[e.indicator] = replace(e.finding, by=actor.name)
    requests, problems = [], []
    for n, findings in sorted(by_institution.items()):
        st = derive(store.events(ws.dataset.name, n))
        stage = edit_stage(st)
        problems += [f"机构 {n}：{p}" for p in edit_problems(st, stage, reason)]
        snap = store.snapshot(ws.dataset.name, n)
        entries_ = sheet_to_entries(Sheet(findings=findings), ws.rubric)
        changes = {k: c for k, c in entries_.items() if snap.live.get(k) != c}
        if changes:
            requests.append(
                SaveRequest(
                    ws.dataset.name,
                    n,
                    changes,
                    {k: snap.base[k] for k in changes if k in snap.base},
                    expert=actor.name,
                    stage=stage,
                    reason=reason or ACT,
                    rubric=ws.rubric_ref,
                    login=actor.login,
                )
            )
    if problems:
        raise FindingRefused(problems)
    return store.save_many(requests)


def dataset_file(folder: Path) -> Path | None:
    """The dataset's findings table, if it ships one (``findings.csv`` or ``findings.xlsx``)."""
    return next((p for p in (folder / f"{FILE_STEM}.csv", folder / f"{FILE_STEM}.xlsx") if p.is_file()), None)


class FindingRefused(StoreError):
    """The acting person may not record these findings now; nothing was written."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("操作被拒绝：" + "；".join(problems))
