"""One assessment programme (``parameters/programme.yaml``) and its 附件3 checklist (``materials.yaml``) as
validated data.

The dates, periods, bodies and channels the seed notice fixes are cited with their ``source``; what the
seed leaves open is marked ``default: true`` so every document that shows it can say 本项目默认值.
Command-line overrides are checked against the same ``LIMITS`` the file is, before anything is written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from .bundled import MATERIALS_PATH, PROGRAMME_PATH
from .errors import Fault, InputError, display_path
from .yamlsafe import load_yaml

DEFAULT_MARK = "本项目默认值"
LIMITS: dict[str, tuple[int, int]] = {  # sane bounds of every count the file or an override may set
    "notice_days": (1, 30),
    "groups": (1, 20),
    "per_day": (1, 10),
    "publicity_days": (1, 60),
    "validity_years": (1, 10),
}
NAMES_ZH = {
    "notice_days": "通知提前天数",
    "groups": "评估小组数",
    "per_day": "每组每日评估家数",
    "publicity_days": "公示天数",
    "validity_years": "结果有效期（年）",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Setting(_Strict):
    """A value with where it comes from: the seed (``source``) or this project (``default: true``).

    Each kind of value is a subclass naming its type (``TextSetting``, ``NoticeDays``...), not a generic
    ``Setting[T]``: pydantic builds a parametrised generic's schema as soon as it is named, which put
    0.1 s of schema building into importing this module, i.e. into every command."""

    value: Any
    default: bool = False
    source: str = ""
    note: str = ""

    @model_validator(mode="after")
    def _marked(self) -> Setting:
        if self.default == bool(self.source):
            raise ValueError("须二选一：种子规定的值写明 source（出处），种子未规定的值标 default: true")
        return self

    def shown(self, unit: str = "") -> str:
        """The value as a document prints it, flagged when it is the project's own default."""
        text = f"{self.value.isoformat() if isinstance(self.value, dt.date) else self.value}{unit}"
        return f"{text}（{DEFAULT_MARK}）" if self.default else text

    def overridden(self, value: Any, option: str) -> Setting:
        """This setting, or the value given on the command line in its place (no longer a default)."""
        if value is None:
            return self
        return self.model_copy(update={"value": value, "default": False, "source": f"命令行 {option}", "note": ""})


class TextSetting(Setting):
    value: str


class DateSetting(Setting):
    value: dt.date


class Window(_Strict):
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end < self.start:
            raise ValueError(f"评估期结束日 {self.end} 早于开始日 {self.start}")
        return self


class WindowSetting(Setting):
    value: Window


def _count(cls_name: str, limit: str) -> type[Setting]:
    """The setting of one bounded count (``LIMITS``), bound below to its own name (so it pickles)."""
    low, high = LIMITS[limit]
    return create_model(
        cls_name, __base__=Setting, __module__=__name__, value=(Annotated[int, Field(ge=low, le=high)], ...)
    )


NoticeDays = _count("NoticeDays", "notice_days")
Groups = _count("Groups", "groups")
PerDay = _count("PerDay", "per_day")
PublicityDays = _count("PublicityDays", "publicity_days")
ValidityYears = _count("ValidityYears", "validity_years")


class Objection(_Strict):
    recipient: TextSetting
    phone: TextSetting
    address: TextSetting
    email: TextSetting


class Roles(_Strict):
    expert: TextSetting
    organiser: TextSetting
    centre: TextSetting
    leader: TextSetting
    admin: TextSetting


