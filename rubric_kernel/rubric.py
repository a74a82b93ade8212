"""The indicator system (seed 附件2) as typed, validated data loaded from ``parameters/rubric.yaml``.

Points, typical deductions, record-type mappings, bonus, veto clauses and grade cut-offs all live in
the file; this module only checks that the file is coherent and exposes it in a shape the scoring
core can use without re-checking anything.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, model_validator

from .errors import Fault, InputError, display_path
from .yamlsafe import load_yaml

Severity = Literal["一般", "较重", "严重"]
SEVERITIES: tuple[str, ...] = ("一般", "较重", "严重")
# Positive records (红名单, 荣誉奖励) have no severity; they carry this in its place, and it names
# their own look-back window in ``look_back_days``.
POSITIVE_WINDOW = "正面记录"
AuthoritySystem = Literal["人社", "其他", "任意"]
JUDGMENT_SOURCES = ("机构提供", "现场核查")
HRSS_SOURCE = "人力资源和社会保障部门"  # 人社部门: its own administrative data, which the centre reads


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class RuleItem(_Strict):
    """A typical deduction (扣分项) or award (加分项) an expert can tick, as the 评分细则 words it."""

    id: str
    urn: str  # stable across renumbering: "<rubric id>:item:<id>"
    text: str
    points: float = Field(gt=0)
    unit: str | None = None  # set when the rule counts occurrences ("每人次"): the expert enters a count


class FindingRule(_Strict):
    """An indicator scored from 人社部门's own data: the centre records its finding, else it stays pending."""

    data: str = Field(min_length=1)  # what the centre reads, e.g. 题库建设技术评估结果
    source: str = Field(min_length=1)  # where it reads it: the default source of a recorded finding


class Indicator(_Strict):
    """A third-level indicator, numbered 1–68 as in the seed."""

    number: int = Field(ge=1)
    urn: str  # stable across renumbering: "<rubric id>:ind:<id>"; stored judgments are keyed by it
    name: str
    sources: list[str] = Field(min_length=1)
    method: str = ""
    basis: list[str] = Field(default_factory=list)
    base: Literal["full", "zero"]
    max_points: float = Field(gt=0)
    needs_judgment: bool
    items: list[RuleItem] = Field(default_factory=list)
    finding: FindingRule | None = None  # set: scored from the centre's finding on 人社部门 data


class Level2(_Strict):
    """A second-level indicator (1)–(23); ``inferred`` marks a name the seed leaves blank."""

    number: int = Field(ge=1)
    name: str
    inferred: bool = False
    indicators: list[Indicator] = Field(min_length=1)


class Level1(_Strict):
    name: str
    points: float = Field(gt=0)
    groups: list[Level2] = Field(min_length=1)


class RecordEffect(_Strict):
    """What one record of a type does, for an issuing-authority system and a severity."""

    authority: AuthoritySystem = "任意"
    severity: Severity | None = None  # None: any severity
    indicator: int
    points: float = Field(gt=0)
    veto: str | None = None  # a veto clause id this record raises (still needs confirmation)


class RecordType(_Strict):
    code: str
    description: str = ""
    polarity: Literal["negative", "positive"]
    effects: list[RecordEffect] = Field(min_length=1)
    issuers: list[str] | None = None  # issuer kinds that plausibly issue this type; None: any issuer


class BonusItem(_Strict):
    id: str
    urn: str
    text: str
    points: float = Field(gt=0)


class Bonus(_Strict):
    cap: float = Field(gt=0)
    may_exceed_total: bool
    description: str = ""
    sources: list[str] = Field(default_factory=list)  # 附件2 信息来源 of the bonus item
    basis: list[str] = Field(default_factory=list)  # 附件2 评估依据: keys of ``Rubric.documents``
    items: list[BonusItem] = Field(min_length=1)


class VetoClause(_Strict):
    id: str  # "1(1)" … "1(7)", "2" … "9"
    urn: str
    text: str


class VetoGroup(_Strict):
    clause: int = Field(ge=1)
    urn: str
    text: str
    items: list[VetoClause] = Field(default_factory=list)


class Cutoff(_Strict):
    grade: str
    min: float


class Grades(_Strict):
    active: str
    lowest: str
    presets: dict[str, list[Cutoff]]

    @model_validator(mode="after")
    def _descending(self) -> Grades:
        if self.active not in self.presets:
            raise ValueError(f"当前方案 {self.active!r} 不在 presets 中")
        for name, cuts in self.presets.items():
            mins = [c.min for c in cuts]
            if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
                raise ValueError(f"等级方案 {name!r} 的分数线必须严格递减：{mins}")
        return self


