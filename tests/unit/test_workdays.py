from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from shared import workdays
from shared.clock import SHANGHAI
from shared.workdays import Deadline, WorkdayCalendar, YearSource, default_calendar, load_calendar


@pytest.fixture
def cal() -> WorkdayCalendar:
    return WorkdayCalendar()


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# -- chinesecalendar data for 2026 ------------------------------------------------------------


def test_2026_national_day_is_off_and_october_8_is_working(cal: WorkdayCalendar) -> None:
    assert [cal.is_workday(d) for d in _days(date(2026, 10, 1), date(2026, 10, 7))] == [False] * 7
    assert cal.is_workday(date(2026, 10, 8)) is True
    assert cal.is_workday(date(2026, 10, 9)) is True


def test_2026_make_up_working_days_are_exactly_the_library_ones(cal: WorkdayCalendar) -> None:
    weekend_workdays = [
        d
        for d in _days(date(2026, 1, 1), date(2026, 12, 31))
        if d.weekday() >= 5 and cal.is_workday(d)
    ]
    assert weekend_workdays == [
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ]


def test_2026_weekday_holidays_are_exactly_the_library_ones(cal: WorkdayCalendar) -> None:
    weekday_holidays = [
        d
        for d in _days(date(2026, 1, 1), date(2026, 12, 31))
        if d.weekday() < 5 and not cal.is_workday(d)
    ]
    assert weekday_holidays == [
        date(2026, 1, 1),
        date(2026, 1, 2),
        *_days(date(2026, 2, 16), date(2026, 2, 20)),
        date(2026, 2, 23),
        date(2026, 4, 6),
        date(2026, 5, 1),
        date(2026, 5, 4),
        date(2026, 5, 5),
        date(2026, 6, 19),
        date(2026, 9, 25),
        *_days(date(2026, 10, 1), date(2026, 10, 2)),
        *_days(date(2026, 10, 5), date(2026, 10, 7)),
    ]


def test_2026_is_from_the_library_and_2027_is_fallback(cal: WorkdayCalendar) -> None:
    assert cal.source_for(2026) is YearSource.LIBRARY
    assert cal.used_fallback_for(2026) is False
    assert cal.source_for(2027) is YearSource.FALLBACK
    assert cal.used_fallback_for(2027) is True


# -- add_workdays -------------------------------------------------------------------------------


def test_friday_plus_one_working_day_is_monday(cal: WorkdayCalendar) -> None:
    deadline = cal.add_workdays(date(2026, 3, 6), 1)
    assert deadline == Deadline(
        date=date(2026, 3, 9),
        at=datetime(2026, 3, 9, 23, 59, 59, 999999, tzinfo=SHANGHAI),
        fallback_years=(),
    )
    assert deadline.used_fallback is False


def test_friday_plus_one_skips_a_monday_holiday(cal: WorkdayCalendar) -> None:
    # Qingming 2026: Sat 4 April to Mon 6 April.
    assert cal.add_workdays(date(2026, 4, 3), 1).date == date(2026, 4, 7)


def test_make_up_saturday_counts(cal: WorkdayCalendar) -> None:
    assert cal.add_workdays(date(2026, 10, 9), 1).date == date(2026, 10, 10)


def test_national_day_is_skipped(cal: WorkdayCalendar) -> None:
    start = date(2026, 9, 30)
    assert cal.add_workdays(start, 1).date == date(2026, 10, 8)
    assert cal.add_workdays(start, 3).date == date(2026, 10, 10)
    assert cal.add_workdays(start, 4).date == date(2026, 10, 12)


def test_zero_working_days_ends_at_end_of_start_day_even_on_a_holiday(
    cal: WorkdayCalendar,
) -> None:
    assert cal.add_workdays(date(2026, 10, 3), 0) == Deadline(
        date=date(2026, 10, 3),
        at=datetime(2026, 10, 3, 23, 59, 59, 999999, tzinfo=SHANGHAI),
        fallback_years=(),
    )


def test_starting_on_a_holiday_counts_from_the_next_working_day(cal: WorkdayCalendar) -> None:
    assert cal.add_workdays(date(2026, 10, 4), 1).date == date(2026, 10, 8)


def test_datetime_start_uses_the_shanghai_date(cal: WorkdayCalendar) -> None:
    # 16:30 UTC on Thursday 5 March is 00:30 on Friday 6 March in Shanghai.
    start = datetime(2026, 3, 5, 16, 30, tzinfo=UTC)
    assert cal.add_workdays(start, 1).date == date(2026, 3, 9)
    assert cal.add_workdays(start, 0).date == date(2026, 3, 6)


