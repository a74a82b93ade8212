"""Planning the on-site visits (评估准备): window, working days, capacity, the 5-day notice, manual dates.

Working days are China's, with public holidays and adjusted working weekends: the oracle here is
``chinese_calendar.is_workday`` itself. The notice period counts calendar days (the seed's 前5日).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from collections import Counter

import chinese_calendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rubric_kernel.cli import main
from rubric_kernel.programme import load_programme
from rubric_kernel.store import Store
from rubric_kernel.workflow.schedule import PlanError, check_manual, plan_visits, working_days
from rubric_kernel.workspace import load_workspace

D = dt.date
ALL = list(range(1, 76))
PROGRAMME = load_programme()
NOTICE_DAYS = PROGRAMME.notice_days.value
WINDOW = (PROGRAMME.window.value.start, PROGRAMME.window.value.end)
DRAGON_BOAT_2023 = (D(2023, 6, 22), D(2023, 6, 23), D(2023, 6, 24))  # 端午节 holiday, Thursday to Saturday
ADJUSTED_WORKDAYS_2023 = (D(2023, 4, 23), D(2023, 5, 6), D(2023, 6, 25), D(2023, 10, 7), D(2023, 10, 8))


def workdays(start: dt.date, end: dt.date) -> list[dt.date]:
    """Independent of the code under test: every day the holiday calendar calls a working day."""
    days = (start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return [d for d in days if chinese_calendar.is_workday(d)]


def plan(institutions, **kwargs):
    return plan_visits(institutions, notice=NOTICE_DAYS, **kwargs)


def check_plan(visits, institutions, *, start, end, groups, per_day, notify_on, notice=NOTICE_DAYS):
    assert [v.institution for v in visits] == list(institutions)
    per_day_count = Counter(v.date for v in visits)
    assert chinese_calendar.is_workday(notify_on)
    for v in visits:
        assert start <= v.date <= end
        assert chinese_calendar.is_workday(v.date)
        assert v.notified == notify_on
        assert (v.date - notify_on).days >= notice
        assert 1 <= v.group <= groups
    assert all(c <= groups * per_day for c in per_day_count.values())
    return per_day_count


def test_default_window_plan_for_the_whole_roster():
    notify = D(2023, 5, 4)
    visits = plan(ALL, start=WINDOW[0], end=WINDOW[1], groups=3, per_day=1, notify_on=notify)
    used = check_plan(visits, ALL, start=WINDOW[0], end=WINDOW[1], groups=3, per_day=1, notify_on=notify)
    assert (D(2023, 5, 8), D(2023, 8, 31)) == WINDOW
    # one institution per group per day: on a full day the three groups are 1, 2, 3
    for day, count in used.items():
        assert sorted(v.group for v in visits if v.date == day) == list(range(1, count + 1))


def test_notice_of_five_days_when_notification_is_close_to_the_window():
    # notified Thursday 2023-05-04: Monday 05-08 is only 4 days later, so the first visit is Tuesday 05-09
    visits = plan([1, 2, 3, 4], start=WINDOW[0], end=WINDOW[1], groups=1, per_day=1, notify_on=D(2023, 5, 4))
    assert NOTICE_DAYS == 5
    assert [v.date for v in visits] == [D(2023, 5, 9), D(2023, 5, 10), D(2023, 5, 11), D(2023, 5, 12)]
    # notified well before: the window's first day is used
    early = plan([1], start=WINDOW[0], end=WINDOW[1], groups=1, per_day=1, notify_on=D(2023, 4, 20))
    assert early[0].date == WINDOW[0]


def test_weekends_are_skipped():
    # Friday 2023-05-12 start, one visit a day
    visits = plan([1, 2, 3], start=D(2023, 5, 12), end=D(2023, 5, 31), groups=1, per_day=1, notify_on=D(2023, 4, 28))
    assert [v.date for v in visits] == [D(2023, 5, 12), D(2023, 5, 15), D(2023, 5, 16)]
    assert list(working_days(D(2023, 5, 12), D(2023, 5, 15))) == [D(2023, 5, 12), D(2023, 5, 15)]
    assert list(working_days(D(2023, 5, 13), D(2023, 5, 14))) == []


def test_capacity_is_groups_times_per_day():
    visits = plan(
        list(range(1, 10)), start=D(2023, 5, 8), end=D(2023, 5, 31), groups=2, per_day=2, notify_on=D(2023, 4, 28)
    )
    used = check_plan(
        visits,
        list(range(1, 10)),
        start=D(2023, 5, 8),
        end=D(2023, 5, 31),
        groups=2,
        per_day=2,
        notify_on=D(2023, 4, 28),
    )
    assert [used[d] for d in sorted(used)] == [4, 4, 1]
    first_day = [v.group for v in visits if v.date == D(2023, 5, 8)]
    assert sorted(first_day) == [1, 1, 2, 2]


def test_fixed_dates_are_honoured_and_count_against_capacity():
    fixed = {3: D(2023, 5, 8), 5: D(2023, 6, 1)}
    visits = plan(
        [1, 2, 3, 4, 5],
        start=D(2023, 5, 8),
        end=D(2023, 6, 30),
        groups=1,
        per_day=1,
        notify_on=D(2023, 4, 28),
        fixed=fixed,
    )
    by = {v.institution: v for v in visits}
    assert by[3].date == D(2023, 5, 8) and by[5].date == D(2023, 6, 1)
    # 05-08 is taken by the fixed visit: the others start on 05-09
    assert [by[n].date for n in (1, 2, 4)] == [D(2023, 5, 9), D(2023, 5, 10), D(2023, 5, 11)]
    check_plan(
        visits, [1, 2, 3, 4, 5], start=D(2023, 5, 8), end=D(2023, 6, 30), groups=1, per_day=1, notify_on=D(2023, 4, 28)
    )


@pytest.mark.parametrize(
    ("day", "notify", "reasons", "not_reasons"),
    [
        (D(2023, 5, 13), D(2023, 4, 28), ["周末"], ["不在评估期", "不足"]),  # Saturday inside the window
        (D(2023, 5, 5), D(2023, 4, 20), ["不在评估期"], ["周末", "不足"]),  # Friday before the window
        (D(2023, 9, 1), D(2023, 4, 28), ["不在评估期"], ["周末", "不足"]),  # after the window
        (D(2023, 5, 12), D(2023, 5, 10), ["不足 5 天", "实地评估前5日通知"], ["周末", "不在评估期"]),
        # Saturday 05-06 is an adjusted working day (劳动节调休): only the window and the notice are wrong
        (D(2023, 5, 6), D(2023, 5, 4), ["不在评估期", "不足 5 天"], ["周末", "节假日"]),
        (D(2023, 6, 22), D(2023, 5, 4), ["法定节假日（端午）"], ["周末", "不在评估期", "不足"]),
        (D(2023, 5, 1), D(2023, 4, 20), ["法定节假日（劳动节）", "不在评估期"], ["周末", "不足"]),
    ],
)
def test_a_manual_date_breaking_the_rules_is_refused(day, notify, reasons, not_reasons):
    with pytest.raises(PlanError) as exc:
        plan([1, 2], start=WINDOW[0], end=WINDOW[1], groups=2, per_day=1, notify_on=notify, fixed={2: day})
    message = str(exc.value)
    assert "机构 2" in message and day.isoformat() in message
    for r in reasons:
        assert r in message
    for r in not_reasons:
        assert r not in message


def test_check_manual_accepts_exactly_five_days_notice():
    assert check_manual(D(2023, 5, 15), D(2023, 5, 10), *WINDOW, notice=5) == []
    assert "不足 5 天" in check_manual(D(2023, 5, 15), D(2023, 5, 11), *WINDOW, notice=5)[0]  # 4 days: refused


def test_insufficient_capacity_is_refused_with_a_clear_message():
    # one week (5 working days), one group, one a day: 10 institutions leave 5 unplaced
    with pytest.raises(PlanError) as exc:
        plan(list(range(1, 11)), start=D(2023, 5, 8), end=D(2023, 5, 14), groups=1, per_day=1, notify_on=D(2023, 4, 28))
    assert "容量不足" in str(exc.value) and "还有 5 家" in str(exc.value)
    with pytest.raises(PlanError, match="超过当日容量 1 家"):
        plan(
            [1, 2],
            start=D(2023, 5, 8),
            end=D(2023, 5, 31),
            groups=1,
            per_day=1,
            notify_on=D(2023, 4, 28),
            fixed={1: D(2023, 5, 9), 2: D(2023, 5, 9)},
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"groups": 0, "per_day": 1}, "至少为 1"),
        ({"groups": 1, "per_day": 0}, "至少为 1"),
        ({"groups": 1, "per_day": 1, "end": D(2023, 5, 1)}, "结束日早于开始日"),
    ],
)
def test_impossible_parameters(kwargs, message):
    args = {"start": D(2023, 5, 8), "end": D(2023, 5, 31), "notify_on": D(2023, 4, 28), **kwargs}
    with pytest.raises(PlanError, match=message):
        plan([1], **args)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    groups=st.integers(1, 6),
    per_day=st.integers(1, 4),
    start=st.dates(D(2023, 1, 1), D(2025, 12, 31)),  # spans 春节, 端午, 国庆 and their adjusted weekends
    length=st.integers(0, 40),
    notify_offset=st.integers(-20, 25),
    notice=st.integers(1, 10),
    count=st.integers(0, 60),
    data=st.data(),
)
def test_plan_property(groups, per_day, start, length, notify_offset, notice, count, data):
    """Every visit on a working day per chinese_calendar, at least ``notice`` calendar days after a notification
    made on a working day, inside the window, within capacity; refused exactly when that is impossible."""
    end = start + dt.timedelta(days=length)
    notify = start + dt.timedelta(days=notify_offset)
    institutions = list(range(1, count + 1))
    available = workdays(max(start, notify + dt.timedelta(days=notice)), end)
    capacity = groups * per_day
    fixed = {}
    if available and institutions:
        chosen = data.draw(st.lists(st.sampled_from(institutions), unique=True, max_size=min(5, count)), label="fixed")
        fixed = {n: data.draw(st.sampled_from(available), label=f"day {n}") for n in chosen}
    notify_ok = chinese_calendar.is_workday(notify)
    overfull = any(c > capacity for c in Counter(fixed.values()).values())
    feasible = notify_ok and not overfull and len(available) * capacity >= count
    try:
        visits = plan_visits(
            institutions,
            start=start,
            end=end,
            groups=groups,
            per_day=per_day,
            notify_on=notify,
            notice=notice,
            fixed=fixed,
        )
    except PlanError as exc:
        assert not feasible, f"refused although {len(available)} days x {capacity} >= {count}: {exc}"
        expected = "通知日" if not notify_ok else "超过当日容量" if overfull else "容量不足"
        assert expected in str(exc)
        return
    assert feasible
    check_plan(
        visits, institutions, start=start, end=end, groups=groups, per_day=per_day, notify_on=notify, notice=notice
    )
    for n, day in fixed.items():
        assert next(v for v in visits if v.institution == n).date == day


def test_no_visit_on_the_dragon_boat_holiday_and_the_adjusted_sunday_is_used():
    """With one group the weekday-only plan put institutions 33 and 34 on 2023-06-22/23 (端午节)."""
    visits = plan(ALL, start=WINDOW[0], end=WINDOW[1], groups=1, per_day=1, notify_on=D(2023, 5, 4))
    check_plan(visits, ALL, start=WINDOW[0], end=WINDOW[1], groups=1, per_day=1, notify_on=D(2023, 5, 4))
    days = {v.date for v in visits}
    assert not days & set(DRAGON_BOAT_2023)
    assert D(2023, 6, 25) in days  # Sunday, an adjusted working day (端午节调休)
    assert list(working_days(D(2023, 6, 21), D(2023, 6, 26))) == [D(2023, 6, 21), D(2023, 6, 25), D(2023, 6, 26)]
    assert list(working_days(D(2023, 5, 5), D(2023, 5, 6))) == [D(2023, 5, 5), D(2023, 5, 6)]  # adjusted Saturday


def test_calendar_oracle_agrees_with_the_published_2023_arrangement():
    """The test oracle itself: the State Council's 2023 holidays and adjusted working days."""
    assert not any(chinese_calendar.is_workday(d) for d in DRAGON_BOAT_2023)
    assert all(chinese_calendar.is_workday(d) for d in ADJUSTED_WORKDAYS_2023)


