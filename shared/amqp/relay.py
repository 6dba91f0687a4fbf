"""The outbox relay: publishes committed outbox rows and marks them sent after the confirm.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so that several replicas relay in parallel
without sending a row twice at once; a ``LISTEN outbox`` connection only wakes the loop early,
polling is what guarantees progress. All rows of a batch are published concurrently and their
confirms awaited together: waiting for one confirm at a time would cap throughput at a few
hundred messages a second. A row whose publish fails stays pending with a growing back-off;
after ``max_attempts`` failures it is parked: left unsent, no longer tried, counted by
/metrics ``outbox_parked`` and listed by ``python -m shared.amqp.outbox`` until an operator
releases it.

When the database refuses (down, read-only, disk full) the relay waits longer after each
failure instead of trying every poll. Rows it published but could not mark sent (the UPDATE
failed after the broker's confirm) are remembered, and the next round marks them sent without
publishing them again, so a database that cannot write does not turn into a stream of
duplicates.

The watchdog (``shared.amqp.watchdog``) asks the relay whether it is stuck: ``last_progress``
is when a pass last ended with nothing left due or with a broker answer (a confirm, a nack or
a return: the link works, whatever the broker thought of the message), and ``rows_due()``
whether anything is waiting. Rows due and no progress for long means the publishing link is
dead in a way no exception shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import timedelta
from typing import NamedTuple

import aiormq
import asyncpg
import sqlalchemy as sa
import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.amqp.broker import Broker
from shared.clock import now
from shared.db import OUTBOX_CHANNEL, fetch
from shared.tables import outbox

log = structlog.get_logger(__name__)

PUBLISHED = Counter("outbox_published_total", "Outbox rows published and confirmed", ["service"])
FAILED = Counter(
    "outbox_publish_failures_total", "Outbox publish attempts that failed", ["service"]
)
PENDING = Gauge("outbox_pending", "Outbox rows not yet confirmed by the broker", ["service"])
DATABASE_ERRORS = Counter(
    "outbox_relay_database_errors_total",
    "Relay rounds the database refused (down, read-only, disk full)",
    ["service"],
)
PARKED = Counter(
    "outbox_rows_parked_total", "Outbox rows parked after their last publish attempt", ["service"]
)

MAX_BACKOFF_SECONDS = 30.0

# The relay's statements run every round of every service: fixed text (arrays, not IN lists
# or one UPDATE per row) run on the driver and prepared once per connection (shared.db.fetch).
# Due: unsent, past its back-off, not parked (``_due``; the partial index outbox_pending).
_CLAIM_DUE = """
SELECT seq, id, type, exchange, routing_key, correlation_id, body, attempts FROM outbox
WHERE sent_at IS NULL AND next_attempt_at <= now() AND attempts < $1
ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED
"""


class _Due(NamedTuple):
    seq: int
    id: uuid.UUID
    type: str
    exchange: str
    routing_key: str
    correlation_id: str
    body: bytes
    attempts: int


_MARK_SENT = "UPDATE outbox SET sent_at = $2 WHERE seq = ANY($1::bigint[])"
# The rows are locked by _CLAIM_DUE, so attempts + 1 is the count the parking check below uses.
_MARK_FAILED = """
UPDATE outbox SET attempts = outbox.attempts + 1, next_attempt_at = failed.next_attempt_at,
    last_error = failed.last_error
FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS failed(seq, next_attempt_at, last_error)
WHERE outbox.seq = failed.seq
"""


PUBLISH_CONFIRM_TIMEOUT_SECONDS = 10.0


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(0.25 * 2**attempts, MAX_BACKOFF_SECONDS))


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        broker: Broker,
        *,
        service: str,
        database_url: str,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        max_attempts: int = 50,
    ) -> None:
        self.engine = engine
        self.broker = broker
        self.service = service
        self.database_url = database_url
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        # Rows published (confirmed) whose "sent" the database did not record yet.
        self._unrecorded: set[int] = set()
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self.last_progress = time.monotonic()

    def _due(self) -> sa.ColumnElement[bool]:
        """Rows to publish now: unsent, past their back-off, and not parked (a parked row waits
        for an operator, not for the relay or the link)."""
        return sa.and_(
            outbox.c.sent_at.is_(None),
            outbox.c.next_attempt_at <= sa.func.now(),
            outbox.c.attempts < self.max_attempts,
        )

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were claimed."""
        async with self.engine.begin() as conn:
            due = await fetch(conn, _CLAIM_DUE, self.max_attempts, self.batch_size)
            rows = [_Due(*row) for row in due]
            if not rows:
                self.last_progress = time.monotonic()
                return 0
            to_publish = [row for row in rows if row.seq not in self._unrecorded]
            published: list[BaseException | None] = []
            if to_publish:
                channel = await self.broker.publish_channel_underlay(
                    PUBLISH_CONFIRM_TIMEOUT_SECONDS
                )
                published = await asyncio.gather(
                    *(self._publish(channel, row) for row in to_publish), return_exceptions=True
                )
            outcome = dict(zip((r.seq for r in to_publish), published, strict=True))
            results = [outcome.get(row.seq) for row in rows]
            sent = [row.seq for row, result in zip(rows, results, strict=True) if result is None]
            failed = [
                (row, result)
                for row, result in zip(rows, results, strict=True)
                if result is not None
            ]
            # Until the commit below, these are published but not recorded.
            self._unrecorded.update(sent)
            # A nack or a return is the broker answering: the link works. A timeout or a lost
            # channel is not, and an unroutable row failing for ever must not look like a
            # stuck link either.
            if sent or any(isinstance(e, aiormq.exceptions.DeliveryError) for _, e in failed):
                self.last_progress = time.monotonic()
            stamp = now()
            if sent:
                await fetch(conn, _MARK_SENT, sent, stamp)
            if failed:
                errors = [f"{type(error).__name__}: {error}"[:500] for _, error in failed]
                await fetch(
                    conn,
                    _MARK_FAILED,
                    [row.seq for row, _ in failed],
                    [stamp + backoff(row.attempts) for row, _ in failed],
                    errors,
                )
            for row, error in failed:
                if row.attempts + 1 >= self.max_attempts:
                    PARKED.labels(self.service).inc()
                    log.error(
                        "outbox_row_parked",
                        outbox_id=str(row.id),
                        event_type=row.type,
                        attempts=row.attempts + 1,
                        error=f"{type(error).__name__}: {error}"[:200],
                    )
        self._unrecorded.difference_update(row.seq for row in rows)
        if len(self._unrecorded) > 10 * self.batch_size:
            # Rows another replica has since sent: forgetting them costs at most a duplicate,
            # which the consumers' inbox absorbs.
            self._unrecorded.clear()
        PUBLISHED.labels(self.service).inc(len(sent))
        if failed:
            FAILED.labels(self.service).inc(len(failed))
            log.warning(
                "outbox_publish_failed",
                failed=len(failed),
                first_error=f"{type(failed[0][1]).__name__}: {failed[0][1]}"[:200],
            )
        return len(rows)

    async def _publish(self, channel: aiormq.abc.AbstractChannel, row: _Due) -> None:
        # aiormq directly rather than aio-pika's Exchange.publish: that one waits for the socket
        # write of each message while holding the channel lock, which serialises a batch into
        # one write per event loop turn. wait=False only queues the frames; the broker's
        # confirm is still awaited, and a nack or a return (unroutable) still raises.
        await channel.basic_publish(
            row.body,
            exchange=row.exchange,
            routing_key=row.routing_key,
            properties=aiormq.spec.Basic.Properties(
                message_id=str(row.id),
                correlation_id=row.correlation_id,
                message_type=row.type,
                content_type="application/json",
                delivery_mode=2,  # persistent
                app_id=self.service,
                user_id=self.broker.user,
            ),
            mandatory=True,
            # A healthy broker confirms within milliseconds. A confirm still missing after
            # this long belongs to a channel that died under it (seen when the connection is
            # forced closed mid-batch): give up, keep the row, and let the next attempt publish
            # it on the restored channel (the consumers' inbox absorbs a late duplicate).
            timeout=PUBLISH_CONFIRM_TIMEOUT_SECONDS,
            wait=False,
        )

    async def rows_due(self) -> bool:
        """Whether any row waits to be published now: one probe of the partial index
        ``outbox_pending`` (never a count over the table)."""
        async with self.engine.connect() as conn:
            return bool(await conn.scalar(sa.select(sa.exists().where(self._due()))))

    async def pending(self) -> int:
        async with self.engine.connect() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            )
        PENDING.labels(self.service).set(count or 0)
        return int(count or 0)

    async def _listen(self) -> None:
        try:
            self._listener = await asyncpg.connect(asyncpg_dsn(self.database_url))
            await self._listener.add_listener(OUTBOX_CHANNEL, lambda *_: self._wake.set())
        except (OSError, asyncpg.PostgresError) as exc:
            # Only a hint: polling still relays everything, just later.
            log.warning("outbox_listen_unavailable", error=str(exc))
            self._listener = None

    async def run(self) -> None:
        await self._listen()
        database_pause = self.poll_seconds
        try:
            while True:
                if not self.broker.can_publish:
                    await self.broker.wait_publishing()
                try:
                    claimed = await self.relay_once()
                    database_pause = self.poll_seconds
                except (OSError, asyncpg.PostgresError, sa.exc.DBAPIError) as exc:
                    DATABASE_ERRORS.labels(self.service).inc()
                    log.warning(
                        "outbox_relay_db_error",
                        error=f"{type(exc).__name__}: {exc}"[:200],
                        retry_in_seconds=database_pause,
                    )
                    claimed = 0
                    await asyncio.sleep(database_pause)
                    database_pause = min(database_pause * 2, MAX_BACKOFF_SECONDS)
                except (TimeoutError, aiormq.exceptions.AMQPError) as exc:
                    # No publishing channel (a reconnect in progress, or the watchdog rebuilding
                    # the link): the claimed rows were released with the rollback; try again.
                    log.warning(
                        "outbox_relay_no_channel", error=f"{type(exc).__name__}: {exc}"[:200]
                    )
                    claimed = 0
                    await asyncio.sleep(self.poll_seconds)
                if claimed >= self.batch_size:
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                if self._listener is not None and self._listener.is_closed():
                    await self._listen()
        finally:
            if self._listener is not None and not self._listener.is_closed():
                await self._listener.close()
