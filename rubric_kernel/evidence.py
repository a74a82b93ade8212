"""One dataset folder: credit records, the 附件3 materials checklist and personnel tables 1–5.

Layout (see docs/evidence-formats.md): ``dataset.yaml`` (name, whether synthetic, default as-of
date), ``records``, ``materials`` and ``personnel`` as ``.csv`` (UTF-8 or GBK) or ``.xlsx``, and
a ``judgments/`` folder. Every row is checked against the rubric and the roster; all faults are
reported together with file, row and column. A contested credit result must not rest on a guess, so
anything that could be counted twice or in the wrong place (the same record or person listed twice,
a date in a foreign format, a record dated after the assessment date) is refused, not repaired.
Doubtful but possible rows (an issuer that does not usually issue that record type) become warnings.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Fault, InputError, display_path, excerpt
from .programme import Materials
from .roster import Institution
from .rubric import POSITIVE_WINDOW, SEVERITIES, Rubric
from .tabular import Column, Row, read_table
from .yamlsafe import load_yaml

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
    Column("id_number", ("证件号码", "身份证号", "id_number"), required=False),
)
TABLE_STEMS = ("records", "materials", "personnel")
DATASET_KEYS = ("name", "synthetic", "as_of", "description")
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
    severity: str  # 一般, 较重, 严重; POSITIVE_WINDOW for 红名单 and 荣誉奖励, which have none
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
    warnings: tuple[Fault, ...] = ()  # doubtful rows ``validate`` prints; they do not stop loading

    def for_institution(self, number: int) -> Evidence:
        return self.evidence.get(number, Evidence())

    @property
    def mark(self) -> str:
        """The visible label every artefact made from synthetic data carries."""
        return "演示数据" if self.synthetic else ""


def classify_authority(authority: str, rubric: Rubric) -> str:
    keywords = rubric.authority_systems.get("人社", [])
    return "人社" if any(k in authority for k in keywords) else "其他"


def _find(folder: Path, stem: str, faults: list[Fault]) -> Path | None:
    """The one table file of ``stem``; both formats at once, or only the old .xls format, is a fault."""
    found = [folder / f"{stem}{suffix}" for suffix in (".csv", ".xlsx") if (folder / f"{stem}{suffix}").exists()]
    if len(found) == 2:
        faults.append(
            Fault(
                display_path(found[1]),
                f"{stem}.csv 与 {stem}.xlsx 同时存在，无法确定以哪一份为准：请删除或移走其中一份",
            )
        )
        return None
    if not found:
        xls = folder / f"{stem}.xls"
        if xls.exists():
            faults.append(Fault(display_path(xls), "不支持 .xls 格式：请在 Excel 中另存为 .xlsx 或 CSV（UTF-8）"))
        else:
            faults.append(Fault(display_path(folder / f"{stem}.csv"), "缺少文件（.csv 或 .xlsx）"))
        return None
    return found[0]


def _institution(row: Row, roster: Mapping[int, Institution], faults: list[Fault]) -> int | None:
    raw = row.values["institution"]
    if not raw.isascii() or not raw.isdigit():
        faults.append(row.fault("机构序号", f"机构序号“{excerpt(raw)}”不是整数"))
        return None
    n = int(raw) if len(raw) <= 9 else -1  # int() of a 5,000-digit cell raises; no roster is that long
    if n not in roster:
        faults.append(row.fault("机构序号", f"机构序号 {excerpt(raw)} 不在机构名单中"))
        return None
    return n


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # not \d: that matches full-width digits too
DATE_HINT = "日期须写作 YYYY-MM-DD（四位年-两位月-两位日），例如 2023-05-08；Excel 中也可用日期格式的单元格"


def parse_date(text: str) -> dt.date:
    """A YYYY-MM-DD date, and nothing else.

    ``5/8/23`` could be 8 May or 5 August of 2023, or the year 5; ``23-05-08`` the year 23. Guessing
    would move a record into or out of its look-back window, so every other form is refused.
    """
    t = text.strip()
    if not ISO_DATE.fullmatch(t):
        raise ValueError(text)
    return dt.date.fromisoformat(t)


def _first_seen(seen: dict, key: object, row: Row) -> int | None:
    """The row that already holds ``key``, or None after remembering this row for it."""
    if key in seen:
        return seen[key]
    seen[key] = row.number
    return None


def _ref_key(ref: str) -> str:
    """文号 as a reader compares them: full-width forms and spaces do not make another document."""
    return "".join(unicodedata.normalize("NFKC", ref).split())


def _severity(row: Row, rubric: Rubric, faults: list[Fault]) -> str | None:
    rtype = rubric.record_types_by_code.get(row.values["type"])
    raw = row.values["severity"]
    if rtype is not None and rtype.polarity == "positive":
        if raw:
            faults.append(
                row.fault(
                    "严重程度",
                    f"{rtype.code}是正面记录，不分严重程度：请将“严重程度”留空"
                    f"（回溯期 {rubric.look_back_days[POSITIVE_WINDOW]} 天，见 rubric.yaml 的 look_back_days）",
                )
            )
            return None
        return POSITIVE_WINDOW
    if raw not in SEVERITIES:
        faults.append(row.fault("严重程度", f"严重程度“{excerpt(raw)}”无效；允许：{'、'.join(SEVERITIES)}"))
        return None
    return raw


def _records(path: Path, ctx: _Context):
    rubric, faults = ctx.rubric, ctx.faults
    ids: dict[str, int] = {}
    documents: dict[tuple[int, str, dt.date], int] = {}
    for row in read_table(path, RECORD_COLUMNS):
        v = row.values
        n = _institution(row, ctx.roster, faults)
        ok = n is not None
        if not v["id"]:
            faults.append(row.fault("记录编号", "记录编号为空"))
            ok = False
        elif (first := _first_seen(ids, v["id"], row)) is not None:
            faults.append(row.fault("记录编号", f"记录编号“{excerpt(v['id'])}”与第 {first} 行重复：记录编号必须唯一"))
            ok = False
        if v["type"] not in rubric.record_types_by_code:
            faults.append(
                row.fault(
                    "记录类型", f"未知记录类型“{excerpt(v['type'])}”；允许：{'、'.join(rubric.record_types_by_code)}"
                )
            )
            ok = False
        severity = _severity(row, rubric, faults)
        ok = ok and severity is not None
        if not v["authority"]:
            faults.append(row.fault("发布机关", "发布机关为空"))
            ok = False
        try:
            date = parse_date(v["date"])
        except ValueError:
            faults.append(row.fault("日期", f"日期“{excerpt(v['date'])}”无效：{DATE_HINT}"))
            continue
        if date > ctx.as_of:
            faults.append(
                row.fault(
                    "日期",
                    f"日期 {date.isoformat()} 晚于数据集的评估基准日 {ctx.as_of.isoformat()}（dataset.yaml 的 as_of）："
                    "请核对日期，或调整评估基准日",
                )
            )
            ok = False
        if n is not None and v["ref"] and (first := _first_seen(documents, (n, _ref_key(v["ref"]), date), row)):
            faults.append(
                row.fault(
                    "文号",
                    f"与第 {first} 行是同一机构、同一文号、同一日期的同一份文书，不能以两个记录编号重复计分："
                    "请删去重复的一行（一份文书只登记一条记录）",
                )
            )
            ok = False
        if not ok:
            continue
        if not rubric.plausible_issuer(v["type"], v["authority"]):
            kind = rubric.issuer_kind(v["authority"]) or "未识别"
            usual = "、".join(rubric.record_types_by_code[v["type"]].issuers or ())
            ctx.warnings.append(
                row.fault(
                    "发布机关",
                    f"“{excerpt(v['authority'])}”（{kind}）通常不发布“{v['type']}”类记录（通常由{usual}发布）："
                    "请核对记录类型与发布机关",
                )
            )
        yield (
            n,
            CreditRecord(
                v["id"],
                n,
                v["type"],
                v["authority"],
                classify_authority(v["authority"], rubric),
                date,
                severity,
                v["ref"],
                v["summary"],
                v["source"],
            ),
        )


def _materials(path: Path, ctx: _Context):
    faults = ctx.faults
    seen: dict[tuple[int, int], int] = {}
    for row in read_table(path, MATERIAL_COLUMNS):
        v = row.values
        n = _institution(row, ctx.roster, faults)
        try:
            item = int(v["item"])
            if not 1 <= item <= ctx.checklist.count:
                raise ValueError
        except ValueError:
            faults.append(row.fault("材料序号", f"材料序号“{excerpt(v['item'])}”无效，应为 1–{ctx.checklist.count}"))
            continue
        if v["provided"] not in YES | NO:
            faults.append(row.fault("是否提供", f"“{excerpt(v['provided'])}”无效，应为 是 或 否"))
            continue
        if n is None:
            continue
        if (first := _first_seen(seen, (n, item), row)) is not None:
            faults.append(row.fault("材料序号", f"机构 {n} 的材料 {item} 与第 {first} 行重复"))
            continue
        yield n, Material(item, v["provided"] in YES, v.get("note", ""))


def _personnel(path: Path, ctx: _Context):
    faults = ctx.faults
    seen: dict[tuple[int, int, str], int] = {}
    for row in read_table(path, PERSONNEL_COLUMNS):
        v = row.values
        n = _institution(row, ctx.roster, faults)
        try:
            table = int(v["table"])
            if table not in ctx.checklist.table_names:
                raise ValueError
        except ValueError:
            faults.append(row.fault("表号", f"表号“{excerpt(v['table'])}”无效，应为 1–{len(ctx.checklist.tables)}"))
            continue
        try:
            years = int(v["years"])
            if not 0 <= years <= 80:
                raise ValueError
        except ValueError:
            faults.append(row.fault("从业年限", f"从业年限“{excerpt(v['years'])}”应为 0–80 的整数"))
            continue
        if not v["name"]:
            faults.append(row.fault("姓名", "姓名为空"))
            continue
        if n is None:
            continue
        person = v.get("id_number") or v["name"]  # the ID number tells apart two people of one name
        if (first := _first_seen(seen, (n, table, person), row)) is not None:
            faults.append(
                row.fault(
                    "证件号码" if v.get("id_number") else "姓名",
                    f"机构 {n} 表{table}中此人与第 {first} 行重复：同一人在一张表中只列一行"
                    "（兼任多个岗位或多个职业（工种）的，在同一行“岗位”栏用“、”分隔）；"
                    "同名的不同人员请填写“证件号码”列",
                )
            )
            continue
        yield n, Person(table, v["role"], v["name"], v["qualification"], v.get("education", ""), years)


@dataclass
class _Context:
    """What every table's rows are checked against, and where their faults and warnings go."""

    rubric: Rubric
    roster: Mapping[int, Institution]
    checklist: Materials
    as_of: dt.date
    faults: list[Fault] = field(default_factory=list)
    warnings: list[Fault] = field(default_factory=list)


