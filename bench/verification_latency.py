"""Benchmark: acceptance -> verification.completed latency with simulated departments.

    uv run python -m bench.verification_latency [-n 1000] [--latency-ms 200] [--rate 50]

Runs the verification service (its runtime: consumer, outbox relay, department queues) in
this process, on its own database and its own exchanges, and the reference department
simulators for the eight default departments (``python -m simulators.departments``, each
answering after ``--latency-ms``) as a separate process. It publishes
``application.accepted`` for N applications at ``--rate`` per second on the events exchange,
as intake's relay would, and listens for ``verification.completed``. It prints the latency
percentiles, the ratio p50 / L (a design that asks departments one after another gives >= 8;
the goal is <= 1.2) and the throughput.

Needs the local PostgreSQL and RabbitMQ (``HOUSING_AMQP_URL``, ``HOUSING_DATABASE_URL_TEMPLATE``
as for the services). Creates database ``housing_verification_bench`` and exchanges/queues
prefixed ``bench.<run>``; the queues are deleted at the end, the database is kept (drop it
with ``DROP DATABASE housing_verification_bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import aio_pika
import orjson

from services.verification.bootstrap import definition
from shared.city import DEFAULT_VERIFYING_DEPARTMENTS
from shared.clock import now
from shared.events.catalogue import ApplicationAccepted, Household, HouseholdMember
from shared.events.envelope import Envelope
from shared.logging import configure_logging
from shared.migrations import upgrade
from shared.pii import keyed_hash, resident_id_check_char
from shared.runtime import Runtime
from shared.settings import settings_for

HASH_KEY = "bench-id-hash-key"


def _resident_id(i: int, member: int) -> str:
    first17 = f"350203{1970 + (i % 40):04d}0{1 + member}{10 + i % 18:02d}{i % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def application(i: int) -> ApplicationAccepted:
    members = []
    for m, (relationship, name) in enumerate((("applicant", "张三"), ("spouse", "李四"))):
        rid = _resident_id(i, m)
        members.append(
            HouseholdMember(
                member_id_hash=keyed_hash(rid, HASH_KEY),
                name=name,
                resident_id=rid,
                relationship=relationship,  # type: ignore[arg-type]
                declared_monthly_income=Decimal("3000.00"),
                declared_financial_assets=Decimal("10000.00"),
                declared_vehicle_count=0,
                declared_vehicle_value=Decimal("0"),
                hukou_division="350203",
            )
        )
    return ApplicationAccepted(
        application_id=uuid.uuid4(),
        tracking_no=f"BENCH-{i:06d}",
        receipt_no=f"SL-BENCH-{i:06d}",
        city="350200",
        district="350203",
        street="350203001",
        category="newly_employed",
        accepted_by="bench",
        accepted_at=now(),
        materials_complete=True,
        household=Household(
            members=members, declared_housing_area_m2=Decimal("0"), housing_tenure="none"
        ),
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


async def run(n: int, latency_ms: float, jitter_ms: float, rate: float) -> dict[str, float]:
    prefix = f"bench.{secrets.token_hex(3)}"
    settings = settings_for(
        "verification",
        database_url=settings_for("verification_bench").database_url,
        migration_database_url=settings_for("verification_bench").migration_database_url,
        events_exchange=f"{prefix}.events",
        verification_exchange=f"{prefix}.verification",
        queue_prefix=prefix,
        outbox_poll_seconds=0.2,
        log_json=True,
        log_level=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    )
    configure_logging("bench", settings.log_level, json=True)
    await upgrade("verification", settings.migration_database_url, app_role=settings.database_role)
    runtime = Runtime(definition(), settings)
    await runtime.start()

    sent: dict[str, float] = {}
    done: dict[str, float] = {}
    all_done = asyncio.Event()
    # The acceptances come from intake's broker account, as in production: verification
    # believes application.accepted from no one else (shared.amqp.producers).
    intake_account = settings_for("intake").broker_account
    connection = await aio_pika.connect_robust(settings_for("intake").amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    events = await channel.declare_exchange(
        settings.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    # Binds every verification.* event, so none of them is unroutable (the relay would retry).
    listener = await channel.declare_queue(f"{prefix}.listener", exclusive=True)
    await listener.bind(events, routing_key="verification.#")

    async def on_event(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            body = orjson.loads(message.body)
            if body["type"] == "verification.completed":
                app = body["data"]["application_id"]
                done.setdefault(app, time.monotonic())
                if len(done) >= n:
                    all_done.set()

    await listener.consume(on_event)

    # The department systems are separate programs, as in production: the reference
    # simulators run in their own process (and on the other core).
    heartbeat = f"/tmp/{prefix}.heartbeat"  # noqa: S108
    simulators = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.departments",
        "--departments",
        ",".join(DEFAULT_VERIFYING_DEPARTMENTS),
        "--latency-ms",
        str(latency_ms),
        "--jitter-ms",
        str(jitter_ms),
        "--heartbeat",
        heartbeat,
        env={
            **os.environ,
            "HOUSING_AMQP_URL": settings.amqp_url,
            "HOUSING_VERIFICATION_EXCHANGE": settings.verification_exchange,
            "HOUSING_QUEUE_PREFIX": settings.queue_prefix,
            "HOUSING_LOG_LEVEL": "WARNING",
        },
    )
    ready_by = time.monotonic() + 60
    while not await asyncio.to_thread(os.path.exists, heartbeat):
        if time.monotonic() > ready_by:
            raise RuntimeError("department simulators did not connect within 60 s")
        await asyncio.sleep(0.2)

    started = time.monotonic()
    for i in range(n):
        event = application(i)
        envelope = Envelope(
            id=uuid.uuid4(),
            type=event.event_type,
            version=event.event_version,
            occurred_at=now(),
            producer="bench",
            correlation_id=uuid.uuid4().hex,
            subject=str(event.application_id),
            data=event.model_dump(mode="json"),
        )
        sent[str(event.application_id)] = time.monotonic()
        await events.publish(
            aio_pika.Message(
                envelope.to_bytes(),
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                user_id=intake_account,
            ),
            routing_key=event.event_type,
        )
        # Paced arrivals; a late sender catches up instead of drifting.
        ahead = started + (i + 1) / rate - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)
    await asyncio.wait_for(all_done.wait(), timeout=max(120.0, 10 * n / rate))
    finished = max(done.values())

    simulators.terminate()
    await simulators.wait()
    os.remove(heartbeat)
    cleanup = await connection.channel()
    for dept in runtime.city.departments:
        for suffix in ("", ".dead"):
            await cleanup.queue_delete(f"{prefix}.dept.{dept.code}{suffix}")
    await connection.close()
    await runtime.stop()

    latencies = [(done[a] - sent[a]) * 1000 for a in sent]
    p50 = statistics.median(latencies)
    return {
        "n": n,
        "latency_ms": latency_ms,
        "p50_ms": p50,
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "ratio_p50_over_L": p50 / latency_ms,
        "applications_per_second": n / (finished - started),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.verification_latency")
    parser.add_argument("-n", type=int, default=1000, help="applications (default 1000)")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="department delay L")
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--rate", type=float, default=50.0, help="applications per second")
    args = parser.parse_args()
    result = asyncio.run(run(args.n, args.latency_ms, args.jitter_ms, args.rate))
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {platform.machine()}  "
        f"{os.cpu_count()} CPUs  Python {platform.python_version()}"
    )
    print(
        f"N={result['n']} L={result['latency_ms']:.0f} ms rate={args.rate}/s: "
        f"p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, "
        f"p99 {result['p99_ms']:.0f} ms; p50/L = {result['ratio_p50_over_L']:.2f}; "
        f"{result['applications_per_second']:.1f} applications/s"
    )


if __name__ == "__main__":
    main()
