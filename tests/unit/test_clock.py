from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from shared import clock as clock_module
from shared.clock import SHANGHAI, Clock, clock, now, today_shanghai


@pytest.fixture(autouse=True)
def _reset_global_clock() -> Iterator[None]:
    yield
    clock.reset()


def test_real_time_by_default() -> None:
    c = Clock()
    before = datetime.now(UTC)
    value = c.now()
    after = datetime.now(UTC)
    assert before <= value <= after
    assert value.tzinfo is UTC
    assert c.frozen is False
    assert c.offset == timedelta(0)


def test_set_freezes_and_normalises_to_utc() -> None:
    c = Clock()
    c.set(datetime(2026, 10, 9, 17, 0, tzinfo=SHANGHAI))
    assert c.now() == datetime(2026, 10, 9, 9, 0, tzinfo=UTC)
    assert c.now().tzinfo is UTC
    assert c.now() == c.now()  # frozen: time does not move
    assert c.frozen is True


def test_set_refuses_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Clock().set(datetime(2026, 10, 9, 17, 0))


def test_advance_moves_a_frozen_clock_and_keeps_it_frozen() -> None:
    c = Clock()
    c.set(datetime(2026, 10, 9, 9, 0, tzinfo=UTC))
    c.advance(timedelta(days=3, hours=1))
    assert c.now() == datetime(2026, 10, 12, 10, 0, tzinfo=UTC)
    assert c.frozen is True


def test_advance_on_a_running_clock_adds_an_offset_and_time_keeps_running() -> None:
    c = Clock()
    c.advance(timedelta(days=30))
    c.advance(timedelta(hours=-1))
    assert c.offset == timedelta(days=29, hours=23)
    assert c.frozen is False
    before = datetime.now(UTC) + timedelta(days=29, hours=23)
    value = c.now()
    after = datetime.now(UTC) + timedelta(days=29, hours=23)
    assert before <= value <= after


def test_constructor_offset() -> None:
    c = Clock(timedelta(seconds=-90))
    before = datetime.now(UTC) - timedelta(seconds=90)
    value = c.now()
    after = datetime.now(UTC) - timedelta(seconds=90)
    assert before <= value <= after


def test_reset_returns_to_real_time_without_offset() -> None:
    c = Clock(timedelta(days=5))
    c.set(datetime(2030, 1, 1, tzinfo=UTC))
    c.reset()
    assert c.frozen is False
    assert c.offset == timedelta(0)
    before = datetime.now(UTC)
    value = c.now()
    after = datetime.now(UTC)
    assert before <= value <= after


def test_set_after_offset_drops_the_offset() -> None:
    c = Clock(timedelta(days=5))
    c.set(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5))))
    assert c.now() == datetime(2026, 1, 1, 5, 0, tzinfo=UTC)
    c.reset()
    c.advance(timedelta(0))
    assert c.offset == timedelta(0)


def test_module_now_and_today_follow_the_global_clock() -> None:
    # 16:30 UTC on 31 Dec is already 1 January in Shanghai.
    clock.set(datetime(2026, 12, 31, 16, 30, tzinfo=UTC))
    assert now() == datetime(2026, 12, 31, 16, 30, tzinfo=UTC)
    assert today_shanghai() == date(2027, 1, 1)
    clock.advance(timedelta(hours=-1))
    assert today_shanghai() == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, timedelta(0)),
        ("", timedelta(0)),
        ("86400", timedelta(days=1)),
        ("-1.5", timedelta(seconds=-1.5)),
        (" 3600.25 ", timedelta(seconds=3600.25)),
    ],
)
def test_offset_from_env(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, expected: timedelta
) -> None:
    if raw is None:
        monkeypatch.delenv(clock_module.OFFSET_ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(clock_module.OFFSET_ENV_VAR, raw)
    assert clock_module._offset_from_env() == expected


def test_malformed_env_offset_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock_module.OFFSET_ENV_VAR, "two days")
    with pytest.raises(ValueError, match="could not convert"):
        clock_module._offset_from_env()
