"""Working-time arithmetic: weekends, the 2026 National Day holiday, 调休 and office windows."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from hotline import workdays
from hotline.workdays import add_working_hours, format_local, is_working_day

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 12, 4), True),  # Friday
        (date(2026, 12, 5), False),  # Saturday
        (date(2026, 12, 6), False),  # Sunday
        (date(2026, 10, 1), False),  # National Day, a Thursday
        (date(2026, 10, 7), False),  # last day of the National Day break, a Wednesday
        (date(2026, 10, 10), True),  # Saturday declared a working day (调休)
        (date(2026, 9, 20), True),  # Sunday declared a working day (调休)
        (date(2026, 9, 25), False),  # Mid-Autumn Festival, a Friday
    ],
)
def test_is_working_day_follows_the_official_calendar(day: date, expected: bool) -> None:
    assert is_working_day(day) is expected


def test_years_without_calendar_data_fall_back_to_weekdays_and_warn_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(workdays, "_warned_years", set())
    caplog.set_level(logging.WARNING, logger="hotline.workdays")

    assert is_working_day(date(2031, 1, 6)) is True  # Monday
    assert is_working_day(date(2031, 1, 4)) is False  # Saturday
    assert is_working_day(date(2031, 1, 1)) is True  # New Year's Day, unknown to the fallback

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2031" in warnings[0].getMessage()


def test_hours_left_on_friday_continue_on_monday() -> None:
    due = add_working_hours(local(2026, 12, 4, 16, 0), 4, SHANGHAI)

    # 1.5 h on Friday until 17:30, then 2.5 h from Monday 08:30.
    assert due == local(2026, 12, 7, 11, 0)
    assert due.tzinfo is UTC


def test_start_at_the_weekend_counts_from_monday_opening() -> None:
    due = add_working_hours(local(2026, 12, 5, 10, 0), 4, SHANGHAI)

    # 3.5 h in Monday's morning window, the last 0.5 h after the lunch break.
    assert due == local(2026, 12, 7, 14, 0)


def test_lunch_break_does_not_count() -> None:
    assert add_working_hours(local(2026, 12, 3, 11, 0), 2, SHANGHAI) == local(2026, 12, 3, 14, 30)


def test_start_in_lunch_break_counts_from_afternoon_opening() -> None:
    assert add_working_hours(local(2026, 12, 3, 12, 30), 1, SHANGHAI) == local(2026, 12, 3, 14, 30)


def test_zero_hours_outside_working_time_is_the_next_opening() -> None:
    assert add_working_hours(local(2026, 12, 5, 20, 0), 0, SHANGHAI) == local(2026, 12, 7, 8, 30)


def test_national_day_break_is_skipped() -> None:
    due = add_working_hours(local(2026, 9, 30, 16, 30), 4, SHANGHAI)

    # 1 h on 30 September; 1–7 October are holidays; 3 h more on Thursday 8 October.
    assert due == local(2026, 10, 8, 11, 30)


def test_adjusted_working_saturday_counts() -> None:
    due = add_working_hours(local(2026, 10, 9, 17, 0), 2, SHANGHAI)

    # 0.5 h on Friday 9 October, then Saturday 10 October is a working day (调休).
    assert due == local(2026, 10, 10, 10, 0)


def test_start_given_in_utc_is_read_in_the_hotline_zone() -> None:
    start = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)  # 16:00 in Qingdao

    assert add_working_hours(start, 4, SHANGHAI) == datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def test_naive_start_and_negative_hours_are_refused() -> None:
    with pytest.raises(ValueError):
        add_working_hours(datetime(2026, 12, 4, 10, 0), 1, SHANGHAI)
    with pytest.raises(ValueError):
        add_working_hours(local(2026, 12, 4, 10, 0), -1, SHANGHAI)


def test_format_local_writes_month_day_and_time_in_the_hotline_zone() -> None:
    assert format_local(datetime(2026, 12, 4, 2, 30, tzinfo=UTC), SHANGHAI) == "12月4日 10:30"
    assert format_local(datetime(2026, 1, 9, 16, 5, tzinfo=UTC), SHANGHAI) == "1月10日 00:05"

    with pytest.raises(ValueError):
        format_local(datetime(2026, 12, 4, 10, 30), SHANGHAI)
