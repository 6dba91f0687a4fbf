"""The provincial push (向省监管系统实时传送): log, pusher, metrics.

Every key process event is written to ``push_log`` in the transaction that handled (or
produced) it, one row per configured endpoint and stream. The pusher sends, for each stream,
only its oldest unacknowledged row, signed with HMAC-SHA256; a 2xx answer acknowledges it, any
other outcome schedules a retry with exponential backoff. A stream's later events therefore
wait behind an earlier one that has not been acknowledged, which is what "in order per
application" means. A row acknowledged by the receiver but not yet marked (crash between the
two) is sent again with the same push id; the receiver deduplicates on it.

"In order" is the order in which this service handled the events of one application. Events
from different producers about the same application are causally ordered in practice (review
starts only after verification, which starts after acceptance), and the inbox and stage guards
make a late duplicate harmless; a strict cross-producer order is not claimed.

A tick holds its transaction (and the scheduler's advisory lock) while it sends: at most
``push_batch`` requests per round, 16 at a time, each bounded by ``push_timeout_seconds``.
The HTTP client is built once per pusher (on its first tick) and reused by every tick.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncConnection

from services.publication import domain
from services.publication.settings import ProvinceEndpoint, PublicationSettings
from services.publication.tables import push_log
from shared import correlation
from shared.clock import now
from shared.db import UnitOfWork

log = structlog.get_logger(__name__)

PUSH_BACKLOG = Gauge(
    "province_push_backlog", "Provincial pushes not yet acknowledged", ["endpoint"]
)
PUSH_OLDEST_SECONDS = Gauge(
    "province_push_oldest_unacked_seconds",
    "Age of the oldest unacknowledged provincial push",
    ["endpoint"],
)
PUSH_FAILURES = Counter(
    "province_push_failures_total",
    "Provincial push attempts that were not acknowledged",
    ["endpoint"],
)
PUSH_DELIVERED = Counter(
    "province_push_delivered_total", "Provincial pushes acknowledged", ["endpoint"]
)

_INSERT = sa.text(
    """
    INSERT INTO push_log (endpoint, stream_key, stream_seq, push_id, event_type, body,
                          created_at, next_attempt_at)
    SELECT v.endpoint, v.stream_key,
           COALESCE((SELECT max(p.stream_seq) FROM push_log p
                     WHERE p.endpoint = v.endpoint AND p.stream_key = v.stream_key), 0) + 1,
           v.push_id, :event_type, v.body, :at, :at
    FROM unnest(CAST(:endpoints AS text[]), CAST(:keys AS text[]), CAST(:push_ids AS text[]),
                CAST(:bodies AS bytea[])) AS v(endpoint, stream_key, push_id, body)
    ON CONFLICT (endpoint, push_id) DO NOTHING
    """
)


async def record_pushes(
    conn: AsyncConnection,
    endpoints: Sequence[ProvinceEndpoint],
    *,
    event_id: uuid.UUID,
    event_type: str,
    occurred_at: datetime,
    items: Sequence[dict[str, Any]],
) -> None:
    """Log one event for the province; ``items`` are per-stream payloads (usually one; a notice
    event has one per application it lists)."""
    if not endpoints or not items:
        return
    rows: list[tuple[str, str, str, bytes]] = []
    for data in items:
        key = domain.stream_key(event_type, data)
        push_id = f"{event_id}:{key}"
        body = {
            "push_id": push_id,
            "event_id": str(event_id),
            "type": event_type,
            "occurred_at": occurred_at.isoformat(),
            "stream": key,
            "data": domain.push_data(event_type, data),
        }
        for endpoint in endpoints:
            rows.append((endpoint.name, key, push_id, orjson.dumps(body)))
    keys = sorted({(r[0], r[1]) for r in rows})
    # One lock per stream, taken in a fixed order: two transactions appending to the same
    # application never compute the same stream_seq, and never deadlock on each other.
    await conn.execute(
        sa.text(
            "SELECT pg_advisory_xact_lock(hashtextextended('push:' || k, 0)) "
            "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k"
        ),
        {"keys": [f"{e}|{k}" for e, k in keys]},
    )
    await conn.execute(
        _INSERT,
        {
            "event_type": event_type,
            "at": now(),
            "endpoints": [r[0] for r in rows],
            "keys": [r[1] for r in rows],
            "push_ids": [r[2] for r in rows],
            "bodies": [r[3] for r in rows],
        },
    )


_HEADS = sa.text(
    """
    SELECT id, endpoint, push_id, body, attempts FROM (
        SELECT DISTINCT ON (endpoint, stream_key)
               id, endpoint, stream_key, push_id, body, attempts, next_attempt_at
        FROM push_log
        WHERE acked_at IS NULL AND endpoint = ANY(CAST(:endpoints AS text[]))
        ORDER BY endpoint, stream_key, stream_seq
    ) AS heads
    WHERE next_attempt_at <= :now
    ORDER BY next_attempt_at, id
    LIMIT :limit
    """
)


class Pusher:
    """Sends due stream heads to their endpoints; one ``sweep`` per scheduler tick."""

    def __init__(
        self, config: PublicationSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self.endpoints = {e.name: e for e in config.province_endpoints}
        self.transport = transport
        # The sending city, set from the runtime's city configuration when the job starts.
        self.city: str | None = None
        self._concurrency = asyncio.Semaphore(16)
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        """The one HTTP client of this pusher, built on first use (inside the event loop)."""
        if self._client is None:
            self._client = correlation.http_client(
                timeout=self.config.push_timeout_seconds, transport=self.transport
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def sweep(self, uow: UnitOfWork, *, max_rounds: int = 20) -> int:
        """Deliver what is due; returns how many pushes were acknowledged.

        Several rounds per tick, so a stream whose head was just acknowledged sends its next
        event without waiting a whole interval.
        """
        if not self.endpoints:
            # Nothing configured: no HTTP client (its SSL context is costly to build) and no
            # query; the gauges have no endpoint to report either.
            return 0
        delivered = 0
        client = self.client()
        for _ in range(max_rounds):
            heads = (
                await uow.conn.execute(
                    _HEADS,
                    {
                        "endpoints": list(self.endpoints),
                        "now": now(),
                        "limit": self.config.push_batch,
                    },
                )
            ).all()
            if not heads:
                break
            results = await asyncio.gather(*(self._send(client, row) for row in heads))
            acked = [row.id for row, error in zip(heads, results, strict=True) if error is None]
            failed = [(row, error) for row, error in zip(heads, results, strict=True) if error]
            at = now()
            if acked:
                await uow.conn.execute(
                    push_log.update()
                    .where(push_log.c.id.in_(acked))
                    .values(acked_at=at, attempts=push_log.c.attempts + 1, last_error=None)
                )
                delivered += len(acked)
            if failed:
                await uow.conn.execute(
                    push_log.update()
                    .where(push_log.c.id == sa.bindparam("row_id"))
                    .values(
                        attempts=push_log.c.attempts + 1,
                        next_attempt_at=sa.bindparam("retry_at"),
                        last_error=sa.bindparam("error"),
                    ),
                    [
                        {
                            "row_id": row.id,
                            "retry_at": at
                            + domain.backoff(
                                row.attempts + 1,
                                self.config.push_backoff_seconds,
                                self.config.push_backoff_max_seconds,
                            ),
                            "error": error[:500],
                        }
                        for row, error in failed
                    ],
                )
            if not acked:
                break
        await self.update_gauges(uow.conn)
        return delivered

    async def _send(self, client: httpx.AsyncClient, row: Any) -> str | None:
        """None when acknowledged, else why not."""
        endpoint = self.endpoints[row.endpoint]
        timestamp = now().isoformat()
        body: bytes = row.body
        headers = {
            "Content-Type": "application/json",
            domain.TIMESTAMP_HEADER: timestamp,
            domain.PUSH_ID_HEADER: row.push_id,
            domain.CITY_HEADER: self.city or "",
            domain.SIGNATURE_HEADER: domain.signature(
                endpoint.secret.get_secret_value(), timestamp, body
            ),
        }
        async with self._concurrency:
            try:
                response = await client.post(endpoint.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= response.status_code < 300:
                    PUSH_DELIVERED.labels(endpoint.name).inc()
                    return None
                error = f"HTTP {response.status_code}"
        PUSH_FAILURES.labels(endpoint.name).inc()
        log.warning("province_push_failed", endpoint=endpoint.name, error=error[:200])
        return error

    async def update_gauges(self, conn: AsyncConnection) -> None:
        rows = (
            await conn.execute(
                sa.select(
                    push_log.c.endpoint,
                    sa.func.count(),
                    sa.func.min(push_log.c.created_at),
                )
                .where(push_log.c.acked_at.is_(None))
                .group_by(push_log.c.endpoint)
            )
        ).all()
        found = {r[0]: (r[1], r[2]) for r in rows}
        at = now()
        for name in self.endpoints:
            count, oldest = found.get(name, (0, None))
            PUSH_BACKLOG.labels(name).set(count)
            PUSH_OLDEST_SECONDS.labels(name).set(
                0 if oldest is None else max(0.0, (at - oldest).total_seconds())
            )
