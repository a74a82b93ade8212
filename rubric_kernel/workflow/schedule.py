"""Planning the on-site visits (评估准备): inside the assessment window, on China's working days, within
the groups' capacity, and never earlier than the notice period (实地评估前5日通知) after notification. Pure.

Working days come from the maintained ``chinese-calendar`` package (public holidays and the adjusted
working weekends the State Council publishes each year), not from the weekday alone: a plan made on
weekdays put two institutions on the 2023 端午节 holiday. The notice period counts calendar days, as the
seed writes 前5日 (not 5个工作日); the notification day itself must be a working day. A date in a year the
calendar does not know is refused rather than guessed.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import chinese_calendar


@dataclass(frozen=True)
class Visit:
    institution: int
    date: dt.date
    group: int
    notified: dt.date


class PlanError(ValueError):
    """The plan cannot be made as asked; the message says why (Chinese)."""


def known_years() -> tuple[int, int]:
    """First and last year the installed holiday calendar covers."""
    years = {d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays}
    return min(years), max(years)


def check_known(*days: dt.date) -> None:
    """Refuse a date the calendar cannot tell a working day from a holiday for."""
    first, last = known_years()
    unknown = sorted({d for d in days if not first <= d.year <= last})
    if unknown:
        raise PlanError(
            f"节假日日历只覆盖 {first}–{last} 年，无法判断 {'、'.join(d.isoformat() for d in unknown)} "
            "是否为工作日（请升级 chinese-calendar 或改用日历覆盖的日期）"
        )


def day_off(day: dt.date) -> str:
    """Why ``day`` is not a working day ("" when it is); an adjusted working weekend is a working day."""
    check_known(day)
    off, name = chinese_calendar.get_holiday_detail(day)
    if not off:
        return ""
    if name is None:
        return "是周末"
    return f"是法定节假日（{chinese_calendar.Holiday(name).chinese}）"


def working_days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    check_known(start, end)
    day = start
    while day <= end:
        if chinese_calendar.is_workday(day):
            yield day
        day += dt.timedelta(days=1)


def check_manual(day: dt.date, notified: dt.date, start: dt.date, end: dt.date, *, notice: int) -> list[str]:
    """Every rule a chosen visit date breaks: window, working day, notice period (calendar days)."""
    problems = []
    if not start <= day <= end:
        problems.append(f"{day.isoformat()} 不在评估期 {start.isoformat()} 至 {end.isoformat()} 内")
    if reason := day_off(day):
        problems.append(f"{day.isoformat()} {reason}")
    if (day - notified).days < notice:
        problems.append(
            f"{day.isoformat()} 距通知日 {notified.isoformat()} 不足 {notice} 天（实地评估前{notice}日通知）"
        )
    return problems


def plan_visits(
    institutions: Sequence[int],
    *,
    start: dt.date,
    end: dt.date,
    groups: int,
    per_day: int,
    notify_on: dt.date,
    notice: int,
    fixed: Mapping[int, dt.date] | None = None,
) -> list[Visit]:
    """Earliest feasible working day for each institution, groups filled in turn.

    Fixed dates are honoured when legal (and count against that day's capacity); an infeasible
    request raises PlanError naming what is missing.
    """
    if groups < 1 or per_day < 1:
        raise PlanError("评估小组数与每组每日评估家数都必须至少为 1")
    if end < start:
        raise PlanError("评估期结束日早于开始日")
    fixed = dict(fixed or {})
    check_known(start, end, notify_on, *fixed.values())
    if reason := day_off(notify_on):
        raise PlanError(f"通知日 {notify_on.isoformat()} {reason}，请选择工作日发出通知")
    problems = []
    for n, day in fixed.items():
        problems += [f"机构 {n}：{p}" for p in check_manual(day, notify_on, start, end, notice=notice)]
    if problems:
        raise PlanError("；".join(problems))
    capacity = groups * per_day
    used: Counter[dt.date] = Counter()
    visits: dict[int, Visit] = {}
    for n, day in fixed.items():
        if used[day] >= capacity:
            raise PlanError(f"{day.isoformat()} 指定的机构超过当日容量 {capacity} 家")
        visits[n] = Visit(n, day, used[day] % groups + 1, notify_on)
        used[day] += 1
    first = max(start, notify_on + dt.timedelta(days=notice))
    days = working_days(first, end)
    day = next(days, None)
    for n in institutions:
        if n in visits:
            continue
        while day is not None and used[day] >= capacity:
            day = next(days, None)
        if day is None:
            left = len(institutions) - len(visits)
            raise PlanError(f"评估期内容量不足：还有 {left} 家无法安排，请增加评估小组、每日家数或延长评估期")
        visits[n] = Visit(n, day, used[day] % groups + 1, notify_on)
        used[day] += 1
    return [visits[n] for n in institutions]
