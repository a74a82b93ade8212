"""The Chinese words users read for results and stored judgments, in one place so every view agrees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .rubric import Rubric
from .scoring import Result
from .sheet_codec import parse_key

if TYPE_CHECKING:
    from .workflow.state import Acknowledgement

STATUS_ZH = {"complete": "已完成", "provisional": "暂定"}
VETO_STATUS_ZH = {"raised": "已提出", "confirmed": "已确认", "rejected": "已驳回"}
LINE_KIND_ZH = {
    "item": "细则",
    "free": "专家评定",
    "record": "信用记录",
    "dismissed": "已排除记录",
    "outside": "回溯期外记录",
    "clamp": "封顶",
    "adjusted": "复核调整",
}
BASE_ZH = {"full": "扣分制", "zero": "加分制"}  # how an indicator starts: at its max, or at 0
INFERRED_ZH = "（名称系推断）"  # a second-level group whose name the seed does not give
RECORD_STATUS_ZH = {"record": "计分", "dismissed": "已排除", "outside": "回溯期外"}  # a credit record's fate
DECISION_ZH = {"upheld": "成立", "rejected": "不成立", "": "待处理"}
DEFAULTS_NOTE = "注：各指标分值分配与信用等级分数线为本项目默认设置，并非官方标准。"


def defaults_note(rubric: Rubric) -> str:
    """The one sentence every cohort document carries while the rubric's figures are project defaults."""
    return "" if rubric.meta.official else DEFAULTS_NOTE


def group_title(number: int, name: str, inferred: bool) -> str:
    """A second-level group as every view names it: （N）name, marked when its name is inferred."""
    return f"（{number}）{name}{INFERRED_ZH if inferred else ''}"


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:g}"


def status_text(r: Result) -> str:
    return STATUS_ZH[r.status] + (f"（{len(r.pending)} 项指标待评）" if r.pending else "")


def grade_text(r: Result) -> str:
    return r.grade or "暂不评定"


def total_note(r: Result) -> str:
    """Why a provisional total is not final: pending indicators still hold their starting points."""
    if not r.pending:
        return ""
    low = round(r.total - r.pending_points, 4)
    high = round(r.total + r.pending_upside, 4)
    return (
        f"{len(r.pending)} 项待评指标暂按起始分计 {fmt(r.pending_points)} 分，评定后指标与加分合计将在 "
        f"{fmt(low)} 至 {fmt(high)} 之间"
    )


def next_grade_text(r: Result) -> str:
    if r.effective_veto:
        return f"经核实的否定项：直接列为 {r.grade} 级"  # the rubric's lowest grade
    if r.pending:
        return "暂定结果，不计算"
    if r.next_grade:
        return f"距 {r.next_grade} 级还差 {fmt(r.to_next_grade)} 分"
    return "已达最高等级"


FINDING_PENDING = "待评：待省职鉴中心录入人社部门数据"


def unchanged_text(pending: bool, base: str, finding: bool = False) -> str:
    """An indicator with no deduction or award line: 待评 while pending (never beside 无扣分; for one scored
    from 人社部门 data, what it waits for), else by its style."""
    if pending:
        return FINDING_PENDING if finding else "待评"
    return "未获加分" if base == "zero" else "无扣分"


def local_time(stamp: str) -> str:
    """A stored UTC timestamp in Beijing time, the users' clock whatever the server's zone is."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo("Asia/Shanghai")
    except ZoneInfoNotFoundError:  # no time-zone database: fixed UTC+8, which Beijing time is
        zone = dt.timezone(dt.timedelta(hours=8))
    try:
        return dt.datetime.fromisoformat(stamp).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return stamp


def key_label(rubric: Rubric, key: str) -> str:
    """A stored key as users name what it holds (the form's save message, the CLI)."""
    parsed = parse_key(rubric, key)
    if parsed is None:
        return key
    if parsed.kind == "indicator":
        return f"指标 {parsed.ident} {rubric.indicators[parsed.ident].name}"  # type: ignore[index]
    if parsed.kind == "bonus":
        return "加分项 " + rubric.bonus_items[parsed.ident].text.split("：")[0]  # type: ignore[index]
    labels = {
        "dismiss": "排除信用记录 {}",
        "veto": "否定项第 {} 条",
        "adjust": "复核调整（指标 {}）",
        "finding": "人社部门数据（指标 {}）",
        "opinion": "专家组意见",
    }
    return labels[parsed.kind].format(parsed.ident)


def describe_version(rubric: Rubric, key: str, content: dict | None) -> str:
    """A stored judgment version in words (history tables of the form, the report and the CLI)."""
    if content is None:
        return "撤回"
    parsed = parse_key(rubric, key)
    if parsed is None:  # an id a later rubric dropped: shown as stored
        return f"{key}：{content}"
    kind, ident = parsed.kind, parsed.ident
    if kind == "indicator":
        ind = rubric.indicators[ident]  # type: ignore[index]
        verb = "加分" if ind.base == "zero" else "扣分"
        names = {it.urn: it.id for it in ind.items}
        ticks = {names.get(u, u): c for u, c in content.get("ticks", {}).items()}
        parts = ["勾选 " + "、".join(f"{i}×{c}" if c > 1 else i for i, c in ticks.items())] if ticks else []
        parts += [f"自由{verb} {fmt(f['points'])} 分（{f['reason']}）" for f in content.get("free", [])]
        parts = parts or [f"已评，无{verb}"]
        if content.get("evidence"):
            parts.append(f"佐证：{content['evidence']}")
        return "；".join(parts)
    if kind == "dismiss":
        return f"排除信用记录 {ident}：{content.get('reason', '')}"
    if kind == "bonus":
        return f"加分项 {ident}" + (f"（{content['evidence']}）" if content.get("evidence") else "")
    if kind == "veto":
        return f"否定项第 {ident} 条{VETO_STATUS_ZH.get(content.get('status', ''), '')}：{content.get('reason', '')}"
    if kind == "opinion":
        return f"专家组意见：{content.get('text', '')}"
    if kind == "finding":
        return f"指标 {ident} 人社部门数据：{finding_result(rubric, ident, content)}（{content.get('source', '')}，{content.get('date', '')}）"  # type: ignore[arg-type]
    return f"指标 {ident} 复核调整为 {fmt(content.get('score'))} 分：{content.get('reason', '')}"


def finding_result(rubric: Rubric, number: int, content: Mapping) -> str:
    """A stored finding's result in words: the rule items the data shows, or no problem."""
    names = {it.urn: it.id for it in rubric.indicators[number].items}
    ticks = content.get("ticks", {})
    shown = "、".join(f"{names.get(u, u)}×{c}" if c > 1 else names.get(u, u) for u, c in ticks.items())
    note = f"；{content['note']}" if content.get("note") else ""
    return (f"扣分 {shown}" if shown else "无问题") + note


def acknowledgement_text(ack: Acknowledgement) -> str:
    """The institution's confirmation of the on-site result, or its refusal, in one line."""
    recorded = f"（{ack.recorded_by} 代为登记，{local_time(ack.at)}）"
    if ack.accepted:
        return f"机构确认：{ack.person} 于 {ack.date.isoformat()} 签字盖章确认现场评估结果{recorded}"
    return f"机构拒绝签字：{ack.person} 于 {ack.date.isoformat()} 拒绝确认现场评估结果，理由：{ack.reason}{recorded}"
