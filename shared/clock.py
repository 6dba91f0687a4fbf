"""The single source of "now" for every service.

Deadlines, suspensions, alert rules and signatures all depend on the current time. Taking it
from one movable clock lets unit tests freeze time and lets end-to-end tests start whole
services in a shifted time (``HOUSING_CLOCK_OFFSET_SECONDS``) instead of waiting for real
working days to pass.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["OFFSET_ENV_VAR", "SHANGHAI", "Clock", "clock", "now", "today_shanghai"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFSET_ENV_VAR = "HOUSING_CLOCK_OFFSET_SECONDS"


def _require_aware(dt: datetime) -> datetime:
    # A naive datetime could be server-local or Shanghai time; guessing would shift deadlines
    # by eight hours, so refuse it.
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("Clock needs a timezone-aware datetime")
    return dt.astimezone(UTC)


class Clock:
    """Real time plus an offset, or a frozen instant.

    The state is one tuple replaced as a whole, so a concurrent ``now()`` never sees a frozen
    instant from one update paired with an offset from another.
    """

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._state: tuple[datetime | None, timedelta] = (None, offset)

    def now(self) -> datetime:
        """Current instant, timezone-aware in UTC."""
        frozen, offset = self._state
        if frozen is not None:
            return frozen
        return datetime.now(UTC) + offset

    def set(self, dt: datetime) -> None:
        """Freeze the clock at ``dt`` until ``advance`` or ``reset``."""
        self._state = (_require_aware(dt), timedelta(0))

    def advance(self, delta: timedelta) -> None:
        """Move the clock by ``delta``; a frozen clock stays frozen, a running one keeps running."""
        frozen, offset = self._state
        if frozen is not None:
            self._state = (frozen + delta, offset)
        else:
            self._state = (None, offset + delta)

    def reset(self) -> None:
        """Back to real time with no offset."""
        self._state = (None, timedelta(0))

    @property
    def frozen(self) -> bool:
        return self._state[0] is not None

    @property
    def offset(self) -> timedelta:
        """Offset from real time while running (zero while frozen)."""
        return self._state[1]


def _offset_from_env() -> timedelta:
    raw = os.environ.get(OFFSET_ENV_VAR)
    if raw is None or not raw.strip():
        return timedelta(0)
    # A malformed value must stop the service: running silently in real time would make an
    # end-to-end test pass or fail for the wrong reason.
    return timedelta(seconds=float(raw))


clock = Clock(_offset_from_env())


def now() -> datetime:
    """Current instant from the process-wide clock (timezone-aware UTC)."""
    return clock.now()


def today_shanghai() -> date:
    """Today's date in Asia/Shanghai, where working days and deadlines are counted."""
    return clock.now().astimezone(SHANGHAI).date()
