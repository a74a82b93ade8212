"""The judgments file (YAML or JSON): one institution's on-site judgments, as experts exchange them.

Parsing is strict (unknown keys are faults) so a typo never silently drops a deduction. The
semantic check against the rubric and records is ``sheet.check_sheet``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import Fault, InputError, display_path
from .sheet import Adjustment, FreeEntry, IndicatorJudgment, Sheet, VetoDecision, VetoStatus


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FreeModel(_Strict):
    points: float
    reason: str


class IndicatorModel(_Strict):
    ticks: dict[str, int] = Field(default_factory=dict)
    free: list[FreeModel] = Field(default_factory=list)
    evidence: str = ""
    note: str = ""


class VetoModel(_Strict):
    status: VetoStatus
    reason: str
    by: str = ""


class AdjustmentModel(_Strict):
    score: float
    reason: str
    by: str = ""


class JudgmentsFile(_Strict):
    institution: int
    expert: str = Field(min_length=1)
    date: dt.date
    indicators: dict[int, IndicatorModel | None] = Field(default_factory=dict)
    dismissed: dict[str, str] = Field(default_factory=dict)
    bonus: dict[str, str | None] = Field(default_factory=dict)
    veto: dict[str, VetoModel] = Field(default_factory=dict)
    adjustments: dict[int, AdjustmentModel] = Field(default_factory=dict)

    def to_sheet(self) -> Sheet:
        return Sheet(
            indicators={
                n: IndicatorJudgment(
                    dict(m.ticks), tuple(FreeEntry(f.points, f.reason) for f in m.free), m.evidence, m.note
                )
                if m is not None
                else IndicatorJudgment()
                for n, m in sorted(self.indicators.items())
            },
            dismissed=dict(self.dismissed),
            bonus={k: v or "" for k, v in self.bonus.items()},
            veto={k: VetoDecision(v.status, v.reason, v.by) for k, v in self.veto.items()},
            adjustments={k: Adjustment(v.score, v.reason, v.by) for k, v in self.adjustments.items()},
        )

    @classmethod
    def from_sheet(cls, institution: int, expert: str, date: dt.date, sheet: Sheet) -> JudgmentsFile:
        return cls(
            institution=institution,
            expert=expert,
            date=date,
            indicators={
                n: IndicatorModel(
                    ticks=dict(j.ticks),
                    free=[FreeModel(points=f.points, reason=f.reason) for f in j.free],
                    evidence=j.evidence,
                    note=j.note,
                )
                for n, j in sheet.indicators.items()
            },
            dismissed=dict(sheet.dismissed),
            bonus=dict(sheet.bonus),
            veto={k: VetoModel(status=v.status, reason=v.reason, by=v.by) for k, v in sheet.veto.items()},
            adjustments={
                k: AdjustmentModel(score=v.score, reason=v.reason, by=v.by) for k, v in sheet.adjustments.items()
            },
        )


def read_judgments(path: Path | str) -> JudgmentsFile:
    path = Path(path)
    file = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Fault(file, f"无法读取（需 UTF-8 编码）：{exc}")]) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError([Fault(file, f"格式错误：{exc}")]) from None
    if data is None:
        raise InputError([Fault(file, "文件为空")])
    try:
        return JudgmentsFile.model_validate(data)
    except ValidationError as exc:
        faults = []
        for err in exc.errors():
            loc = err["loc"]
            ind = (
                loc[1] if len(loc) > 1 and loc[0] in ("indicators", "adjustments") and isinstance(loc[1], int) else None
            )
            faults.append(Fault(file, f"{'.'.join(str(p) for p in loc)}：{err['msg']}", indicator=ind))
        raise InputError(faults) from None


def write_judgments(jf: JudgmentsFile, path: Path | str) -> None:
    data = jf.model_dump(mode="json", exclude_defaults=True)
    data["indicators"] = {n: (v or None) for n, v in data.get("indicators", {}).items()}
    Path(path).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