RUBRIC_ID = r"[a-z][a-z0-9]*(-[a-z0-9]+)*"  # the rubric's own id, the prefix of every URN in it
URN_KINDS = {"ind": "三级指标", "item": "评分细则", "bonus": "加分项", "veto": "否定项条款"}
URN_LOCAL = re.compile(r"[0-9A-Za-z][0-9A-Za-z()_.-]*")


class Meta(_Strict):
    id: str = Field(pattern=f"^{RUBRIC_ID}$")  # e.g. "sc-2023"; stored judgments are keyed under it
    title: str
    notice: str = ""  # the notice the indicator system comes from, as documents cite it
    version: str
    allocation_note: str
    total_points: float = Field(gt=0)
    official: StrictBool = False  # false: allocation and cut-offs are project defaults, and documents say so


class Rubric(_Strict):
    meta: Meta
    look_back_days: dict[str, int]
    authority_systems: dict[str, list[str]]
    issuer_kinds: dict[str, list[str]] = Field(default_factory=dict)
    levels: list[Level1] = Field(min_length=1)
    record_types: list[RecordType] = Field(min_length=1)
    documents: dict[str, str] = Field(default_factory=dict)  # basis reference -> full title as 附件2 writes it
    bonus: Bonus
    veto: list[VetoGroup] = Field(min_length=1)
    grades: Grades

    def basis_text(self, refs: list[str]) -> str:
        """评估依据 in full, as 附件2 writes it (a reference without a full title stays as written)."""
        return "、".join(self.documents.get(ref, ref) for ref in refs)

    @cached_property
    def indicators(self) -> dict[int, Indicator]:
        return {i.number: i for lv in self.levels for g in lv.groups for i in g.indicators}

    @cached_property
    def placement(self) -> dict[int, tuple[Level1, Level2]]:
        """Indicator number -> its first- and second-level parents."""
        return {i.number: (lv, g) for lv in self.levels for g in lv.groups for i in g.indicators}

    @cached_property
    def record_types_by_code(self) -> dict[str, RecordType]:
        return {t.code: t for t in self.record_types}

    def issuer_kind(self, authority: str) -> str | None:
        """The first issuer kind whose keyword the authority's name contains (人社 first), or None."""
        kinds = [("人社", self.authority_systems.get("人社", [])), *self.issuer_kinds.items()]
        return next((kind for kind, words in kinds if any(w in authority for w in words)), None)

    def plausible_issuer(self, record_type: str, authority: str) -> bool:
        """Whether an authority of this kind can issue records of this type (an unknown kind cannot, where
        the type names its issuers)."""
        issuers = self.record_types_by_code[record_type].issuers
        return issuers is None or self.issuer_kind(authority) in issuers

    @cached_property
    def veto_clauses(self) -> dict[str, str]:
        """Every clause id that can be raised -> its text (sub-items of a group, or the group itself)."""
        out: dict[str, str] = {}
        for g in self.veto:
            if g.items:
                out.update({c.id: f"{g.text}{c.text}" for c in g.items})
            else:
                out[str(g.clause)] = g.text
        return out

    @cached_property
    def bonus_items(self) -> dict[str, BonusItem]:
        return {b.id: b for b in self.bonus.items}

    @cached_property
    def veto_urns(self) -> dict[str, str]:
        """Every clause id that can be raised -> its stable id."""
        out: dict[str, str] = {}
        for g in self.veto:
            out.update({c.id: c.urn for c in g.items} if g.items else {str(g.clause): g.urn})
        return out

    @cached_property
    def by_urn(self) -> dict[str, tuple[str, int | str | tuple[int, str]]]:
        """Stable id -> (kind, the element's id in this rubric): an indicator's number, (number, item id)
        for a rule item, a bonus item's id, a raisable veto clause's id. The store's keys resolve here."""
        out: dict[str, tuple[str, int | str | tuple[int, str]]] = {}
        for ind in self.indicators.values():
            out[ind.urn] = ("ind", ind.number)
            out.update({it.urn: ("item", (ind.number, it.id)) for it in ind.items})
        out.update({b.urn: ("bonus", b.id) for b in self.bonus.items})
        out.update({urn: ("veto", clause) for clause, urn in self.veto_urns.items()})
        return out

    @cached_property
    def urns(self) -> list[tuple[str, str, str]]:
        """Every stable id with its kind and what it names (for checks and messages), in file order."""
        out = []
        for ind in self.indicators.values():
            out.append((ind.urn, "ind", f"指标 {ind.number}"))
            out.extend((it.urn, "item", f"指标 {ind.number} 细则 {it.id}") for it in ind.items)
        out.extend((b.urn, "bonus", f"加分项 {b.id}") for b in self.bonus.items)
        for g in self.veto:
            out.append((g.urn, "veto", f"否定项第 {g.clause} 条"))
            out.extend((c.urn, "veto", f"否定项 {c.id}") for c in g.items)
        return out

    @property
    def cutoffs(self) -> list[Cutoff]:
        return self.grades.presets[self.grades.active]

    def with_preset(self, preset: str) -> Rubric:
        """The same rubric with another named grade preset active (e.g. the stricter one)."""
        if preset not in self.grades.presets:
            raise KeyError(preset)
        grades = self.grades.model_copy(update={"active": preset})
        return self.model_copy(update={"grades": grades})


