"""Planning the on-site visits (评估准备): inside the assessment window, on working days, within the
groups' capacity, and never earlier than the notice period (实地评估前5日通知) after notification. Pure.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

NOTICE_DAYS = 5
WINDOW = (dt.date(2023, 5, 8), dt.date(2023, 8, 31))


@dataclass(frozen=True)
class Visit:
    institution: int
    date: dt.date
    group: int
    notified: dt.date


class PlanError(ValueError):
    """The plan cannot be made as asked; the message says why (Chinese)."""


def working_days(start: dt.date, end: dt.date):
    day = start
    while day <= end:
        if day.weekday() < 5:
            yield day
        day += dt.timedelta(days=1)


def check_manual(day: dt.date, notified: dt.date, start: dt.date, end: dt.date, notice: int = NOTICE_DAYS) -> list[str]:
    problems = []
    if not start <= day <= end:
        problems.append(f"{day.isoformat()} 不在评估期 {start.isoformat()} 至 {end.isoformat()} 内")
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
    fixed: Mapping[int, dt.date] | None = None,
    notice: int = NOTICE_DAYS,
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
    problems = []
    for n, day in fixed.items():
        problems += [f"机构 {n}：{p}" for p in check_manual(day, notify_on, start, end, notice)]
        if day.weekday() >= 5:
            problems.append(f"机构 {n}：{day.isoformat()} 是周末")
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
    days = iter(working_days(first, end))
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
