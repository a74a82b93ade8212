"""The expert judgments for one institution: the score sheet the scoring core reads.

This is the one model of a sheet. It is plain immutable data; its fields carry the strict forms a
judgments file may use (``sheet_fields``), so the file parser validates straight into it and the
writer dumps it (``judgments_file``), and ``sheet_codec`` alone maps it to the store's entries.
``check_sheet`` validates one against the rubric and the institution's records so the core never
meets an unknown item or record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict

from .errors import Fault
from .evidence import Evidence
from .rubric import Indicator, Rubric
from .sheet_fields import Count, Day, Identifier, IndicatorNumber, Points, Text, judged

VetoStatus = Literal["raised", "confirmed", "rejected"]
STRICT = ConfigDict(extra="forbid")  # an unknown key in a file is a fault, never ignored


@dataclass(frozen=True, slots=True)
class FreeEntry:
    """A deduction (or, on an award-style indicator, an award) not in the typical list."""

    points: Points
    reason: Text
    __pydantic_config__ = STRICT


@dataclass(frozen=True, slots=True)
class IndicatorJudgment:
    """An expert's judgment on one indicator; its presence alone means 'judged'."""

    ticks: Mapping[Identifier, Count] = field(default_factory=dict)  # rule item id -> occurrences
    free: tuple[FreeEntry, ...] = ()
    evidence: Text = ""
    note: Text = ""
    __pydantic_config__ = STRICT


@dataclass(frozen=True, slots=True)
class Finding:
    """The centre's finding from 人社部门's own data on an indicator that takes one (rubric ``finding``).

    It replaces the experts' judgment there: the ticks are the rule items the data shows (none: no
    problem found), and the source and date say where and when the centre read it.
    """

    source: Text
    date: Day
    ticks: Mapping[Identifier, Count] = field(default_factory=dict)
    note: Text = ""
    by: Text = ""  # who recorded it (the centre's reviewer)
    late: Text = ""  # why it was entered after the date it carries (clock rules), "" if not
    __pydantic_config__ = STRICT

    @property
    def shown(self) -> str:
        """The finding as the score sheet and the report cite it: source, date, who, note."""
        late = f"，补录：{self.late}" if self.late else ""
        by = f"，{self.by}录入" if self.by else ""
        note = f"；{self.note}" if self.note else ""
        return f"人社部门数据：{self.source}（{self.date.isoformat()}{late}{by}）{note}"

    def as_judgment(self) -> IndicatorJudgment:
        """What the scoring core applies: the ticks, with the finding cited as the evidence."""
        return IndicatorJudgment(self.ticks, (), self.shown)


@dataclass(frozen=True, slots=True)
class VetoDecision:
    status: VetoStatus
    reason: Text
    by: Text = ""
    __pydantic_config__ = STRICT


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A score set by the centre's review, replacing the computed one, always with a reason."""

    score: Points
    reason: Text
    by: Text = ""
    __pydantic_config__ = STRICT


@dataclass(frozen=True, slots=True)
class Sheet:
    indicators: Mapping[IndicatorNumber, Annotated[IndicatorJudgment, BeforeValidator(judged)]] = field(
        default_factory=dict
    )
    dismissed: Mapping[Identifier, Text] = field(default_factory=dict)  # record id -> reason
    bonus: Mapping[Identifier, Text] = field(default_factory=dict)  # bonus item id -> evidence
    veto: Mapping[Identifier, VetoDecision] = field(default_factory=dict)  # clause id -> decision
    adjustments: Mapping[IndicatorNumber, Adjustment] = field(default_factory=dict)
    opinion: Text = ""  # 专家组意见: the group's free text on the institution, signed with the sheet
    findings: Mapping[IndicatorNumber, Finding] = field(default_factory=dict)  # the centre's, from 人社部门 data
    __pydantic_config__ = STRICT


def tick_limit(max_points: float, item_points: float) -> int:
    """The most occurrences of a counted item that can still move the score: more are a typo, not a fact
    the rubric can use (and an absurd count would overflow the arithmetic)."""
    return math.ceil(round(max_points / item_points, 9))


