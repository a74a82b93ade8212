"""One dataset folder: credit records, the 附件3 materials checklist and personnel tables 1–5.

Layout (see docs/evidence-formats.md): ``dataset.yaml`` (name, whether synthetic, default as-of
date), ``records``, ``materials`` and ``personnel`` as ``.csv`` (UTF-8 or GBK) or ``.xlsx``, and
a ``judgments/`` folder. Every row is checked against the rubric and the roster; all faults are
reported together with file, row and column.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import Fault, InputError, display_path
from .programme import Materials
from .roster import Institution
from .rubric import SEVERITIES, Rubric
from .tabular import Column, Row, read_table

RECORD_COLUMNS = (
    Column("id", ("记录编号", "id")),
    Column("institution", ("机构序号", "institution")),
    Column("type", ("记录类型", "type")),
    Column("authority", ("发布机关", "authority")),
    Column("date", ("日期", "date")),
    Column("severity", ("严重程度", "severity")),
    Column("ref", ("文号", "reference")),
    Column("summary", ("摘要", "summary")),
    Column("source", ("信息来源", "source")),
)
MATERIAL_COLUMNS = (
    Column("institution", ("机构序号", "institution")),
    Column("item", ("材料序号", "item")),
    Column("provided", ("是否提供", "provided")),
    Column("note", ("备注", "note"), required=False),
)
PERSONNEL_COLUMNS = (
    Column("institution", ("机构序号", "institution")),
    Column("table", ("表号", "table")),
    Column("role", ("岗位", "role")),
    Column("name", ("姓名", "name")),
    Column("qualification", ("资格", "qualification")),
    Column("education", ("学历", "education"), required=False),
    Column("years", ("从业年限", "years")),
)
YES = {"是", "已提供", "有", "Y", "y", "yes", "true", "1"}
NO = {"否", "未提供", "无", "N", "n", "no", "false", "0"}


@dataclass(frozen=True, slots=True)
class CreditRecord:
    id: str
    institution: int
    type: str
    authority: str
    system: str  # "人社" or "其他", classified from the authority by the rubric's keywords
    date: dt.date
    severity: str
    ref: str
    summary: str
    source: str


@dataclass(frozen=True, slots=True)
class Material:
    item: int
    provided: bool
    note: str


@dataclass(frozen=True, slots=True)
class Person:
    table: int
    role: str
    name: str
    qualification: str
    education: str
    years: int


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the dataset holds for one institution."""

    records: tuple[CreditRecord, ...] = ()
    materials: tuple[Material, ...] = ()
    personnel: tuple[Person, ...] = ()


@dataclass(frozen=True)
class Dataset:
    name: str
    folder: Path
    synthetic: bool
    as_of: dt.date
    description: str
    evidence: Mapping[int, Evidence] = field(default_factory=dict)

    def for_institution(self, number: int) -> Evidence:
        return self.evidence.get(number, Evidence())

    @property
    def mark(self) -> str:
        """The visible label every artefact made from synthetic data carries."""
        return "演示数据" if self.synthetic else ""


def classify_authority(authority: str, rubric: Rubric) -> str:
    keywords = rubric.authority_systems.get("人社", [])
    return "人社" if any(k in authority for k in keywords) else "其他"


def _find(folder: Path, stem: str) -> Path | None:
    for suffix in (".csv", ".xlsx"):
        p = folder / f"{stem}{suffix}"
        if p.exists():
            return p
    return None


def _institution(row: Row, roster: Mapping[int, Institution], faults: list[Fault]) -> int | None:
    raw = row.values["institution"]
    try:
        n = int(raw)
    except ValueError:
        faults.append(row.fault("机构序号", f"机构序号“{raw}”不是整数"))
        return None
    if n not in roster:
        faults.append(row.fault("机构序号", f"机构序号 {n} 不在机构名单中"))
        return None
    return n


def parse_date(text: str) -> dt.date:
    """ISO dates, and the 2023/5/8 and 2023年5月8日 forms government exports use."""
    t = text.strip().replace("年", "-").replace("月", "-").replace("日", "").replace("/", "-").replace(".", "-")
    parts = t.split(" ")[0].split("-")
    if len(parts) != 3:
        raise ValueError(text)
    return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))