def _coherence_faults(r: Rubric, file: str) -> list[Fault]:
    """Cross-field checks pydantic cannot express per field."""
    faults: list[Fault] = []
    seen: dict[int, str] = {}
    l2_numbers: list[int] = []
    for lv in r.levels:
        level_sum = 0.0
        for g in lv.groups:
            l2_numbers.append(g.number)
            for ind in g.indicators:
                if ind.number in seen:
                    faults.append(
                        Fault(file, f"指标编号重复（{seen[ind.number]} 与 {ind.name}）", indicator=ind.number)
                    )
                seen[ind.number] = ind.name
                level_sum += ind.max_points
                item_ids = [it.id for it in ind.items]
                if len(set(item_ids)) != len(item_ids):
                    faults.append(Fault(file, "扣分/加分细则的 id 重复", indicator=ind.number))
                for it in ind.items:
                    if it.points > ind.max_points:
                        faults.append(
                            Fault(
                                file,
                                f"细则 {it.id} 的分值 {it.points} 超过指标满分 {ind.max_points}",
                                indicator=ind.number,
                            )
                        )
                if ind.needs_judgment is False and any(s in JUDGMENT_SOURCES for s in ind.sources):
                    faults.append(
                        Fault(file, "信息来源含机构提供或现场核查，needs_judgment 必须为 true", indicator=ind.number)
                    )
                faults.extend(_finding_faults(ind, file))
        if abs(level_sum - lv.points) > 1e-9:
            faults.append(Fault(file, f"一级指标“{lv.name}”的三级指标分值合计 {level_sum:g}，应为 {lv.points:g}"))
    expected = set(range(1, len(seen) + 1))
    if set(seen) != expected:
        missing = sorted(expected - set(seen))
        faults.append(Fault(file, f"三级指标编号必须从 1 连续编号，缺少 {missing}"))
    if sorted(l2_numbers) != list(range(1, len(l2_numbers) + 1)):
        faults.append(Fault(file, f"二级指标编号必须从 (1) 连续编号且不重复：{l2_numbers}"))
    total = sum(lv.points for lv in r.levels)
    if abs(total - r.meta.total_points) > 1e-9:
        faults.append(Fault(file, f"一级指标分值合计 {total:g}，应为总分 {r.meta.total_points:g}"))
    windows = (*SEVERITIES, POSITIVE_WINDOW)
    for sev in windows:
        if sev not in r.look_back_days:
            faults.append(Fault(file, f"look_back_days 缺少“{sev}”的回溯期"))
        elif r.look_back_days[sev] <= 0:
            faults.append(Fault(file, f"look_back_days 中“{sev}”的回溯期必须为正整数天"))
    for key in r.look_back_days:
        if key not in windows:
            faults.append(Fault(file, f"look_back_days 中的“{key}”不是严重程度；允许：{'、'.join(windows)}"))
    if "人社" not in r.authority_systems:
        faults.append(Fault(file, "authority_systems 必须定义“人社”系统的关键词"))
    for ref in [*(b for i in r.indicators.values() for b in i.basis), *r.bonus.basis]:
        if r.documents and ref not in r.documents:
            faults.append(Fault(file, f"评估依据“{ref}”未在 documents 中给出全称"))
    faults.extend(_issuer_faults(r, file))
    faults.extend(_urn_faults(r, file))
    clauses = r.veto_clauses
    codes: set[str] = set()
    for t in r.record_types:
        if t.code in codes:
            faults.append(Fault(file, f"记录类型 {t.code} 重复"))
        codes.add(t.code)
        for system in ("人社", "其他"):
            for sev in SEVERITIES:
                if not any(e.authority in ("任意", system) and e.severity in (None, sev) for e in t.effects):
                    faults.append(
                        Fault(file, f"记录类型 {t.code} 未规定{system}系统“{sev}”记录的计分，此类记录将无从计分")
                    )
        for e in t.effects:
            ind = r.indicators.get(e.indicator)
            if ind is None:
                faults.append(Fault(file, f"记录类型 {t.code} 指向不存在的指标 {e.indicator}"))
                continue
            if e.points > ind.max_points:
                faults.append(
                    Fault(
                        file,
                        f"记录类型 {t.code} 的分值 {e.points} 超过指标满分 {ind.max_points}",
                        indicator=e.indicator,
                    )
                )
            if (t.polarity == "positive") != (ind.base == "zero"):
                faults.append(
                    Fault(file, f"记录类型 {t.code} 的方向与指标计分方式（{ind.base}）不一致", indicator=e.indicator)
                )
            if e.veto is not None and e.veto not in clauses:
                faults.append(Fault(file, f"记录类型 {t.code} 引用不存在的否定项条款 {e.veto}"))
    bonus_ids = [b.id for b in r.bonus.items]
    if len(set(bonus_ids)) != len(bonus_ids):
        faults.append(Fault(file, "加分项 id 重复"))
    for b in r.bonus.items:
        if b.points > r.bonus.cap:
            faults.append(Fault(file, f"加分项 {b.id} 的分值 {b.points} 超过加分上限 {r.bonus.cap}"))
    return faults