class Programme(_Strict):
    title: TextSetting
    document_number: TextSetting
    issuer: TextSetting
    organiser: TextSetting
    window: WindowSetting
    notice_days: NoticeDays
    notification_date: DateSetting
    groups: Groups
    per_day: PerDay
    publicity_days: PublicityDays
    validity_years: ValidityYears
    publication_site: TextSetting
    objection: Objection
    report_number: TextSetting
    roles: Roles

    @field_validator("report_number")
    @classmethod
    def _numbering(cls, pattern: TextSetting) -> TextSetting:
        try:
            pattern.value.format(year=2023, number=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"报告编号格式“{pattern.value}”无效（只可使用 {{year}} 与 {{number}}）：{exc}") from None
        return pattern

    def report_no(self, institution: int) -> str:
        """The report number of one institution in this programme's year."""
        return self.report_number.value.format(year=self.window.value.start.year, number=institution)

    def objection_text(self) -> str:
        """Where and how an objection is lodged (公示 documents), each channel flagged when a default."""
        o = self.objection
        return (
            f"如有异议，请在公示期内向{o.recipient.shown()}提出异议申请并提供实质性依据。"
            f"联系电话：{o.phone.shown()}；通信地址：{o.address.shown()}；电子邮箱：{o.email.shown()}。"
        )


class MaterialItem(_Strict):
    number: int = Field(ge=1)
    text: str = Field(min_length=1)


class PersonnelTable(_Strict):
    number: int = Field(ge=1)
    name: str = Field(min_length=1)
    columns: list[str] = Field(min_length=1)
    roles: list[str] = Field(default_factory=list)


class Materials(_Strict):
    """附件3: the materials an institution prepares and the personnel tables it fills in."""

    title: str
    items: list[MaterialItem] = Field(min_length=1)
    tables: list[PersonnelTable] = Field(min_length=1)

    @field_validator("items", "tables")
    @classmethod
    def _consecutive(cls, entries: list, info: ValidationInfo) -> list:
        numbers = [e.number for e in entries]
        if numbers != list(range(1, len(numbers) + 1)):
            what = "材料" if info.field_name == "items" else "人员统计表"
            raise ValueError(f"{what}须从 1 起连续编号，实际为 {numbers}")
        return entries

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def table_names(self) -> dict[int, str]:
        return {t.number: t.name for t in self.tables}


M = TypeVar("M", bound=BaseModel)

_MESSAGES_ZH = {
    "missing": "缺少此项",
    "extra_forbidden": "不认识的字段",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "string_type": "应为文本",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "list_type": "应为列表",
    "model_type": "应为键值映射",
    "dict_type": "应为键值映射",
    "too_short": "不能为空",
    "string_too_short": "不能为空",
}


def _message(err: dict) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"日期“{err.get('input')}”无效，应为 YYYY-MM-DD"
    if kind == "greater_than_equal":
        return f"{err.get('input')} 过小，应不小于 {ctx['ge']}"
    if kind == "less_than_equal":
        return f"{err.get('input')} 过大，应不大于 {ctx['le']}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return _MESSAGES_ZH.get(kind, err["msg"])


def _field(loc: tuple) -> str:
    """The YAML path of a fault, without pydantic's internal steps of a generic or function type."""
    return ".".join(str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))


def _load(path: Path | str, model: type[M]) -> M:
    file = display_path(path)
    data = load_yaml(path)  # strict: no aliases, no duplicate keys, faults name the line
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(
            [Fault(file, _message(e), column=_field(e["loc"]) or None) for e in exc.errors(include_url=False)]
        ) from None


def load_programme(path: Path | str = PROGRAMME_PATH) -> Programme:
    """Load and validate a programme file; raises InputError naming file and field of every fault."""
    return _load(path, Programme)


def load_materials(path: Path | str = MATERIALS_PATH) -> Materials:
    """Load and validate the 附件3 checklist; raises InputError naming file and field of every fault."""
    return _load(path, Materials)


def check_limit(name: str, value: int, option: str) -> list[Fault]:
    """A command-line override out of its sane range, as a fault naming the option (empty: accepted)."""
    low, high = LIMITS[name]
    if low <= value <= high:
        return []
    return [Fault(option, f"{NAMES_ZH[name]} {value} 超出允许范围 {low}–{high}")]
