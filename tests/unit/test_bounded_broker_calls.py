"""The metrics scrape's broker calls end at their deadline even when a call swallows its
cancellation, which left ``asyncio.timeout`` spent and the next call unbounded (a scrape hung
in CI until pytest-timeout)."""

from __future__ import annotations

import asyncio
import time

import pytest

from shared.metrics import _bounded


async def _swallows_cancellation(release: asyncio.Event) -> str:
    while True:
        try:
            await release.wait()
            return "released"
        except asyncio.CancelledError:
            continue  # what a misbehaving client library does


async def test_a_call_that_swallows_its_cancellation_still_ends_at_the_deadline() -> None:
    release = asyncio.Event()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await _bounded(_swallows_cancellation(release), time.monotonic() + 0.2)
    assert 0.2 <= time.monotonic() - started < 1.0
    # The call left behind finishes later and its outcome is read, not reported as lost.
    release.set()
    await asyncio.sleep(0)


async def test_a_call_that_answers_in_time_gives_its_result_and_its_error() -> None:
    async def answer() -> int:
        return 42

    async def refuse() -> int:
        raise LookupError("no such queue")

    assert await _bounded(answer(), time.monotonic() + 1) == 42
    with pytest.raises(LookupError, match="no such queue"):
        await _bounded(refuse(), time.monotonic() + 1)