def _finding_faults(ind: Indicator, file: str) -> list[Fault]:
    """Where 人社部门's own data is the only source, the centre's finding is the only input: an indicator
    without one would get silent full marks; and a finding is never also the experts' to judge."""
    if ind.finding is None:
        if not ind.needs_judgment and set(ind.sources) == {HRSS_SOURCE}:
            return [
                Fault(
                    file,
                    f"信息来源仅为{HRSS_SOURCE}，须设 finding（由省职鉴中心录入人社部门数据）",
                    indicator=ind.number,
                )
            ]
        return []
    if ind.needs_judgment:
        return [
            Fault(
                file,
                "由省职鉴中心录入人社部门数据的指标（finding）不由专家评分，needs_judgment 必须为 false",
                indicator=ind.number,
            )
        ]
    if HRSS_SOURCE not in ind.sources:
        return [Fault(file, f"finding 只用于信息来源含{HRSS_SOURCE}的指标", indicator=ind.number)]
    return []


def _urn_faults(r: Rubric, file: str) -> list[Fault]:
    """Stable ids are unique, well formed and carry the rubric's own id and their element's kind."""
    faults: list[Fault] = []
    seen: dict[str, str] = {}
    for urn, kind, what in r.urns:
        prefix, _, rest = urn.partition(":")
        found_kind, _, local = rest.partition(":")
        if prefix != r.meta.id or found_kind != kind or not URN_LOCAL.fullmatch(local):
            faults.append(
                Fault(file, f"{what} 的 urn “{urn}” 格式不对，应为 {r.meta.id}:{kind}:编号（{URN_KINDS[kind]}）")
            )
        if urn in seen:
            faults.append(Fault(file, f"{what} 的 urn “{urn}” 与 {seen[urn]} 重复"))
        seen.setdefault(urn, what)
    return faults


def _issuer_faults(r: Rubric, file: str) -> list[Fault]:
    """The plausibility map: keyword lists are non-empty, and record types name only defined kinds."""
    faults: list[Fault] = []
    if "人社" in r.issuer_kinds:
        faults.append(Fault(file, "issuer_kinds 不应再定义“人社”：人社类别的关键词取自 authority_systems"))
    for kind, words in r.issuer_kinds.items():
        if not words or any(not w.strip() for w in words):
            faults.append(Fault(file, f"issuer_kinds 中“{kind}”的关键词不能为空"))
    known = {"人社", *r.issuer_kinds}
    for t in r.record_types:
        for kind in t.issuers or ():
            if kind not in known:
                faults.append(Fault(file, f"记录类型 {t.code} 的 issuers 引用未定义的发布机关类别“{kind}”"))
        if t.issuers is not None and not t.issuers:
            faults.append(Fault(file, f"记录类型 {t.code} 的 issuers 为空：不限发布机关时请删去该项"))
    return faults


def parse_rubric(data: object, file: str = "rubric.yaml") -> Rubric:
    """Validate already-parsed YAML; raises InputError naming every fault."""
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        raise InputError(_pydantic_faults(exc, file, data)) from None
    faults = _coherence_faults(rubric, file)
    if faults:
        raise InputError(faults)
    return rubric


def load_rubric(path: Path | str) -> Rubric:
    return parse_rubric(load_yaml(path), display_path(path))


def _pydantic_faults(exc: ValidationError, file: str, data: object) -> list[Fault]:
    faults = []
    for err in exc.errors():
        loc = err["loc"]
        faults.append(Fault(file, f"{'.'.join(str(p) for p in loc)}：{err['msg']}", indicator=_indicator_at(data, loc)))
    return faults


def _indicator_at(data: object, loc: tuple) -> int | None:
    """Walk the raw data along an error location to name the indicator it sits in, if any."""
    node = data
    found = None
    for part in loc:
        try:
            node = node[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and isinstance(node.get("number"), int) and "base" in node:
            found = node["number"]
    return found