def test_naive_datetime_is_refused(cal: WorkdayCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        cal.add_workdays(datetime(2026, 3, 6, 9, 0), 1)


def test_negative_n_is_refused(cal: WorkdayCalendar) -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        cal.add_workdays(date(2026, 3, 6), -1)


def test_sixty_working_days_from_november_2026_end_in_2027_via_fallback(
    cal: WorkdayCalendar,
) -> None:
    # After Mon 2 Nov 2026: 20 weekdays left in November, 23 in December (no holidays in
    # either), 43 in all. The remaining 17 fall in 2027 on Monday-to-Friday: Fri 1 Jan (1),
    # 4-8 Jan (6), 11-15 (11), 18-22 (16), Mon 25 Jan (17).
    with capture_logs() as logs:
        deadline = cal.add_workdays(date(2026, 11, 2), 60)
        again = cal.add_workdays(date(2026, 11, 3), 60)
    assert deadline.date == date(2027, 1, 25)
    assert deadline.at == datetime(2027, 1, 25, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert deadline.fallback_years == (2027,)
    assert deadline.used_fallback is True
    assert again.date == date(2027, 1, 26)
    # Logged once per year, not once per computation.
    assert logs == [{"event": "workday_calendar_fallback", "year": 2027, "log_level": "warning"}]


def test_deadline_within_library_years_reports_no_fallback(cal: WorkdayCalendar) -> None:
    assert cal.add_workdays(date(2026, 11, 2), 43) == Deadline(
        date=date(2026, 12, 31),
        at=datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=SHANGHAI),
        fallback_years=(),
    )


def test_start_on_last_day_of_fallback_year_does_not_report_it() -> None:
    cal = WorkdayCalendar({2028: {"holidays": ["2028-01-03"]}})
    # Fri 31 Dec 2027 (fallback) + 1: Sat 1 and Sun 2 Jan, holiday Mon 3 Jan, so Tue 4 Jan 2028.
    deadline = cal.add_workdays(date(2027, 12, 31), 1)
    assert deadline.date == date(2028, 1, 4)
    assert deadline.fallback_years == ()


def test_deadline_spanning_several_fallback_years() -> None:
    cal = WorkdayCalendar()
    # 2027 and 2028 on Monday-to-Friday: 261 + 260 weekdays after 31 Dec 2026.
    deadline = cal.add_workdays(date(2026, 12, 31), 261 + 260 + 1)
    assert deadline.date == date(2029, 1, 1)
    assert deadline.fallback_years == (2027, 2028, 2029)


# -- overrides -----------------------------------------------------------------------------------


def test_override_file_wins_for_2027(tmp_path: Path) -> None:
    path = tmp_path / "overrides.yaml"
    path.write_text(
        "years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: ['2027-01-09']\n",
        encoding="utf-8",
    )
    cal = load_calendar(path)
    assert cal.source_for(2027) is YearSource.OVERRIDE
    assert cal.used_fallback_for(2027) is False
    assert cal.is_workday(date(2027, 1, 1)) is False
    assert cal.is_workday(date(2027, 1, 9)) is True  # listed make-up Saturday
    assert cal.is_workday(date(2027, 1, 16)) is False  # unlisted Saturday
    # Fri 31 Dec 2026 + 1: Fri 1 Jan 2027 is now a holiday, so Mon 4 Jan.
    assert cal.add_workdays(date(2026, 12, 31), 1) == Deadline(
        date=date(2027, 1, 4),
        at=datetime(2027, 1, 4, 23, 59, 59, 999999, tzinfo=SHANGHAI),
        fallback_years=(),
    )
    # Same 60 days as the fallback case, minus 1 Jan and plus Sat 9 Jan: 4-8 Jan (5), 9 Jan (6),
    # 11-15 (11), 18-22 (16), Mon 25 Jan (17).
    with capture_logs() as logs:
        deadline = cal.add_workdays(date(2026, 11, 2), 60)
    assert deadline.date == date(2027, 1, 25)
    assert deadline.fallback_years == ()
    assert logs == []


def test_override_replaces_library_data_for_a_known_year() -> None:
    cal = WorkdayCalendar({2026: {"holidays": [date(2026, 3, 9)]}})
    assert cal.source_for(2026) is YearSource.OVERRIDE
    assert cal.add_workdays(date(2026, 3, 6), 1).date == date(2026, 3, 10)
    # The year is fully defined by the override: the library's National Day is gone.
    assert cal.is_workday(date(2026, 10, 8)) is True
    assert cal.is_workday(date(2026, 10, 1)) is True
    assert cal.is_workday(date(2026, 10, 10)) is False


def test_empty_and_missing_override_files(tmp_path: Path) -> None:
    comments_only = tmp_path / "empty.yaml"
    comments_only.write_text("# nothing yet\n", encoding="utf-8")
    assert load_calendar(comments_only).used_fallback_for(2027) is True
    assert load_calendar(None).used_fallback_for(2027) is True
    with pytest.raises(FileNotFoundError):
        load_calendar(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({2027: {"holiday": ["2027-01-01"]}}, "unknown keys"),
        ({2027: {"holidays": ["2028-01-01"]}}, "is not in 2027"),
        ({2027: {"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}}, "both holiday"),
        ({2027: {"holidays": [20270101]}}, "is not a date"),
        ({2027: ["2027-01-01"]}, "expected a mapping"),
    ],
)
def test_malformed_overrides_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkdayCalendar(overrides)


def test_unknown_top_level_key_in_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "overrides.yaml"
    path.write_text("year:\n  2027: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown top-level keys"):
        load_calendar(path)


def test_default_calendar_reads_the_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "overrides.yaml"
    path.write_text("years:\n  2027:\n    holidays: [2027-01-01]\n", encoding="utf-8")
    monkeypatch.setenv(workdays.OVERRIDES_ENV_VAR, str(path))
    default_calendar.cache_clear()
    try:
        cal = default_calendar()
        assert cal is default_calendar()
        assert cal.source_for(2027) is YearSource.OVERRIDE
        assert cal.is_workday(date(2027, 1, 1)) is False
    finally:
        default_calendar.cache_clear()


def test_default_calendar_without_env_uses_the_repository_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(workdays.OVERRIDES_ENV_VAR, raising=False)
    default_calendar.cache_clear()
    try:
        assert workdays.DEFAULT_OVERRIDES_PATH.is_file()
        # The shipped file leaves 2027 out until the State Council publishes it.
        assert default_calendar().used_fallback_for(2027) is True
        assert default_calendar().used_fallback_for(2026) is False
    finally:
        default_calendar.cache_clear()


# -- workdays_between ------------------------------------------------------------------------------


def test_workdays_between_counts_the_half_open_interval(cal: WorkdayCalendar) -> None:
    # (Wed 30 Sep, Mon 12 Oct 2026]: 8, 9, 10 (make-up Saturday) and 12 October.
    assert cal.workdays_between(date(2026, 9, 30), date(2026, 10, 12)) == 4
    assert cal.workdays_between(date(2026, 10, 12), date(2026, 9, 30)) == 0
    assert cal.workdays_between(date(2026, 10, 12), date(2026, 10, 12)) == 0
    assert cal.workdays_between(date(2026, 12, 31), date(2027, 1, 1)) == 1


def test_workdays_between_uses_shanghai_dates_for_datetimes(cal: WorkdayCalendar) -> None:
    # 17:00 UTC Thursday is already Friday in Shanghai; 15:00 UTC Monday is still Monday.
    start = datetime(2026, 3, 5, 17, 0, tzinfo=UTC)
    end = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    assert cal.workdays_between(start, end) == 1


def test_fallback_years_between(cal: WorkdayCalendar) -> None:
    assert cal.fallback_years_between(date(2026, 11, 2), date(2027, 1, 25)) == (2027,)
    assert cal.fallback_years_between(date(2026, 11, 2), date(2026, 12, 31)) == ()
    assert cal.fallback_years_between(date(2027, 12, 31), date(2027, 12, 31)) == ()


def test_sixty_working_days_is_fast(cal: WorkdayCalendar) -> None:
    import time as wall

    cal.add_workdays(date(2026, 11, 2), 60)  # warm the per-year cache
    began = wall.perf_counter()
    for offset in range(1000):
        cal.add_workdays(date(2026, 1, 1) + timedelta(days=offset % 365), 60)
    assert wall.perf_counter() - began < 0.5


_shared_calendar = WorkdayCalendar()


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)),
    n=st.integers(min_value=0, max_value=80),
    hour=st.integers(min_value=0, max_value=23),
)
def test_workdays_between_inverts_add_workdays(start: date, n: int, hour: int) -> None:
    deadline = _shared_calendar.add_workdays(start, n)
    assert _shared_calendar.workdays_between(start, deadline.date) == n
    if n > 0:
        # The deadline is the first day reaching n, hence a working day.
        assert _shared_calendar.is_workday(deadline.date) is True
        assert _shared_calendar.workdays_between(start, deadline.date - timedelta(days=1)) == n - 1
    expected_fallback = tuple(
        y for y in range(start.year, deadline.date.year + 1) if y >= 2027 and n > 0
    )
    if start == date(2027, 12, 31):
        expected_fallback = tuple(y for y in expected_fallback if y != 2027)
    assert deadline.fallback_years == expected_fallback
    # A Shanghai-local datetime on the start date gives the same deadline.
    aware = datetime.combine(start, time(hour), tzinfo=SHANGHAI)
    assert _shared_calendar.add_workdays(aware, n) == deadline


@pytest.mark.parametrize(
    ("due", "warns_from"),
    [
        (date(2026, 11, 23), datetime(2026, 11, 20, tzinfo=SHANGHAI)),  # Monday: Friday morning
        (date(2026, 11, 24), datetime(2026, 11, 23, tzinfo=SHANGHAI)),  # Tuesday: Monday
        (date(2026, 10, 8), datetime(2026, 9, 30, tzinfo=SHANGHAI)),  # after National Day
    ],
)
def test_a_deadline_warns_from_the_start_of_the_working_day_before_it(
    cal: WorkdayCalendar, due: date, warns_from: datetime
) -> None:
    assert cal.warning_starts(due) == warns_from
    assert cal.warning_starts(datetime.combine(due, time(15), tzinfo=SHANGHAI)) == warns_from