def dataset_identity(folder: Path) -> tuple[str, bool]:
    """A dataset folder's name and whether it is synthetic, without loading its records."""
    name, synthetic, _as_of, _description = _meta(folder / "dataset.yaml")
    return name, synthetic


def _meta(path: Path) -> tuple[str, bool, dt.date, str]:
    """name, synthetic, as_of and description of ``dataset.yaml``; anything else is a fault."""
    file = display_path(path)
    if not path.exists():
        raise InputError([Fault(file, "数据集缺少 dataset.yaml")])
    meta = load_yaml(path)
    if not isinstance(meta, dict):
        raise InputError([Fault(file, "dataset.yaml 应为键值对：name、as_of（YYYY-MM-DD）、synthetic、description")])
    faults = [
        Fault(file, f"未知的键“{excerpt(k)}”；允许：{'、'.join(DATASET_KEYS)}") for k in meta if k not in DATASET_KEYS
    ]
    name = meta.get("name")
    if not isinstance(name, str) or not name.strip():
        faults.append(Fault(file, "name（数据集名称）必须填写为文字"))
    synthetic = meta.get("synthetic", False)
    if not isinstance(synthetic, bool):
        faults.append(Fault(file, "synthetic 应为 true 或 false"))
    raw = meta.get("as_of")
    as_of = raw if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime) else None
    if as_of is None:
        try:
            as_of = parse_date(raw) if isinstance(raw, str) else None
        except ValueError:
            as_of = None
    if as_of is None:
        faults.append(Fault(file, f"as_of（评估基准日）“{excerpt(raw if raw is not None else '')}”无效：{DATE_HINT}"))
    description = meta.get("description", "")
    if not isinstance(description, str):
        faults.append(Fault(file, "description 应为文字"))
    if faults or as_of is None:
        raise InputError(faults)
    return str(name), bool(synthetic), as_of, str(description)


