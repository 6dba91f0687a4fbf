"""Database access: the async engine and the unit of work.

Every write happens inside ``async with UnitOfWork(...) as uow`` and is committed explicitly;
leaving the block without ``commit()`` rolls back. Events emitted through the unit of work are
written to the outbox in the same transaction, so "state changed" and "event will be
published" are one fact.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from shared import correlation
from shared.clock import now
from shared.events.base import EventPayload
from shared.events.envelope import Envelope
from shared.tables import outbox

OUTBOX_CHANNEL = "outbox"


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    statement_timeout_ms: int = 0,
    lock_timeout_ms: int = 0,
    idle_in_transaction_timeout_ms: int = 0,
) -> AsyncEngine:
    """The engine of a service (or tool). The time limits (0: none) are set on every
    connection, so a runaway query, a lock held by a stuck transaction or a transaction left
    open cannot hold a worker and its connection for ever; the statement fails instead and its
    caller retries (a consumer through its retry queues)."""
    limits = {
        "statement_timeout": statement_timeout_ms,
        "lock_timeout": lock_timeout_ms,
        "idle_in_transaction_session_timeout": idle_in_transaction_timeout_ms,
    }
    server_settings = {name: str(ms) for name, ms in limits.items() if ms}
    engine = create_async_engine(
        url,
        connect_args={"server_settings": server_settings} if server_settings else {},
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: it cost a BEGIN/SELECT 1/ROLLBACK round trip before every transaction.
        # ``_refuse_closed`` below drops, without a round trip, a pooled connection the server
        # has closed (a terminated backend, a restart). One that died silently fails its
        # first statement instead; SQLAlchemy then discards it and every connection pooled
        # before it, the consumer holds the message as "database unavailable" and tries again
        # on a fresh one, the relay retries its round, and an HTTP request answers 503.
        pool_recycle=1800,
        # A failed statement's message would carry its bound values (names, addresses) into
        # the error log; the SQL text alone is enough to find the fault.
        hide_parameters=True,
    )
    sa.event.listen(engine.sync_engine, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """At checkout: asyncpg already knows when the server hung up on an idle connection (it
    read the termination message and the end of the stream), so asking costs no round trip;
    DisconnectionError makes the pool discard it and check out another."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise sa.exc.DisconnectionError("the server closed this pooled connection")


class UnitOfWork:
    """One database transaction plus the events it will publish."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        producer: str,
        exchanges: Mapping[str, str] | None = None,
    ) -> None:
        self._engine = engine
        self.producer = producer
        # Logical exchange name -> broker exchange name (tests use per-run names).
        self._exchanges = exchanges or {
            "events": "housing.events",
            "verification": "housing.verification",
        }
        self._conn: AsyncConnection | None = None
        self._pending: list[dict[str, Any]] = []
        self._committed = False
        self.emitted: list[Envelope] = []

    @property
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._conn

    async def __aenter__(self) -> Self:
        self._conn = await self._engine.connect()
        await self._conn.begin()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._conn is not None
        try:
            if not self._committed:
                await self._conn.rollback()
        finally:
            await self._conn.close()
            self._conn = None

    def emit(
        self,
        payload: EventPayload,
        *,
        subject: str,
        correlation_id: str | None = None,
    ) -> Envelope:
        """Queue a typed event for the outbox of this transaction."""
        return self.emit_raw(
            event_type=payload.event_type,
            version=payload.event_version,
            data=payload.model_dump(mode="json"),
            subject=subject,
            exchange=payload.exchange,
            routing_key=payload.routing_key(),
            correlation_id=correlation_id,
        )

    def emit_raw(
        self,
        *,
        event_type: str,
        data: dict[str, Any],
        subject: str,
        version: int = 1,
        exchange: str = "events",
        routing_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Envelope:
        cid = (
            correlation_id
            or correlation.current_correlation_id()
            or correlation.new_correlation_id()
        )
        envelope = Envelope(
            id=uuid.uuid4(),
            type=event_type,
            version=version,
            occurred_at=now(),
            producer=self.producer,
            correlation_id=cid,
            causation_id=correlation.current_causation_id(),
            subject=subject,
            data=data,
        )
        self._pending.append(
            {
                "id": envelope.id,
                "type": event_type,
                "exchange": self._exchanges[exchange],
                "routing_key": routing_key or event_type,
                "subject": subject,
                "correlation_id": cid,
                "body": envelope.to_bytes(),
                "created_at": envelope.occurred_at,
            }
        )
        self.emitted.append(envelope)
        return envelope

    async def commit(self) -> None:
        conn = self.conn
        if self._pending:
            # One multi-row INSERT for all events of the transaction, plus a wake-up for the
            # relay that PostgreSQL delivers only if and when this transaction commits.
            await conn.execute(outbox.insert(), self._pending)
            await conn.execute(sa.select(sa.func.pg_notify(OUTBOX_CHANNEL, "")))
            self._pending = []
        await conn.commit()
        self._committed = True
