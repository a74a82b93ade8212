"""The expert group's consolidation: where the experts' own sheets differ by more than a threshold."""

from __future__ import annotations

from dataclasses import dataclass

from ..judgments import current_sheet
from ..store import Store
from ..workspace import Workspace

EXPERT_PREFIX = "expert:"


def expert_sheet(expert: str) -> str:
    """The store's sheet name for one expert's independent scoring (as ``open_assessment(sheet="own")``)."""
    return f"{EXPERT_PREFIX}{expert}"


@dataclass(frozen=True)
class Divergence:
    number: int
    name: str
    scores: dict[str, float]
    reasons: dict[str, list[str]]

    @property
    def spread(self) -> float:
        return max(self.scores.values()) - min(self.scores.values())


def consolidate(ws: Workspace, store: Store, n: int, threshold: float) -> list[Divergence]:
    ws.institution(n)  # an unknown number is refused even when no expert has scored yet
    experts = [s.removeprefix(EXPERT_PREFIX) for s in store.sheets(ws.dataset.name, n) if s.startswith(EXPERT_PREFIX)]
    results = {e: ws.score(n, current_sheet(store, ws, n, expert_sheet(e))) for e in experts}
    rows = []
    for number, ind in ws.rubric.indicators.items():
        per = {e: next(i for i in r.indicators if i.number == number) for e, r in results.items()}
        scores = {e: i.score for e, i in per.items() if i.judged or not i.needs_judgment}
        if len(scores) >= 2 and max(scores.values()) - min(scores.values()) > threshold:
            reasons = {e: [f"{ln.points:+g} {ln.text}" for ln in per[e].lines] for e in scores}
            rows.append(Divergence(number, ind.name, scores, reasons))
    return rows


def render_consolidation(rows: list[Divergence], threshold: float) -> str:
    if not rows:
        return f"各专家评分在所有指标上的分差均不超过 {threshold:g} 分（或尚无两名以上专家的独立评分）。"
    out = [f"分差超过 {threshold:g} 分的指标（{len(rows)} 项），请小组合议后形成一致评分表："]
    for d in rows:
        out.append(f"  指标{d.number} {d.name}：分差 {d.spread:g}")
        for e, s in d.scores.items():
            out.append(f"    {e}：{s:g}  {'；'.join(d.reasons[e]) or '无扣分'}")
    return "\n".join(out)
