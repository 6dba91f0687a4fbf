"""Database access: the async engine and the unit of work.

Every write happens inside ``async with UnitOfWork(...) as uow`` and is committed explicitly;
leaving the block without ``commit()`` rolls back. Events emitted through the unit of work are
written to the outbox in the same transaction, so "state changed" and "event will be
published" are one fact.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, Self

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from shared import correlation
from shared.clock import now
from shared.events.base import EventPayload
from shared.events.envelope import Envelope

OUTBOX_CHANNEL = "outbox"

# All events of a transaction in one statement whose text does not depend on how many there
# are (one array per column), and in the same round trip the relay's wake-up, which PostgreSQL
# delivers only if and when the transaction commits. A data-modifying WITH runs to completion
# whether or not the outer query reads it.
_INSERT_OUTBOX = f"""
WITH written AS (
    INSERT INTO outbox (id, type, exchange, routing_key, subject, correlation_id, body, created_at)
    SELECT * FROM unnest(
        $1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[],
        $8::timestamptz[]
    )
)
SELECT pg_notify('{OUTBOX_CHANNEL}', '')
"""


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


async def fetch(conn: AsyncConnection, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Run a hot-path statement on the asyncpg connection under ``conn``, in its transaction.

    The event layer's statements run once or more per event in every service; through
    SQLAlchemy's execution machinery each costs about twice the client CPU of the driver call
    itself (``bench.unit_of_work``). The statement runs in ``conn``'s transaction, begun here
    if it has none yet, as SQLAlchemy's autobegin would (a lock taken must last to the caller's
    commit, not end with the statement). ``sql`` must be fixed text with
    ``$n`` parameters (arrays and ``unnest`` for sets, never a text that grows with the batch),
    so asyncpg prepares it once per connection and reuses it from its statement cache. The
    connection's server settings (``statement_timeout`` ...) apply as to every statement; a
    failure is raised as SQLAlchemy would raise it (a ``DBAPIError`` naming the SQL, never the
    values), so callers and their error handling cannot tell the difference.
    """
    if not conn.in_transaction():
        await conn.begin()
    fairy = await conn.get_raw_connection()
    adapted = fairy.dbapi_connection
    try:
        if adapted._transaction is None:
            # SQLAlchemy's adapter sends BEGIN lazily, with its first statement: a statement
            # sent on the driver before that would autocommit on its own, outside the unit of
            # work. Beginning here costs no extra round trip (the BEGIN was due anyway).
            await adapted._start_transaction()
        return await fairy.driver_connection.fetch(sql, *args)
    except Exception as error:
        raise await _as_sqlalchemy_error(conn, adapted, sql, error) from error


_NAMED_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))"


async def lock_named(conn: AsyncConnection, name: str) -> None:
    """Hold the advisory lock named ``name`` until ``conn``'s transaction ends: writers of the
    same name (an application, an idempotency key) wait for each other."""
    await fetch(conn, _NAMED_LOCK, name)


async def _as_sqlalchemy_error(
    conn: AsyncConnection, adapted: Any, sql: str, error: Exception
) -> Exception:
    """What SQLAlchemy's own execute raises for ``error``: the adapter's DB-API translation
    wrapped in ``DBAPIError`` (or a subclass); a dead connection is invalidated as well, so the
    pool drops it instead of lending it again."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    translated: Exception = error
    if not isinstance(error, dbapi_error):  # the BEGIN above comes translated already
        try:
            adapted._handle_exception(error)
        except Exception as raised:  # it always raises: the translation
            translated = raised
    if not isinstance(translated, dbapi_error):
        return error  # not the database's (a bug in the caller): as it was
    invalidated = conn.dialect.is_disconnect(translated, adapted, None)
    if invalidated:
        await conn.invalidate(translated)
    return sa.exc.DBAPIError.instance(
        sql,
        None,
        translated,
        dbapi_error,
        hide_parameters=True,
        connection_invalidated=invalidated,
        dialect=conn.dialect,
    )


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
        self._pending: list[tuple[Any, ...]] = []
        self._collected: dict[str, tuple[list[Any], Callable[[UnitOfWork, list[Any]], None]]] = {}
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
        event_id: uuid.UUID | None = None,
    ) -> Envelope:
        """Queue a typed event for the outbox of this transaction (``event_id``: one derived
        from the content, for an event whose copies must be recognised; default a new one)."""
        return self.emit_raw(
            event_type=payload.event_type,
            version=payload.event_version,
            data=payload.model_dump(mode="json"),
            subject=subject,
            exchange=payload.exchange,
            routing_key=payload.routing_key(),
            correlation_id=correlation_id,
            event_id=event_id,
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
        event_id: uuid.UUID | None = None,
    ) -> Envelope:
        cid = (
            correlation_id
            or correlation.current_correlation_id()
            or correlation.new_correlation_id()
        )
        envelope = Envelope(
            id=event_id or uuid.uuid4(),
            type=event_type,
            version=version,
            occurred_at=now(),
            producer=self.producer,
            correlation_id=cid,
            causation_id=correlation.current_causation_id(),
            subject=subject,
            data=data,
        )
        # In the column order of _INSERT_OUTBOX.
        self._pending.append(
            (
                envelope.id,
                event_type,
                self._exchanges[exchange],
                routing_key or event_type,
                subject,
                cid,
                envelope.to_bytes(),
                envelope.occurred_at,
            )
        )
        self.emitted.append(envelope)
        return envelope

    def collect(self, key: str, flush: Callable[[UnitOfWork, list[Any]], None]) -> list[Any]:
        """The list under ``key`` that ``flush(uow, items)`` turns into events at commit, before
        the outbox is written: for what one event should carry for the whole transaction
        (verification's request batches, one per department however many handlers asked)."""
        found = self._collected.setdefault(key, ([], flush))
        return found[0]

    async def commit(self) -> None:
        conn = self.conn
        collected, self._collected = self._collected, {}
        for items, flush in collected.values():
            if items:
                flush(self, items)
        if self._pending:
            columns = zip(*self._pending, strict=True)
            await fetch(conn, _INSERT_OUTBOX, *(list(column) for column in columns))
            self._pending = []
        await conn.commit()
        self._committed = True
