"""Benchmark: what RabbitMQ and PostgreSQL alone spend per message and per transaction.

    uv run python -m bench.floor [--messages 20000] [--transactions 5000]

The floor under the pipeline's platform CPU (``bench.pipeline``): whatever the services' Python
costs, each application still makes the broker enqueue, deliver and take the ack of every
message, and the database run every transaction. Two measurements, each of the server's own
CPU time (``/proc``):

* RabbitMQ: ``--messages`` persistent messages of an envelope's size published with confirms
  (pipelined, as the relay does) to one quorum queue, consumed and acked one by one (as the
  consumers do today). ``beam.smp`` serves everyone on this machine, so its CPU over an idle
  stretch just before is subtracted; repeat the run when the machine is busy.
* PostgreSQL: ``--transactions`` consumer transactions of today's shape on one raw asyncpg
  connection (no SQLAlchemy): BEGIN, inbox claim, the handler's one write, outbox INSERT,
  NOTIFY, COMMIT, then the relay's claim and its UPDATE of the row as sent. Only that
  connection's backend is measured, so other users of the server do not count.

Multiply by the pipeline's messages delivered and transactions per application for the floor.
Each also prints this process's own CPU per message and per event: what the thinnest Python
client (aiormq, prepared asyncpg statements, no framework) costs on top.
Uses a database ``bench_floor_<run>`` and a queue ``bench.floor.<run>``, both removed after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
import uuid
from pathlib import Path

import aiormq
import asyncpg
import sqlalchemy as sa
import uvloop
from sqlalchemy.engine import make_url

from bench.pipeline import BROKER_PID
from shared.db import create_engine
from shared.settings import settings_for
from shared.tables import platform_metadata

BODY = b"x" * 1500  # about one envelope (application.accepted is larger, answers smaller)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _beam() -> float:
    return _cpu(BROKER_PID) if BROKER_PID is not None else 0.0


async def rabbitmq(url: str, count: int, run: str) -> dict[str, float]:
    connection = await aiormq.connect(url)
    try:
        channel = await connection.channel()
        queue = f"bench.floor.{run}"
        await channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        began, idle_cpu = time.monotonic(), _beam()
        await asyncio.sleep(3.0)
        idle = (_beam() - idle_cpu) / (time.monotonic() - began)

        consumer = await connection.channel()
        await consumer.basic_qos(prefetch_count=200)
        done = asyncio.Event()
        received = 0

        async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
            nonlocal received
            await message.channel.basic_ack(message.delivery_tag)
            received += 1
            if received == count:
                done.set()

        began, cpu, client = time.monotonic(), _beam(), time.process_time()
        await consumer.basic_consume(queue, on_message)
        properties = aiormq.spec.Basic.Properties(delivery_mode=2, message_id="m")
        window = 500
        for start in range(0, count, window):
            await asyncio.gather(
                *(
                    channel.basic_publish(BODY, routing_key=queue, properties=properties)
                    for _ in range(min(window, count - start))
                )
            )
        await asyncio.wait_for(done.wait(), 300)
        took = time.monotonic() - began
        used = _beam() - cpu - idle * took
        client = time.process_time() - client
        await channel.queue_delete(queue)
    finally:
        await connection.close()
    return {
        "us_per_message": used / count * 1e6,
        "client_us_per_message": client / count * 1e6,
        "idle_cpu_per_s": idle,
        "seconds": took,
    }


CONSUMER_TRANSACTION = [
    "INSERT INTO inbox (event_id, type, handled_at) VALUES ($1, 'bench.event', now())"
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
    "INSERT INTO effects (event_id) VALUES ($1)",
    "INSERT INTO outbox (id, type, exchange, routing_key, subject, correlation_id, body,"
    " created_at, next_attempt_at) VALUES ($1, 'bench.event', 'x', 'bench.event', 's', 'c',"
    " $2, now(), now())",
    "SELECT pg_notify('outbox', '')",
]
RELAY = [
    "SELECT seq FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= now()"
    " ORDER BY seq LIMIT 500 FOR UPDATE SKIP LOCKED",
    "UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])",
]


async def postgresql(owner_url: str, count: int) -> dict[str, float]:
    engine = create_engine(owner_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(platform_metadata.create_all)
            await conn.execute(sa.text("CREATE TABLE effects (event_id uuid NOT NULL)"))
    finally:
        await engine.dispose()
    plain = make_url(owner_url).set(drivername="postgresql")
    conn = await asyncpg.connect(plain.render_as_string(hide_password=False))
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        statements = [await conn.prepare(s) for s in CONSUMER_TRANSACTION]
        claim, mark = [await conn.prepare(s) for s in RELAY]
        cpu, began, client = _cpu(pid), time.monotonic(), time.process_time()
        for _ in range(count):
            event_id = uuid.uuid4()
            async with conn.transaction():
                await statements[0].fetch(event_id)
                await statements[1].fetch(event_id)
                await statements[2].fetch(uuid.uuid4(), BODY)
                await statements[3].fetch()
            async with conn.transaction():
                seqs = [r["seq"] for r in await claim.fetch()]
                await mark.fetch(seqs)
        used, took = _cpu(pid) - cpu, time.monotonic() - began
        client = time.process_time() - client
    finally:
        await conn.close()
    # Two transactions per event: the consumer's and the relay's.
    return {
        "us_per_consumer_and_relay_transaction": used / count * 1e6,
        "client_us_per_consumer_and_relay_transaction": client / count * 1e6,
        "seconds": took,
    }


async def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n")[0])
    p.add_argument("--messages", type=int, default=20000)
    p.add_argument("--transactions", type=int, default=5000)
    args = p.parse_args(argv)
    run = secrets.token_hex(3)
    settings = settings_for("intake")
    owner_url = settings.migration_database_url_template.format(service=f"bench_floor_{run}")
    target = make_url(owner_url)
    admin_url = target.set(drivername="postgresql", database="postgres")
    admin = await asyncpg.connect(admin_url.render_as_string(hide_password=False))
    try:
        await admin.execute(f'CREATE DATABASE "{target.database}"')
        try:
            database = await postgresql(owner_url, args.transactions)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    finally:
        await admin.close()
    broker = await rabbitmq(settings.amqp_url, args.messages, run)
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"RabbitMQ: {broker['us_per_message']:.0f} µs of CPU per message published with confirm,"
        f" delivered and acked on a quorum queue ({args.messages} messages in "
        f"{broker['seconds']:.1f} s; idle rate subtracted {broker['idle_cpu_per_s'] * 1000:.0f}"
        " ms/s)"
    )
    print(
        f"  the client (aiormq, this process): {broker['client_us_per_message']:.0f} µs per"
        " message published, consumed and acked"
    )
    print(
        "PostgreSQL: "
        f"{database['us_per_consumer_and_relay_transaction']:.0f} µs of backend CPU per event "
        f"(a consumer transaction of 4 statements and the relay's of 2; {args.transactions} "
        f"events in {database['seconds']:.1f} s)"
    )
    print(
        "  the client (raw asyncpg, prepared, this process): "
        f"{database['client_us_per_consumer_and_relay_transaction']:.0f} µs per event"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(uvloop.run(main()))
