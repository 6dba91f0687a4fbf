"""Throughput of the shared event layer: outbox -> relay -> RabbitMQ -> consumer -> inbox.

``uv run python -m bench.event_layer [--events 20000] [--batch 100]``

Writes N events through the outbox in transactions of ``--batch`` events (as a busy service
would), with the relay and one consumer running in this process, and reports how fast events
are published (confirmed by the broker) and handled (committed with their inbox row), plus the
emit-to-handled latency percentiles. Uses the local PostgreSQL and RabbitMQ (or TEST_* URLs) and
removes its database and queues afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time
from datetime import UTC, datetime

import asyncpg
import sqlalchemy as sa

from shared.amqp.topology import delete_queue_family
from shared.events.envelope import Envelope
from shared.tables import inbox
from tests.integration.eventlayer import Layer

latencies: list[float] = []


async def drop_database(url: str) -> None:
    target = sa.engine.make_url(url)
    admin = target.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    finally:
        await conn.close()


async def main(events: int, batch: int) -> None:
    token = secrets.token_hex(3)
    db = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/x")
    amqp = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    layer = Layer(
        service=f"bench{token}",
        database_url=sa.engine.make_url(db).set(database=f"bench_{token}").render_as_string(False),
        amqp_url=amqp,
        prefix=f"bench{token}",
    )
    await layer.create_schema()
    await layer.connect()

    async def record_latency(uow, event: Envelope) -> None:  # type: ignore[no-untyped-def]
        latencies.append((datetime.now(UTC) - event.occurred_at).total_seconds())

    consumer = layer.consumer(prefetch=500)
    consumer.handlers = {"test.happened": record_latency}
    await consumer.start()
    relay = asyncio.create_task(layer.relay().run())
    started = time.perf_counter()
    for offset in range(0, events, batch):
        async with layer.uow() as uow:
            for i in range(offset, min(events, offset + batch)):
                uow.emit_raw(event_type="test.happened", data={"n": i}, subject=f"app-{i}")
            await uow.commit()
    written = time.perf_counter() - started
    assert layer.engine is not None
    while True:
        async with layer.engine.connect() as conn:
            handled = await conn.scalar(sa.select(sa.func.count()).select_from(inbox))
        if handled >= events:
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    relay.cancel()
    await consumer.stop()
    # Leave nothing behind on the broker or the database server.
    assert layer.broker is not None and layer.broker.publish_channel is not None
    await delete_queue_family(layer.broker.publish_channel, layer.spec)
    await layer.close()
    await drop_database(layer.database_url)
    q = statistics.quantiles(latencies, n=100)
    print(f"events: {events} in transactions of {batch}")
    print(f"outbox writes finished after {written:.2f} s ({events / written:,.0f} events/s)")
    print(f"all handled after {elapsed:.2f} s: {events / elapsed:,.0f} events/s end to end")
    print(
        f"emit->handled latency p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, "
        f"p99 {q[98] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.batch))
