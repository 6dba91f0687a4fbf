"""The provincial push: signed, retried with backoff while the receiver fails, delivered exactly
once and in order per application; backlog and failures on /metrics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.publication.adapters.province import Pusher
from services.publication.tables import push_log
from shared.clock import clock, now
from shared.events.catalogue import ReviewDecided
from shared.scheduler import run_once
from tests.harness import wait_for
from tests.integration.publication.conftest import (
    Stack,
    accepted,
    publish_and_wait,
    qualified,
)

pytestmark = pytest.mark.integration

FAILURES = 3


async def sweep(stack: Stack, pusher: Pusher) -> None:
    assert await run_once(stack.svc.runtime, "province-push-test", pusher.sweep)


async def backlog(stack: Stack) -> int:
    async with stack.svc.runtime.engine.connect() as conn:
        return int(
            await conn.scalar(
                sa.select(sa.func.count())
                .select_from(push_log)
                .where(push_log.c.acked_at.is_(None))
            )
            or 0
        )


async def test_push_is_retried_and_delivered_exactly_once_in_order(stack: Stack) -> None:
    pusher = Pusher(stack.config)
    pusher.city = "350200"
    receiver = stack.receiver
    # Deliver whatever earlier tests logged and is due, so only this application's stream is
    # sent below. (A row logged while an earlier test had moved the clock ahead is not due.)
    await sweep(stack, pusher)
    async with stack.svc.runtime.engine.connect() as conn:
        due = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(push_log)
            .where(push_log.c.acked_at.is_(None), push_log.c.next_attempt_at <= now())
        )
    assert due == 0
    baseline = await backlog(stack)

    event = accepted("PUSH-0001")
    await publish_and_wait(stack, event, stage="accepted")
    decided = ReviewDecided(
        case_id=uuid.uuid4(),
        application_id=event.application_id,
        outcome="qualified",
        decided_by="leader-9",
        decided_at=datetime(2026, 11, 24, 9, tzinfo=UTC),
    )
    await publish_and_wait(stack, decided, stage="qualified")
    await publish_and_wait(stack, qualified(event), stage="qualified")

    async def three_logged() -> bool:
        return await backlog(stack) == baseline + 3

    await wait_for(three_logged)
    stream = f"application:{event.application_id}"
    receiver.fail_next = FAILURES
    requests_before = receiver.requests
    try:
        for attempt in range(1, FAILURES + 1):
            await sweep(stack, pusher)
            # Only the head of the stream was tried: later events never overtake it.
            assert receiver.requests == requests_before + attempt
            assert [p for p in receiver.received if p["stream"] == stream] == []
            # Not due again before its backoff has passed.
            await sweep(stack, pusher)
            assert receiver.requests == requests_before + attempt
            clock.set(now() + timedelta(minutes=11))
        await sweep(stack, pusher)
    finally:
        clock.reset()

    delivered = [p for p in receiver.received if p["stream"] == stream]
    assert [p["type"] for p in delivered] == [
        "application.accepted",
        "review.decided",
        "application.qualified",
    ]
    assert len({p["push_id"] for p in delivered}) == 3
    assert all(p["city"] == "350200" for p in delivered)
    assert receiver.requests == requests_before + FAILURES + 3
    assert await backlog(stack) == baseline
    async with stack.svc.runtime.engine.connect() as conn:
        attempts = (
            await conn.scalars(
                sa.select(push_log.c.attempts)
                .where(push_log.c.stream_key == stream)
                .order_by(push_log.c.stream_seq)
            )
        ).all()
    assert attempts == [FAILURES + 1, 1, 1]

    # A push acknowledged by the receiver but not marked here (a crash in between) is sent
    # again with the same push id; the receiver keeps one copy.
    async with stack.svc.runtime.engine.begin() as conn:
        await conn.execute(
            push_log.update()
            .where(push_log.c.stream_key == stream, push_log.c.stream_seq == 1)
            .values(acked_at=None, next_attempt_at=now())
        )
    requests_before = receiver.requests
    await sweep(stack, pusher)
    assert receiver.requests == requests_before + 1
    assert [p["type"] for p in receiver.received if p["stream"] == stream] == [
        "application.accepted",
        "review.decided",
        "application.qualified",
    ]

    metrics = (await stack.svc.client.get("/metrics")).text
    assert f'province_push_backlog{{endpoint="province"}} {float(baseline)}' in metrics, [
        line for line in metrics.splitlines() if line.startswith("province_push")
    ]
    failures = next(
        line
        for line in metrics.splitlines()
        if line.startswith('province_push_failures_total{endpoint="province"}')
    )
    assert float(failures.split()[-1]) >= FAILURES


async def test_a_bad_signature_is_not_acknowledged(stack: Stack) -> None:
    config = stack.config.model_copy(
        update={
            "province_endpoints": [
                e.model_copy(update={"secret": type(e.secret)("wrong-secret")})
                for e in stack.config.province_endpoints
            ]
        }
    )
    pusher = Pusher(config)
    event = accepted("PUSH-0002")
    await publish_and_wait(stack, event, stage="accepted")
    baseline = await backlog(stack)
    rejected_before = stack.receiver.rejected_signatures
    await sweep(stack, pusher)
    assert stack.receiver.rejected_signatures == rejected_before + 1
    assert await backlog(stack) == baseline
    async with stack.svc.runtime.engine.connect() as conn:
        error = await conn.scalar(
            sa.select(push_log.c.last_error).where(
                push_log.c.stream_key == f"application:{event.application_id}"
            )
        )
    assert error == "HTTP 401"
    requests_before = stack.receiver.requests
    await sweep(stack, Pusher(stack.config))  # not due yet: its backoff runs
    assert stack.receiver.requests == requests_before
    assert await backlog(stack) == baseline