def test_a_notification_on_a_holiday_is_refused():
    with pytest.raises(PlanError, match="通知日 2023-06-22 是法定节假日（端午）"):
        plan([1], start=D(2023, 7, 3), end=D(2023, 7, 31), groups=1, per_day=1, notify_on=D(2023, 6, 22))


@pytest.mark.parametrize(
    ("start", "end", "notify", "fixed"),
    [
        (D(2099, 5, 4), D(2099, 6, 30), D(2099, 4, 27), {}),
        (D(2023, 5, 8), D(2023, 8, 31), D(2003, 4, 1), {}),  # a notification before the calendar's first year
        (D(2023, 5, 8), D(2023, 8, 31), D(2023, 5, 4), {1: D(2099, 5, 5)}),
    ],
)
def test_a_date_beyond_the_calendar_is_refused(start, end, notify, fixed):
    with pytest.raises(PlanError, match=r"节假日日历只覆盖 \d{4}–\d{4} 年，无法判断 .* 是否为工作日"):
        plan([1], start=start, end=end, groups=1, per_day=1, notify_on=notify, fixed=fixed)


# --- the command line ----------------------------------------------------------------------------


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("day", "reasons"),
    [
        ("2023-05-06", ["不足 5 天", "不在评估期"]),  # an adjusted working Saturday, 2 days after the notice
        ("2023-05-08", ["不足 5 天"]),  # Monday in the window, but only 4 days after the notice
        ("2023-06-23", ["法定节假日（端午）"]),  # a Friday of the 端午节 holiday
        ("2023-06-24", ["法定节假日（端午）"]),  # the Saturday of the holiday: a holiday, not merely a weekend
    ],
)
def test_cli_schedule_refuses_an_illegal_manual_date(tmp_path, day, reasons):
    db, out = tmp_path / "s.sqlite", tmp_path / "out"
    rc, stdout, err = cli("schedule", "--db", str(db), "--out", str(out), "--set", f"13={day}")
    assert rc == 2, (stdout, err)
    assert "输入有误" in err and "机构 13" in err and day in err
    for r in reasons:
        assert r in err
    assert not out.exists()  # nothing written
    store = Store(f"sqlite:///{db}")
    try:
        assert [e for e in store.events(load_workspace().dataset.name) if e.kind == "schedule"] == []
    finally:
        store.close()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--start", "2099-05-04", "--end", "2099-06-30", "--notify-on", "2099-04-27"), "节假日日历只覆盖"),
        (("--groups", "0"), "--groups: 评估小组数 0 超出允许范围 1–20"),
        (("--per-day", "1000"), "--per-day: 每组每日评估家数 1000 超出允许范围 1–10"),
    ],
)
def test_cli_schedule_refuses_before_opening_the_store(tmp_path, argv, message):
    db, out = tmp_path / "s.sqlite", tmp_path / "out"
    rc, stdout, err = cli("schedule", "--db", str(db), "--out", str(out), *argv)
    assert rc == 2, (stdout, err)
    assert message in err and "Traceback" not in err
    assert not db.exists() and not out.exists()  # refused before anything was opened or written
