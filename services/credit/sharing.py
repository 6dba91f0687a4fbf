"""Pushing filed records to the city credit system (记入市征信管理系统), with retries.

The push row is written in the same transaction that files the record, so a record is never
filed without being queued, and the city system being down never blocks the officer. This
sweep sends what is due, one attempt per row per tick, and backs off between attempts; after
``max_attempts`` the row is marked ``failed`` for an operator (it stays visible in the table).
The row id travels as ``Idempotency-Key`` so the city system can ignore a repeated push.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import sqlalchemy as sa
import structlog

from services.credit.config import CityCreditSystem
from services.credit.tables import credit_shares
from shared.clock import now
from shared.correlation import http_client
from shared.db import UnitOfWork
from shared.scheduler import Sweep

log = structlog.get_logger(__name__)

BATCH = 20


def backoff(system: CityCreditSystem, attempts: int) -> timedelta:
    """Delay before attempt ``attempts + 1``; the last configured delay repeats."""
    delays = system.retry_delays_seconds or [60.0]
    return timedelta(seconds=delays[min(attempts - 1, len(delays) - 1)])


def share_sweep(
    system: CityCreditSystem, client_factory: Callable[[], httpx.AsyncClient] | None = None
) -> Sweep:
    """The periodic sweep that pushes due rows to ``system.url``."""

    def make_client() -> httpx.AsyncClient:
        if client_factory is not None:
            return client_factory()
        return http_client(timeout=system.timeout_seconds)

    async def push_due(uow: UnitOfWork) -> None:
        if system.url is None:
            return  # not configured: rows wait, visible as pending
        due = (
            await uow.conn.execute(
                sa.select(credit_shares.c.id, credit_shares.c.payload, credit_shares.c.attempts)
                .where(
                    credit_shares.c.status == "pending", credit_shares.c.next_attempt_at <= now()
                )
                .order_by(credit_shares.c.next_attempt_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not due:
            return
        async with make_client() as client:
            for row in due:
                error = await _push(client, str(system.url), row.id, row.payload)
                attempts = row.attempts + 1
                if error is None:
                    values = {
                        "status": "sent",
                        "attempts": attempts,
                        "sent_at": now(),
                        "last_error": None,
                    }
                else:
                    log.warning(
                        "city_credit_push_failed",
                        share_id=str(row.id),
                        attempts=attempts,
                        error=error,
                    )
                    values = {
                        "status": "failed" if attempts >= system.max_attempts else "pending",
                        "attempts": attempts,
                        "last_error": error,
                        "next_attempt_at": now() + backoff(system, attempts),
                    }
                await uow.conn.execute(
                    credit_shares.update().where(credit_shares.c.id == row.id).values(**values)
                )

    return push_due


async def _push(client: httpx.AsyncClient, url: str, share_id: object, payload: dict) -> str | None:
    """None on success, else a short reason (no personal data: the payload holds none in clear)."""
    try:
        response = await client.post(url, json=payload, headers={"Idempotency-Key": str(share_id)})
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    if response.is_success:
        return None
    return f"HTTP {response.status_code}"