def load_dataset(
    folder: Path | str, rubric: Rubric, roster: Mapping[int, Institution], checklist: Materials
) -> Dataset:
    """Load and validate a whole dataset folder against the 附件3 checklist; raises InputError listing every fault."""
    folder = Path(folder)
    name, synthetic, as_of, description = _meta(folder / "dataset.yaml")
    ctx = _Context(rubric, roster, checklist, as_of)
    parsers = {"records": _records, "materials": _materials, "personnel": _personnel}
    grouped: dict[str, dict[int, list]] = {stem: defaultdict(list) for stem in TABLE_STEMS}
    for stem in TABLE_STEMS:
        path = _find(folder, stem, ctx.faults)
        if path is None:
            continue
        try:
            for n, obj in parsers[stem](path, ctx):
                grouped[stem][n].append(obj)
        except InputError as exc:
            ctx.faults.extend(exc.faults)
    if ctx.faults:
        raise InputError(ctx.faults)
    evidence = {
        n: Evidence(
            tuple(sorted(grouped["records"].get(n, []), key=lambda r: (r.date, r.id))),
            tuple(sorted(grouped["materials"].get(n, []), key=lambda m: m.item)),
            tuple(grouped["personnel"].get(n, [])),
        )
        for n in roster
    }
    return Dataset(name, folder, synthetic, as_of, description, evidence, tuple(ctx.warnings))