def _records(path: Path, rubric: Rubric, roster: Mapping[int, Institution], faults: list[Fault]):
    seen: set[str] = set()
    for row in read_table(path, RECORD_COLUMNS):
        v = row.values
        n = _institution(row, roster, faults)
        ok = n is not None
        if not v["id"]:
            faults.append(row.fault("记录编号", "记录编号为空"))
            ok = False
        elif v["id"] in seen:
            faults.append(row.fault("记录编号", f"记录编号 {v['id']} 重复"))
            ok = False
        seen.add(v["id"])
        if v["type"] not in rubric.record_types_by_code:
            faults.append(
                row.fault("记录类型", f"未知记录类型“{v['type']}”；允许：{'、'.join(rubric.record_types_by_code)}")
            )
            ok = False
        if v["severity"] not in SEVERITIES:
            faults.append(row.fault("严重程度", f"严重程度“{v['severity']}”无效；允许：{'、'.join(SEVERITIES)}"))
            ok = False
        if not v["authority"]:
            faults.append(row.fault("发布机关", "发布机关为空"))
            ok = False
        try:
            date = parse_date(v["date"])
        except ValueError:
            faults.append(row.fault("日期", f"日期“{v['date']}”无效，应为 YYYY-MM-DD"))
            ok = False
        if ok:
            yield (
                n,
                CreditRecord(
                    v["id"],
                    n,
                    v["type"],
                    v["authority"],
                    classify_authority(v["authority"], rubric),
                    date,
                    v["severity"],
                    v["ref"],
                    v["summary"],
                    v["source"],
                ),
            )


def _materials(path: Path, roster: Mapping[int, Institution], checklist: Materials, faults: list[Fault]):
    seen: set[tuple[int, int]] = set()
    for row in read_table(path, MATERIAL_COLUMNS):
        v = row.values
        n = _institution(row, roster, faults)
        try:
            item = int(v["item"])
            if not 1 <= item <= checklist.count:
                raise ValueError
        except ValueError:
            faults.append(row.fault("材料序号", f"材料序号“{v['item']}”无效，应为 1–{checklist.count}"))
            continue
        if v["provided"] not in YES | NO:
            faults.append(row.fault("是否提供", f"“{v['provided']}”无效，应为 是 或 否"))
            continue
        if n is None:
            continue
        if (n, item) in seen:
            faults.append(row.fault("材料序号", f"机构 {n} 的材料 {item} 重复"))
            continue
        seen.add((n, item))
        yield n, Material(item, v["provided"] in YES, v.get("note", ""))


def _personnel(path: Path, roster: Mapping[int, Institution], checklist: Materials, faults: list[Fault]):
    for row in read_table(path, PERSONNEL_COLUMNS):
        v = row.values
        n = _institution(row, roster, faults)
        try:
            table = int(v["table"])
            if table not in checklist.table_names:
                raise ValueError
        except ValueError:
            faults.append(row.fault("表号", f"表号“{v['table']}”无效，应为 1–{len(checklist.tables)}"))
            continue
        try:
            years = int(v["years"])
            if years < 0:
                raise ValueError
        except ValueError:
            faults.append(row.fault("从业年限", f"从业年限“{v['years']}”应为非负整数"))
            continue
        if not v["name"]:
            faults.append(row.fault("姓名", "姓名为空"))
            continue
        if n is not None:
            yield n, Person(table, v["role"], v["name"], v["qualification"], v.get("education", ""), years)


def load_dataset(
    folder: Path | str, rubric: Rubric, roster: Mapping[int, Institution], checklist: Materials
) -> Dataset:
    """Load and validate a whole dataset folder against the 附件3 checklist; raises InputError listing every fault."""
    folder = Path(folder)
    meta_path = folder / "dataset.yaml"
    if not meta_path.exists():
        raise InputError([Fault(display_path(meta_path), "数据集缺少 dataset.yaml")])
    meta_file = display_path(meta_path)
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
        as_of = parse_date(str(meta["as_of"]))
        name = str(meta["name"])
        synthetic = bool(meta.get("synthetic", False))
    except (yaml.YAMLError, KeyError, ValueError, TypeError) as exc:
        raise InputError([Fault(meta_file, f"dataset.yaml 需要 name 与 as_of（YYYY-MM-DD）：{exc}")]) from None
    faults: list[Fault] = []
    parsers = {
        "records": lambda path: _records(path, rubric, roster, faults),
        "materials": lambda path: _materials(path, roster, checklist, faults),
        "personnel": lambda path: _personnel(path, roster, checklist, faults),
    }
    grouped: dict[str, dict[int, list]] = {stem: defaultdict(list) for stem in parsers}
    for stem, parse in parsers.items():
        path = _find(folder, stem)
        if path is None:
            faults.append(Fault(display_path(folder / f"{stem}.csv"), "缺少文件（.csv 或 .xlsx）"))
            continue
        try:
            for n, obj in parse(path):
                grouped[stem][n].append(obj)
        except InputError as exc:
            faults.extend(exc.faults)
    if faults:
        raise InputError(faults)
    evidence = {
        n: Evidence(
            tuple(sorted(grouped["records"].get(n, []), key=lambda r: (r.date, r.id))),
            tuple(sorted(grouped["materials"].get(n, []), key=lambda m: m.item)),
            tuple(grouped["personnel"].get(n, [])),
        )
        for n in roster
    }
    return Dataset(name, folder, synthetic, as_of, str(meta.get("description", "")), evidence)
