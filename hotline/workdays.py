"""Working-time arithmetic in the hotline's time zone: working days (with holidays and 调休),
office windows, and due times written for texts.
"""

from __future__ import annotations

import logging
import math
import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

logger = logging.getLogger(__name__)

# Office hours of the community service centres, local time: morning and afternoon.
WORKING_WINDOWS: tuple[tuple[time, time], ...] = (
    (time(8, 30), time(12, 0)),
    (time(13, 30), time(17, 30)),
)

_warned_years: set[int] = set()
_warned_lock = threading.Lock()


def is_working_day(day: date) -> bool:
    """True when `day` is a working day in mainland China.

    Public holidays and the weekend days declared working days (调休) come from the
    `chinese_calendar` package. For a year it has no data for, Monday to Friday count as
    working days, and a warning is logged once per year; updating the package lifts this.
    """
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        _warn_no_calendar(day.year)
        return day.weekday() < 5


def add_working_hours(start: datetime, hours: float, tz: ZoneInfo) -> datetime:
    """The moment `hours` of working time after `start`, as an aware UTC datetime.

    Working time is the windows of WORKING_WINDOWS on working days, in `tz`. A start
    outside working time starts counting at the next window opening (so zero hours from
    a Saturday evening is Monday 08:30). Raises ValueError for a naive `start` or for a
    negative or non-finite number of hours.
    """
    if start.tzinfo is None:
        raise ValueError("add_working_hours needs an aware start time")
    if not math.isfinite(hours) or hours < 0:
        raise ValueError(f"working hours must be a finite number >= 0, got {hours!r}")

    remaining = timedelta(hours=hours)
    moment = start.astimezone(UTC)
    day = start.astimezone(tz).date()

    while True:
        if is_working_day(day):
            for opens, closes in WORKING_WINDOWS:
                window_start = datetime.combine(day, opens, tzinfo=tz).astimezone(UTC)
                window_end = datetime.combine(day, closes, tzinfo=tz).astimezone(UTC)
                if moment >= window_end:
                    continue

                begin = max(moment, window_start)
                if remaining <= window_end - begin:
                    return begin + remaining
                remaining -= window_end - begin
                moment = window_end
        day += timedelta(days=1)


def format_local(moment: datetime, tz: ZoneInfo) -> str:
    """`moment` in `tz` the way texts write it: `12月4日 10:30`.

    Raises ValueError for a naive datetime.
    """
    if moment.tzinfo is None:
        raise ValueError("format_local needs an aware datetime")

    local = moment.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _warn_no_calendar(year: int) -> None:
    with _warned_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)

    logger.warning(
        "no holiday data for %s in chinese_calendar %s: counting Monday to Friday as working "
        "days; update the chinesecalendar package",
        year,
        getattr(chinese_calendar, "__version__", "?"),
    )
