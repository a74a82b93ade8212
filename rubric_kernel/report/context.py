"""What one 评估报告 shows, as frozen plain data: the loader fills it, the templates only read it.

Every value is already in the words a reader sees (Chinese labels, formatted numbers, record
descriptions instead of record ids), so a template holds layout and no business rule, and the
rendering code never needs the store. Fragments that are HTML on purpose (the chart) are the only
``Markup``; everything else is text that autoescaping escapes.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup


@dataclass(frozen=True, slots=True)
class Institution:
    number: int
    name: str
    address: str
    types: str
    klass: str


@dataclass(frozen=True, slots=True)
class Head:
    """The report's head: who issues it, about whom, as of when."""

    title: str
    report_no: str
    report_date: str
    organiser: str
    issuer: str
    experts: tuple[str, ...]
    as_of: str
    institution: Institution
    notice: str  # the document the indicator system comes from
    mark: str  # 演示数据 or ""
    defaults_note: str  # "" once the rubric is official


@dataclass(frozen=True, slots=True)
class VetoBanner:
    """An effective veto: the clause, the facts the centre confirmed, the records that raised it."""

    clause: str
    text: str
    facts: str
    decided_by: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Conclusion:
    total: str
    grade: str
    status: str
    provisional: bool
    pending_names: tuple[str, ...]  # "16. 题库建设", …
    range_note: str  # what the provisional total may still become
    vetoes: tuple[VetoBanner, ...]
    raised: tuple[str, ...]  # raised but not yet decided clauses, in words
    subtotal: str
    bonus: str
    next_grade: str
    cutoffs: str
    lowest_grade: str


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason a score moved: the rule's text with its count, the points, and what kind it is."""

    kind: str
    text: str
    points: str


@dataclass(frozen=True, slots=True)
class Finding:
    """An indicator that lost or gained points (or the bonus item)."""

    label: str  # "49. 技能荣誉"
    group: str  # "行业信用 · （19）行业荣誉"
    max_points: str
    score: str
    change: str  # "-5" / "+10"
    reasons: tuple[Reason, ...]
    evidence: str
    note: str


@dataclass(frozen=True, slots=True)
class IndicatorRow:
    """One row of the full 68-indicator appendix."""

    number: int
    name: str
    style: str
    sources: str
    basis: str
    max_points: str
    score: str
    pending: bool
    summary: str  # the reasons in one line, or 无扣分 / 未获加分 / 待评


@dataclass(frozen=True, slots=True)
class IndicatorGroup:
    title: str
    score: str
    max_points: str
    rows: tuple[IndicatorRow, ...]


@dataclass(frozen=True, slots=True)
class Level1Row:
    name: str
    max_points: str
    score: str
    class_mean: str
    all_mean: str


@dataclass(frozen=True, slots=True)
class Comparison:
    rows: tuple[Level1Row, ...]
    class_head: str
    all_head: str
    chart: Markup


@dataclass(frozen=True, slots=True)
class RecordRow:
    description: str  # "通报批评（一般，四川省…，2023-03-02，川人社职鉴〔2023〕9号）"
    summary: str
    indicators: str
    fate: str  # 计分 / 回溯期外或基准日后 / 已排除
    reason: str


@dataclass(frozen=True, slots=True)
class Collection:
    """The pre-collection record (信用记录预采集) of the programme, as the records appendix states it."""

    rows: tuple[tuple[str, str, str, str], ...]  # type, source, date (a late record says so), recorded by
    missing: tuple[str, ...]  # record types no collection was recorded for


@dataclass(frozen=True, slots=True)
class Materials:
    total: int
    missing: tuple[tuple[int, str, str], ...]  # number, material, note
    recorded: bool
    staff: tuple[tuple[str, str, int], ...]  # 表N, its name, how many people


@dataclass(frozen=True, slots=True)
class Signoff:
    """One signature line of the block: whoever signs, in which role, when, and whether it still holds.

    ``valid`` is True (valid), False (void: the signed content changed) or None (not signed yet)."""

    role: str
    name: str
    date: str
    valid: bool | None
    detail: str


@dataclass(frozen=True, slots=True)
class HistoryRow:
    time: str
    who: str
    stage: str
    item: str
    content: str
    reason: str


@dataclass(frozen=True, slots=True)
class Workflow:
    stage: str
    visit: str
    commitment: str
    publicity: str
    announced: str
    steps: tuple[str, ...]
    objections: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Digests:
    rows: tuple[tuple[str, str], ...]  # what, SHA-256
    attributes: tuple[tuple[str, str], ...]  # data-* attributes of the machine-readable element


@dataclass(frozen=True, slots=True)
class ReportContext:
    head: Head
    conclusion: Conclusion
    findings: tuple[Finding, ...]
    bonus: Finding | None
    opinion: str
    signoffs: tuple[Signoff, ...]
    comparison: Comparison
    indicator_groups: tuple[IndicatorGroup, ...]
    records: tuple[RecordRow, ...]
    collection: Collection
    materials: Materials
    workflow: Workflow
    history: tuple[HistoryRow, ...]
    digests: Digests
