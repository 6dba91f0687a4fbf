"""China working-day calendar (工作日) in Asia/Shanghai, for stage time limits and suspensions.

Statutory holidays and make-up working days (调休上班) come, per year, from one of three
sources, first match wins:

1. the city's override file, for every year it lists; such a year is fully defined by it:
   Monday to Friday are working days except the listed holidays, weekends are not except the
   listed make-up working days;
2. the ``chinesecalendar`` package, which only knows the years it was released with
   (1.11: 2004-2026) and raises ``NotImplementedError`` for others;
3. a plain Monday-to-Friday fallback, logged once per year and reported on every ``Deadline``
   it affected, so that nobody mistakes a guessed deadline for a statutory one.

The State Council publishes next year's schedule around November, while a 60-working-day
limit started in autumn already ends next year; the override file closes that gap without a
library upgrade.
"""

from __future__ import annotations

import functools
import os
import threading
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import chinese_calendar
import structlog
import yaml

from shared.clock import SHANGHAI

__all__ = [
    "DEFAULT_OVERRIDES_PATH",
    "OVERRIDES_ENV_VAR",
    "Deadline",
    "WorkdayCalendar",
    "YearSource",
    "default_calendar",
    "load_calendar",
]


OVERRIDES_ENV_VAR = "HOUSING_CALENDAR_OVERRIDES"
DEFAULT_OVERRIDES_PATH = Path(__file__).resolve().parents[1] / "deploy/calendar/overrides.yaml"

_YEAR_KEYS = frozenset({"holidays", "workdays"})


class YearSource(StrEnum):
    """Where a year's working days come from."""

    OVERRIDE = "override"
    LIBRARY = "library"
    FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class Deadline:
    """End of a time limit counted in working days.

    ``at`` is the last instant of ``date`` in Asia/Shanghai: a limit that ends on a day may be
    met at any time during that day. ``fallback_years`` lists the years in which the
    Monday-to-Friday guess was used; a non-empty value means the date may move once the city
    enters that year's schedule.
    """

    date: date
    at: datetime
    fallback_years: tuple[int, ...] = ()

    @property
    def used_fallback(self) -> bool:
        return bool(self.fallback_years)


@dataclass(frozen=True, slots=True)
class _Year:
    source: YearSource
    # Sorted ordinals of the year's working days: bisecting them answers both "n-th working day
    # after d" and "working days in (a, b]" without walking day by day.
    ordinals: tuple[int, ...]
    days: frozenset[int]


def _to_shanghai_date(value: date | datetime) -> date:
    # datetime is a subclass of date, so it must be tested first.
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: working days need a timezone-aware datetime")
        return value.astimezone(SHANGHAI).date()
    return value


def _end_of_day(d: date) -> datetime:
    return datetime.combine(d, time.max, tzinfo=SHANGHAI)


def _parse_date(value: Any, *, year: int, field: str) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"calendar override {year}.{field}: {value!r} is not a plain date")
    if isinstance(value, date):
        parsed = value
    elif isinstance(value, str):
        parsed = date.fromisoformat(value.strip())
    else:
        raise ValueError(f"calendar override {year}.{field}: {value!r} is not a date")
    if parsed.year != year:
        # A date filed under the wrong year would silently be ignored by the lookup.
        raise ValueError(f"calendar override {year}.{field}: {parsed} is not in {year}")
    return parsed


def _parse_overrides(overrides: Mapping[Any, Any]) -> dict[int, tuple[frozenset[date], ...]]:
    parsed: dict[int, tuple[frozenset[date], ...]] = {}
    for raw_year, entry in overrides.items():
        year = int(raw_year)
        entry = entry or {}
        if not isinstance(entry, Mapping):
            raise ValueError(f"calendar override {year}: expected a mapping, got {entry!r}")
        unknown = set(entry) - _YEAR_KEYS
        if unknown:
            # A typo such as "holiday:" would otherwise turn real holidays into working days.
            raise ValueError(f"calendar override {year}: unknown keys {sorted(unknown)}")
        holidays = frozenset(
            _parse_date(v, year=year, field="holidays") for v in entry.get("holidays") or ()
        )
        workdays = frozenset(
            _parse_date(v, year=year, field="workdays") for v in entry.get("workdays") or ()
        )
        both = holidays & workdays
        if both:
            raise ValueError(
                f"calendar override {year}: listed as both holiday and workday: "
                f"{sorted(d.isoformat() for d in both)}"
            )
        if year in parsed:
            raise ValueError(f"calendar override {year}: year listed twice")
        parsed[year] = (holidays, workdays)
    return parsed


def _library_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _days_of(year: int) -> Iterable[date]:
    d = date(year, 1, 1)
    one = timedelta(days=1)
    while d.year == year:
        yield d
        d += one