def check_sheet(sheet: Sheet, rubric: Rubric, evidence: Evidence, file: str) -> list[Fault]:
    """Every way a sheet can disagree with the rubric or the records; empty means it can be scored."""
    faults: list[Fault] = []
    for number, j in sheet.indicators.items():
        ind = rubric.indicators.get(number)
        if ind is None:
            faults.append(Fault(file, f"指标 {number} 不存在", indicator=number))
            continue
        if ind.finding is not None:
            faults.append(Fault(file, "该指标由省职鉴中心录入人社部门数据，不由专家评分", indicator=number))
        faults.extend(_tick_faults(ind, j.ticks, file))
        for entry in j.free:
            if not entry.reason.strip():
                faults.append(Fault(file, "自由扣分必须填写理由", indicator=number))
            if not 0 < entry.points <= ind.max_points:
                faults.append(
                    Fault(
                        file, f"自由扣分 {entry.points:g} 必须大于 0 且不超过满分 {ind.max_points:g}", indicator=number
                    )
                )
    for number, f in sheet.findings.items():
        ind = rubric.indicators.get(number)
        if ind is None or ind.finding is None:
            faults.append(Fault(file, f"指标 {number} 不由省职鉴中心录入人社部门数据", indicator=number))
            continue
        faults.extend(_tick_faults(ind, f.ticks, file))
        if not f.source.strip():
            faults.append(Fault(file, "人社部门数据必须写明来源", indicator=number))
    known = {r.id for r in evidence.records}
    for rid, reason in sheet.dismissed.items():
        if rid not in known:
            faults.append(Fault(file, f"排除的信用记录 {rid} 不属于该机构"))
        if not reason.strip():
            faults.append(Fault(file, f"排除信用记录 {rid} 必须填写理由"))
    for bid in sheet.bonus:
        if bid not in rubric.bonus_items:
            faults.append(Fault(file, f"加分项 {bid} 不存在"))
    for clause, d in sheet.veto.items():
        if clause not in rubric.veto_clauses:
            faults.append(Fault(file, f"否定项条款 {clause} 不存在"))
        if not d.reason.strip():
            faults.append(Fault(file, f"否定项条款 {clause} 必须填写事实与理由"))
    for number, adj in sheet.adjustments.items():
        ind = rubric.indicators.get(number)
        if ind is None:
            faults.append(Fault(file, f"调整的指标 {number} 不存在", indicator=number))
        elif not 0 <= adj.score <= ind.max_points:
            faults.append(Fault(file, f"调整后得分 {adj.score:g} 超出 [0, {ind.max_points:g}]", indicator=number))
        if not adj.reason.strip():
            faults.append(Fault(file, "复核调整必须填写理由", indicator=number))
    return faults


def _tick_faults(ind: Indicator, ticks: Mapping[str, int], file: str) -> list[Fault]:
    """Ticked rule items belong to the indicator and carry a count the rubric can use."""
    faults: list[Fault] = []
    items = {it.id: it for it in ind.items}
    for item_id, count in ticks.items():
        if item_id not in items:
            faults.append(Fault(file, f"细则 {item_id} 不属于该指标", indicator=ind.number))
        elif not isinstance(count, int) or isinstance(count, bool) or count < 1:
            faults.append(Fault(file, f"细则 {item_id} 的次数必须是正整数，而不是 {count!r}", indicator=ind.number))
        elif count > 1 and not items[item_id].unit:
            faults.append(Fault(file, f"细则 {item_id} 不按次数计分，只能勾选一次", indicator=ind.number))
        elif count > (most := tick_limit(ind.max_points, items[item_id].points)):
            faults.append(
                Fault(
                    file,
                    f"细则 {item_id} 的次数最多为 {most}（每次 {items[item_id].points:g} 分，"
                    f"满分 {ind.max_points:g} 分，更多次数不再计分）",
                    indicator=ind.number,
                )
            )
    return faults
