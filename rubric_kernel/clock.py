"""The dates the tool records: the real clock in Beijing time, never a date the caller makes up.

An act (a commitment letter received, an objection lodged, a result announced) is dated today.
A past date is accepted only as an explicit late record of an act that happened then, with the
reason it is entered late, and is shown as such; a future date is always refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

BEIJING = dt.timezone(dt.timedelta(hours=8), "北京时间")


def now() -> dt.datetime:
    return dt.datetime.now(BEIJING)


def today() -> dt.date:
    return now().date()


class DateRefused(ValueError):
    """The message is the one Chinese line to show."""


@dataclass(frozen=True)
class ActDate:
    """The date an act is recorded with; ``late`` is the reason it is entered after the fact ("" if not)."""

    date: dt.date
    late: str = ""

    def payload(self) -> dict[str, str]:
        return {"date": self.date.isoformat(), **({"late": self.late} if self.late else {})}

    @property
    def shown(self) -> str:
        return f"{self.date.isoformat()}（补录：{self.late}）" if self.late else self.date.isoformat()


def act_date(date: dt.date | None, late: str = "", *, what: str, on: dt.date | None = None) -> ActDate:
    """Today's date, or a past one entered as a late record with its reason; a future date is refused.

    ``on`` is today's date as the clock says (given by tests; never taken from a user).
    """
    on = on or today()
    date = date or on
    if date > on:
        raise DateRefused(f"{what}日期 {date.isoformat()} 晚于今天（北京时间 {on.isoformat()}），不能登记未来的日期")
    if date < on and not late.strip():
        raise DateRefused(
            f"{what}日期 {date.isoformat()} 早于今天（北京时间 {on.isoformat()}）：补录过去发生的事项须用 --late 写明补录理由"
        )
    return ActDate(date, late.strip() if date < on else "")
