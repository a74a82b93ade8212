"""The judgments file (YAML or JSON): one institution's on-site judgments, as experts exchange them.

A file is a header (institution, expert, date) and a sheet. Parsing validates straight into the sheet
model (``sheet.Sheet``, whose fields carry the strict forms of ``sheet_fields``): scalars are read as
the text typed (``textdoc``), identifiers in their one canonical form, numbers as plain decimals,
dates as real days not after today, and unknown keys are faults. The semantic check against the
rubric and records (known ids, points within the indicator's maximum) is ``sheet.check_sheet``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import TypeAdapter, ValidationError

from .errors import Fault, InputError, display_path
from .sheet import STRICT, Sheet
from .sheet_fields import INTEGER, Day, InstitutionNumber, Name
from .textdoc import Document, load_document

if TYPE_CHECKING:
    import yaml

HEADER = ("institution", "expert", "date")


@dataclass(frozen=True, slots=True)
class JudgmentsFile:
    """Who judged which institution on which day, and the sheet they filled in."""

    institution: InstitutionNumber
    expert: Name
    date: Day
    sheet: Sheet = field(default_factory=Sheet)
    __pydantic_config__ = STRICT


@cache
def _adapter(kind: type) -> TypeAdapter:
    """The validator of ``kind``, built on first use: a command that reads and writes no judgments
    file (``score`` with its inputs cached) does not pay for building it."""
    return TypeAdapter(kind)


def beijing_today() -> dt.date:
    """Today where the assessment happens, whatever the server's time zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone: dt.tzinfo = ZoneInfo("Asia/Shanghai")
    except ZoneInfoNotFoundError:  # no time-zone database: fixed UTC+8, which Beijing time is
        zone = dt.timezone(dt.timedelta(hours=8))
    return dt.datetime.now(zone).date()


def read_judgments(path: Path | str, today: dt.date | None = None) -> JudgmentsFile:
    """Parse and validate one file; every fault names the file, the line and the field."""
    path = Path(path)
    file = display_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Fault(file, f"无法读取（需 UTF-8 编码）：{exc}")]) from None
    doc = load_document(text, file, json_syntax=path.suffix.lower() == ".json")
    data = doc.data
    if not isinstance(data, dict):
        raise InputError([Fault(file, "应为键值对（机构序号、专家、日期与各项评分）", row=doc.line(()))])
    nested = {**{k: data[k] for k in HEADER if k in data}, "sheet": {k: v for k, v in data.items() if k not in HEADER}}
    try:
        jf = _adapter(JudgmentsFile).validate_python(nested)
    except ValidationError as exc:
        raise InputError([_fault(err, doc, file) for err in exc.errors()]) from None
    today = today or beijing_today()
    if jf.date > today:
        raise InputError(
            [
                Fault(
                    file,
                    f"date：评分日期 {jf.date.isoformat()} 晚于今天（北京时间 {today.isoformat()}），不能预先记录评分",
                    row=doc.line(("date",)),
                )
            ]
        )
    return jf


ERRORS_ZH = {
    "missing": "缺少此项",
    "missing_argument": "缺少此项",
    "unexpected_keyword_argument": "未知的键（请检查拼写）",
    "dataclass_type": "应为键值对",
    "dataclass_args_type": "应为键值对",
    "dict_type": "应为键值对",
    "list_type": "应为列表",
    "literal_error": "应为 raised、confirmed 或 rejected 之一",
}


def _fault(err: dict, doc: Document, file: str) -> Fault:
    loc = err["loc"][1:] if err["loc"][:1] == ("sheet",) else err["loc"]  # the file is flat
    field = ".".join(str(p) for p in loc if p != "[key]")
    message = err["msg"] if err["type"] == "rk_value" else ERRORS_ZH.get(err["type"], f"取值无效（{err['msg']}）")
    indicator = None
    if len(loc) > 1 and loc[0] in ("indicators", "adjustments") and INTEGER.fullmatch(str(loc[1])):
        indicator = int(str(loc[1]))
    return Fault(file, f"{field}：{message}" if field else message, row=doc.line(loc), indicator=indicator)


@cache
def _dumper() -> type[yaml.SafeDumper]:
    """Numbers as plain decimals (``0.00001``, never ``1.0e-05``), the only form ``read_judgments`` accepts;
    built on first use (``yamlsafe.strict_loader`` says why)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def plain_float(dumper: yaml.SafeDumper, value: float) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:float", f"{Decimal(repr(value)):f}")

    Dumper.add_representer(float, plain_float)
    return Dumper


def write_judgments(jf: JudgmentsFile, path: Path | str) -> None:
    data = {"institution": jf.institution, "expert": jf.expert, "date": jf.date.isoformat()}
    data.update(_adapter(Sheet).dump_python(jf.sheet, mode="json", exclude_defaults=True))
    data["indicators"] = {n: (v or None) for n, v in data.get("indicators", {}).items()}
    import yaml

    text = yaml.dump(data, Dumper=_dumper(), allow_unicode=True, sort_keys=False)
    Path(path).write_text(text, encoding="utf-8")
