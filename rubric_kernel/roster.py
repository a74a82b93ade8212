"""The 75 institutions of the pilot (seed 附件1), loaded from ``parameters/institutions.csv``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import Fault, InputError, excerpt
from .tabular import Column, read_table

CLASSES = ("院校", "社评机构", "专项机构")
TYPES = ("认定机构", "专项机构", "统考专项")

COLUMNS = (
    Column("number", ("序号", "number")),
    Column("name", ("评价机构", "name")),
    Column("address", ("地址", "address")),
    Column("types", ("机构类型", "types")),
    Column("class", ("类别", "class")),
    Column("credit_code", ("统一社会信用代码", "credit_code"), required=False),
)


@dataclass(frozen=True, slots=True)
class Institution:
    number: int
    name: str
    address: str
    types: tuple[str, ...]
    klass: str
    credit_code: str = ""  # 统一社会信用代码, where known (the seed gives none)

    @property
    def code(self) -> str:
        """Zero-padded number, used in file names so they sort."""
        return f"{self.number:02d}"


def load_roster(path: Path | str) -> dict[int, Institution]:
    rows = read_table(path, COLUMNS)
    faults: list[Fault] = []
    roster: dict[int, Institution] = {}
    for row in rows:
        v = row.values
        try:
            number = int(v["number"])
        except ValueError:
            faults.append(row.fault("序号", f"序号“{excerpt(v['number'])}”不是整数"))
            continue
        if number in roster:
            faults.append(row.fault("序号", f"序号 {number} 重复"))
        types = tuple(t for t in v["types"].replace("/", "、").split("、") if t)
        bad = [t for t in types if t not in TYPES]
        if not types or bad:
            faults.append(row.fault("机构类型", f"机构类型“{excerpt(v['types'])}”无效；允许：{'、'.join(TYPES)}"))
        if v["class"] not in CLASSES:
            faults.append(row.fault("类别", f"类别“{excerpt(v['class'])}”无效；允许：{'、'.join(CLASSES)}"))
        if not v["name"]:
            faults.append(row.fault("评价机构", "机构名称为空"))
        roster[number] = Institution(number, v["name"], v["address"], types, v["class"], v.get("credit_code", ""))
    if faults:
        raise InputError(faults)
    return dict(sorted(roster.items()))