class WorkdayCalendar:
    """Working days in Asia/Shanghai.

    ``overrides`` maps a year to ``{"holidays": [...], "workdays": [...]}`` (dates or ISO
    strings), the value of ``years:`` in the override file.
    """

    def __init__(self, overrides: Mapping[Any, Any] | None = None) -> None:
        self._overrides = _parse_overrides(overrides or {})
        self._years: dict[int, _Year] = {}
        # Building a year consults the library 365 times and may log; do it once per year even
        # when several threads ask at the same time.
        self._lock = threading.Lock()

    # -- per-year data -------------------------------------------------------------------

    def source_for(self, year: int) -> YearSource:
        """Which source defines ``year`` (does not log)."""
        if year in self._overrides:
            return YearSource.OVERRIDE
        if _library_knows(year):
            return YearSource.LIBRARY
        return YearSource.FALLBACK

    def used_fallback_for(self, year: int) -> bool:
        """Whether working days in ``year`` are the Monday-to-Friday guess."""
        return self.source_for(year) is YearSource.FALLBACK

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._years.get(year)
            if cached is None:
                cached = self._build_year(year)
                self._years[year] = cached
            return cached

    def _build_year(self, year: int) -> _Year:
        source = self.source_for(year)
        if source is YearSource.OVERRIDE:
            holidays, workdays = self._overrides[year]
            working = [
                d
                for d in _days_of(year)
                if d in workdays or (d.weekday() < 5 and d not in holidays)
            ]
        elif source is YearSource.LIBRARY:
            working = [d for d in _days_of(year) if chinese_calendar.is_workday(d)]
        else:
            # A fresh logger (not a module-level one cached by configure_logging) so that the
            # rare warning always goes through the logging configuration in force right now.
            structlog.get_logger(__name__).warning("workday_calendar_fallback", year=year)
            working = [d for d in _days_of(year) if d.weekday() < 5]
        ordinals = tuple(d.toordinal() for d in working)
        return _Year(source=source, ordinals=ordinals, days=frozenset(ordinals))

    def _fallback_years(self, first: date, last: date) -> tuple[int, ...]:
        return tuple(
            y
            for y in range(first.year, last.year + 1)
            if self._year(y).source is YearSource.FALLBACK
        )

    # -- public queries ------------------------------------------------------------------

    def is_workday(self, d: date | datetime) -> bool:
        day = _to_shanghai_date(d)
        return day.toordinal() in self._year(day.year).days

    def add_workdays(self, start: date | datetime, n: int) -> Deadline:
        """The ``n``-th working day after ``start``.

        The start day itself never counts, whether or not it is a working day: a stage started
        on Friday with one working day ends on Monday (or the next working day after it).
        ``n == 0`` ends at the end of the start day.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        day = _to_shanghai_date(start)
        if n == 0:
            return Deadline(date=day, at=_end_of_day(day))
        start_ordinal = day.toordinal()
        remaining = n
        year = day.year
        while True:
            ordinals = self._year(year).ordinals
            first = bisect_right(ordinals, start_ordinal)
            available = len(ordinals) - first
            if remaining <= available:
                end = date.fromordinal(ordinals[first + remaining - 1])
                break
            remaining -= available
            year += 1
        # Only years that hold a counted day matter; the start day's year does not when the
        # start is the last day of December.
        fallback = self._fallback_years(day + timedelta(days=1), end)
        return Deadline(date=end, at=_end_of_day(end), fallback_years=fallback)

    def warning_starts(self, due: date | datetime) -> datetime:
        """When a deadline is "one working day away" (Y3, 办理时限到期前一个工作日): the start
        of the last working day before the deadline's day, so a stage due on Monday warns
        from Friday morning. Review's task list and alerting's lamp both use this one moment.
        """
        day = _to_shanghai_date(due) - timedelta(days=1)
        while not self.is_workday(day):
            day -= timedelta(days=1)
        return datetime.combine(day, time.min, tzinfo=SHANGHAI)

    def workdays_between(self, start: date | datetime, end: date | datetime) -> int:
        """Number of working days in ``(start, end]``; 0 when ``end <= start``.

        The inverse of ``add_workdays``: ``workdays_between(s, add_workdays(s, n).date) == n``.
        """
        first, last = _to_shanghai_date(start), _to_shanghai_date(end)
        if last <= first:
            return 0
        lo, hi = first.toordinal(), last.toordinal()
        total = 0
        for year in range(first.year, last.year + 1):
            ordinals = self._year(year).ordinals
            total += bisect_right(ordinals, hi) - bisect_right(ordinals, lo)
        return total

    def fallback_years_between(
        self, start: date | datetime, end: date | datetime
    ) -> tuple[int, ...]:
        """Years in ``(start, end]`` counted with the fallback, for ``workdays_between`` callers."""
        first, last = _to_shanghai_date(start), _to_shanghai_date(end)
        if last <= first:
            return ()
        return self._fallback_years(first + timedelta(days=1), last)


def load_calendar(path: Path | None) -> WorkdayCalendar:
    """Calendar with the overrides in the YAML file at ``path`` (none when ``path`` is None).

    File format::

        years:
          2027:
            holidays: [2027-01-01, ...]
            workdays: [2027-02-07, ...]
    """
    if path is None:
        return WorkdayCalendar()
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(document, Mapping):
        raise ValueError(f"{path}: expected a mapping at the top level")
    unknown = set(document) - {"years"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}")
    years = document.get("years") or {}
    if not isinstance(years, Mapping):
        raise ValueError(f"{path}: 'years' must be a mapping of year to entries")
    return WorkdayCalendar(years)


@functools.cache
def default_calendar() -> WorkdayCalendar:
    """Process-wide calendar: overrides from ``$HOUSING_CALENDAR_OVERRIDES`` if set, else the
    repository's ``deploy/calendar/overrides.yaml`` if present.

    Cached so that the fallback warning is logged once per year per process;
    ``default_calendar.cache_clear()`` reloads it.
    """
    configured = os.environ.get(OVERRIDES_ENV_VAR)
    if configured:
        # An explicitly configured file that is missing is an error, not a silent fallback.
        return load_calendar(Path(configured))
    if DEFAULT_OVERRIDES_PATH.is_file():
        return load_calendar(DEFAULT_OVERRIDES_PATH)
    return load_calendar(None)
