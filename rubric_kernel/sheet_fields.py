"""The strict forms a judgments file may write each value in, as pydantic-annotated types.

A file can never put a judgment in the wrong place: scalars are read as the text typed (``textdoc``),
identifiers must be written in their one canonical form (``13``, not ``013``, ``13.0`` or ``true``),
numbers are plain decimals within absolute bounds and dates are real ``YYYY-MM-DD`` days. The sheet
model (``sheet.py``) carries these types, so the file parser validates straight into it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, NoReturn

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from .textdoc import MAX_NUMBER_CHARS

INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_ID_CHARS = 64
MAX_INTEGER_DIGITS = 9  # identifiers and counts; the rubric's own bounds are far smaller
MAX_MAGNITUDE = 1e9  # points beyond this are absurd before any rubric is consulted
YAML_BOOLEANS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off"})


def _fail(message: str) -> NoReturn:
    raise PydanticCustomError("rk_value", "{message}", {"message": message})


def _number_text(value: object, what: str, hint: str) -> str:
    """The text of a value meant as a number; a boolean (or a YAML 1.1 boolean word) is refused."""
    if isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in YAML_BOOLEANS):
        word = str(value).lower() if isinstance(value, bool) else value
        _fail(f"{what}不能写作 {word}（YAML 会把它读作是/否）；{hint}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            _fail(f"{what}必须是有限数，不能是 {value}")
        return repr(value)
    if isinstance(value, str):
        return value
    _fail(f"{what}应为数字，而不是{_kind(value)}")


def _suggestion(text: str, integer: bool) -> str:
    """How to write what was probably meant: 013 -> 13, +2 -> 2, .5 -> 0.5, 1_000 -> 1000."""
    if re.fullmatch(r"[-+]?\.?(?:nan|inf|infinity)", text.strip(), re.IGNORECASE):
        return "不能是 NaN 或无穷大"
    try:
        d = Decimal(text.strip().replace("_", ""))
    except InvalidOperation:
        return "请写十进制数字，例如 13" if integer else "请写十进制数字，例如 2 或 1.5"
    if not d.is_finite() or abs(d) > Decimal(MAX_MAGNITUDE):
        return "数值过大或不是有限数"
    if integer and d != d.to_integral_value():
        return "必须是整数"
    plain = f"{d.normalize():f}" if d != d.to_integral_value() else str(int(d))
    return f"请写作 {plain}"


def _integer(value: object, what: str, hint: str = "请写数字，例如 13") -> int:
    text = _number_text(value, what, hint)
    if INTEGER.fullmatch(text) and len(text.lstrip("-")) <= MAX_INTEGER_DIGITS:
        return int(text)
    shown = text if len(text) <= MAX_NUMBER_CHARS else text[:12] + "…"
    octal = "（以 0 开头的数字在 YAML 中会被读作八进制）" if re.fullmatch(r"0[0-9]+", text.strip()) else ""
    _fail(f"{what} {shown} 写法不规范{octal}；{_suggestion(text, integer=True)}")


def _decimal(value: object, what: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # JSON numbers
        number = float(value)
        if not math.isfinite(number) or abs(number) > MAX_MAGNITUDE:
            _fail(f"{what} {value} 不是合理的数值")
        return number
    text = _number_text(value, what, "请写数字，例如 2 或 1.5")
    if DECIMAL.fullmatch(text) and len(text) <= MAX_NUMBER_CHARS:
        number = float(text)
        if abs(number) <= MAX_MAGNITUDE:
            return number
    shown = text if len(text) <= MAX_NUMBER_CHARS else text[:12] + "…"
    _fail(f"{what} {shown} 写法不规范；{_suggestion(text, integer=False)}")


def _identifier(value: object) -> str:
    """Item, record, bonus and clause ids: text compared exactly with the rubric and the records."""
    if not isinstance(value, str):
        _fail(f"编号应为文字，而不是{_kind(value)}")
    if not value or value != value.strip() or len(value) > MAX_ID_CHARS or not value.isprintable():
        _fail(f"编号 {value[:MAX_ID_CHARS]!r} 写法不规范（不能为空、不能含首尾空格或控制字符）")
    return value


def _text(value: object) -> str:
    """Free text; an empty YAML value is empty text. A JSON number where text belongs is refused."""
    if value is None:
        return ""
    if not isinstance(value, str):
        _fail(f"应为文字，而不是{_kind(value)}（请加引号）")
    return value


def _name(value: object) -> str:
    text = _text(value)
    if not text.strip():
        _fail("不能为空")
    return text


def _date(value: object) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value.strip()):
        _fail(f"日期 {value!s:.40} 应写作 YYYY-MM-DD，例如 2023-06-12")
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        _fail(f"日期 {value.strip()} 不存在")


def _kind(value: object) -> str:
    kinds = {dict: "键值对", list: "列表", str: "文字", type(None): "空值", bool: "是/否"}
    return kinds.get(type(value), "数字")


def judged(value: object) -> object:
    """``4:`` or ``4: {}``: the indicator is judged with no deduction."""
    return {} if value is None else value


InstitutionNumber = Annotated[int, BeforeValidator(lambda v: _integer(v, "机构序号"))]
IndicatorNumber = Annotated[int, BeforeValidator(lambda v: _integer(v, "指标编号"))]
Count = Annotated[int, BeforeValidator(lambda v: _integer(v, "次数", "勾选一次请写 1，不勾选请删除该行"))]
Points = Annotated[float, BeforeValidator(lambda v: _decimal(v, "分值"))]
Identifier = Annotated[str, BeforeValidator(_identifier)]
Text = Annotated[str, BeforeValidator(_text)]
Name = Annotated[str, BeforeValidator(_name)]
Day = Annotated[dt.date, BeforeValidator(_date)]
