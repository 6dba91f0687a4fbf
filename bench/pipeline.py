"""Benchmark: the pipeline from submission to a review task ready, under sustained load.

    make bench                       # = uv run python -m bench.pipeline
    uv run python -m bench.pipeline -n 3000 --rate 200 --latency-ms 50 --dispatch both

For each dispatch mode (``parallel``, the design; ``serial``, the baseline in which
verification asks one department after another) it starts the whole platform as local
processes (``simulators.local_suite``: the six services and the eight reference department
simulators, each answering after ``--latency-ms``) on databases and queues of its own, and
drives households through intake's public API at ``--rate`` per second, open loop
(``simulators.applicants``): submission, then acceptance with a receipt. The pipeline is
done for an application when review has its case with the verification result attached: the
street clerk's task is ready.

It prints, per mode: applications per second sustained (accepted applications over the time
from the first submission to the last task ready), end-to-end latency percentiles (submission
to task ready), the fan-out ratio (verification time p50 / department latency: 1 when the
departments work in parallel, 8 or more when they take turns), and the checks that nothing was
lost or doubled (applications, cases, answered requests, dead letters).

Times are read afterwards from the services' own databases (review's ``verifications.
received_at`` and ``cases.opened_at``, verification's case ``started_at``/``completed_at``),
so measuring adds no messages. Needs the local PostgreSQL and RabbitMQ
(``HOUSING_AMQP_URL``, ``HOUSING_DATABASE_URL_TEMPLATE``); databases ``bench_<run>_*`` and the
queues ``bench.<run>.*`` are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import orjson
from sqlalchemy.engine import make_url

from shared.settings import SERVICES, settings_for
from simulators.applicants import Submitted, submit_many
from simulators.local_suite import LocalSuite

DEPARTMENTS = 8  # the default eight of the newly-employed category


@dataclass
class Result:
    mode: str
    n: int
    offered_rate: float
    throughput: float
    p50: float
    p95: float
    p99: float
    fanout_p50: float
    fanout_ratio: float
    lost: int
    doubled: int
    dead_letters: int
    http_retries: int
    cpu_ms_per_app: dict[str, float]


def _server_cpu() -> dict[str, float]:
    """CPU seconds used so far by RabbitMQ and by the PostgreSQL processes alive now (pooled
    backends live as long as the services, so the difference over a run is close)."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"rabbitmq": 0.0, "postgresql": 0.0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        comm = head.split("(", 1)[1]
        kind = "rabbitmq" if comm == "beam.smp" else "postgresql" if comm == "postgres" else None
        if kind:
            fields = tail.split()
            used[kind] += (int(fields[11]) + int(fields[12])) / tick
    return used


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(_plain(url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _ready_times(suite: LocalSuite) -> dict[str, float]:
    """application id -> epoch seconds when review had both the case and the result."""
    rows = await _fetch(
        suite.database_url("review"),
        "SELECT c.application_id::text AS id,"
        " extract(epoch FROM greatest(c.opened_at, v.received_at))::float8 AS ready"
        " FROM review_cases c JOIN review_verifications v USING (application_id)",
    )
    return {r["id"]: r["ready"] for r in rows}


async def _wait_done(suite: LocalSuite, ids: set[str], within: float) -> dict[str, float]:
    deadline = time.monotonic() + within
    while True:
        ready = await _ready_times(suite)
        if ids <= ready.keys() or time.monotonic() > deadline:
            return ready
        await asyncio.sleep(0.25)


def _rabbitmqctl(*args: str) -> str:
    return subprocess.run(  # noqa: S603 (fixed command, our arguments)
        ["rabbitmqctl", "-q", *args],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout


def _dead_letters(prefix: str) -> int:
    out = _rabbitmqctl("list_queues", "name", "messages")
    total = 0
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith(prefix) and parts[0].endswith(".dead"):
            total += int(parts[1])
    return total


async def _cleanup(suite: LocalSuite, run_prefix: str) -> None:
    # As the owner role, which made the databases (the services' role may not drop them).
    owner_url = suite.migration_database_url or suite.database_url
    admin = await asyncpg.connect(_plain(owner_url("intake")).rsplit("/", 1)[0] + "/postgres")
    try:
        for name in SERVICES:
            db = make_url(suite.database_url(name)).database
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    finally:
        await admin.close()
    connection = await aio_pika.connect(suite.amqp_url)
    try:
        channel = await connection.channel()
        for kind in ("queues", "exchanges"):
            out = await asyncio.to_thread(_rabbitmqctl, f"list_{kind}", "name")
            for name in (n.strip() for n in out.splitlines()):
                if not name.startswith(run_prefix):
                    continue
                if kind == "queues":
                    await channel.queue_delete(name)
                else:
                    await channel.exchange_delete(name)
    finally:
        await connection.close()


async def run_mode(
    mode: str, args: argparse.Namespace, run: str, templates: tuple[str, str]
) -> Result:
    template, migration_template = templates
    prefix = f"bench.{run}.{mode}"
    suite = LocalSuite(
        prefix=prefix,
        amqp_url=settings_for("intake").amqp_url,
        database_url=lambda s: template.format(service=f"bench_{run}_{mode}_{s}"),
        migration_database_url=lambda s: migration_template.format(
            service=f"bench_{run}_{mode}_{s}"
        ),
        env={
            "HOUSING_VERIFICATION_DISPATCH": mode,
            "HOUSING_LOG_LEVEL": "WARNING",
            # The provincial push is not part of the pipeline measured; with no receiver
            # running it would only retry.
            "HOUSING_PUBLICATION_PROVINCE_ENDPOINTS": "[]",
            # Six services x (pool + overflow) must fit PostgreSQL's default 100 connections.
            "HOUSING_DB_POOL_SIZE": "6",
        },
    )
    print(f"[{mode}] migrating and starting the suite (logs in {suite.log_dir})", flush=True)
    suite.migrate()
    suite.start()
    heartbeat = suite.start_departments(latency_ms=args.latency_ms)
    try:
        suite.wait_ready()
        suite.wait_departments(heartbeat)
        # Warm-up: first-use costs (pools, caches, calendar years) are not what is measured.
        warm = await submit_many(suite.url("intake"), range(args.warmup), run=run, rate=None)
        await _wait_done(suite, {w.application_id for w in warm}, 120)
        print(f"[{mode}] warmed up with {len(warm)}; {args.n} at {args.rate}/s", flush=True)
        numbers = range(args.warmup, args.warmup + args.n)
        cpu_before = {**suite.cpu_seconds(), **_server_cpu(), "bench": time.process_time()}
        submitted: list[Submitted] = await submit_many(
            suite.url("intake"),
            numbers,
            run=run,
            rate=args.rate,
            concurrency=args.concurrency,
        )
        ids = {s.application_id for s in submitted}
        ready = await _wait_done(suite, ids, args.timeout)
        latencies = [
            ready[s.application_id] - s.started for s in submitted if s.application_id in ready
        ]
        first = min(s.started for s in submitted)
        last = max(ready[i] for i in ids if i in ready)
        lost = len(ids - ready.keys())
        cpu_after = {**suite.cpu_seconds(), **_server_cpu(), "bench": time.process_time()}
        cpu_ms = {
            k: round((cpu_after[k] - cpu_before.get(k, 0.0)) * 1000 / len(ids), 1)
            for k in cpu_after
        }

        ver = suite.database_url("verification")
        durations = [
            r["d"]
            for r in await _fetch(
                ver,
                "SELECT extract(epoch FROM completed_at - started_at)::float8 AS d"
                " FROM verification_cases WHERE application_id = ANY($1::uuid[])",
                list(ids),
            )
        ]
        answered = await _fetch(
            ver,
            "SELECT count(*) AS n FROM department_requests"
            " WHERE application_id = ANY($1::uuid[]) AND status = 'answered'",
            list(ids),
        )
        cases = await _fetch(
            suite.database_url("review"),
            "SELECT count(*) AS n FROM review_cases WHERE application_id = ANY($1::uuid[])",
            list(ids),
        )
        doubled = (cases[0]["n"] - len(ready.keys() & ids)) + max(
            0, answered[0]["n"] - DEPARTMENTS * len(ids)
        )
        fan_p50 = statistics.median(durations) if durations else float("nan")
        return Result(
            mode=mode,
            n=len(submitted),
            offered_rate=args.rate,
            throughput=len(ids) / (last - first),
            p50=_pct(latencies, 0.50),
            p95=_pct(latencies, 0.95),
            p99=_pct(latencies, 0.99),
            fanout_p50=fan_p50,
            fanout_ratio=fan_p50 / (args.latency_ms / 1000),
            lost=lost,
            doubled=doubled,
            dead_letters=_dead_letters(prefix),
            http_retries=sum(s.attempts - 2 for s in submitted),
            cpu_ms_per_app=cpu_ms,
        )
    finally:
        stuck = suite.stop()
        if stuck:
            print(f"[{mode}] did not stop on Ctrl-C: {stuck}", file=sys.stderr)
        if not args.keep:
            await _cleanup(suite, prefix)


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, {platform.system()}"
    )


def report(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"machine: {machine()}",
        f"{args.n} applications offered at {args.rate}/s, departments answer after "
        f"{args.latency_ms:g} ms, client concurrency {args.concurrency}",
        "",
        "| dispatch | apps/s sustained | p50 ms | p95 ms | p99 ms | verification p50 ms "
        "| fan-out ratio | lost | doubled | dead letters | HTTP retries |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.mode} | {r.throughput:.1f} | {r.p50 * 1000:.0f} | {r.p95 * 1000:.0f} "
            f"| {r.p99 * 1000:.0f} | {r.fanout_p50 * 1000:.0f} | {r.fanout_ratio:.2f} "
            f"| {r.lost} | {r.doubled} | {r.dead_letters} | {r.http_retries} |"
        )
    lines += ["", "CPU milliseconds per application:"]
    for r in results:
        spent = sorted(r.cpu_ms_per_app.items(), key=lambda kv: -kv[1])
        total = sum(v for _, v in spent)
        lines.append(
            f"  {r.mode}: total {total:.0f} = " + ", ".join(f"{k} {v:g}" for k, v in spent)
        )
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=3000, help="applications measured per mode")
    p.add_argument("--rate", type=float, default=200.0, help="applications offered per second")
    p.add_argument("--latency-ms", type=float, default=50.0, help="each department's answer time")
    p.add_argument("--concurrency", type=int, default=128, help="HTTP calls in flight at most")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the last task")
    p.add_argument("--dispatch", choices=["both", "parallel", "serial"], default="both")
    p.add_argument("--keep", action="store_true", help="keep databases and queues afterwards")
    p.add_argument("--json", action="store_true", help="also print the results as JSON")
    return p.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    run = secrets.token_hex(3)
    settings = settings_for("intake")
    templates = (settings.database_url_template, settings.migration_database_url_template)
    modes = ["parallel", "serial"] if args.dispatch == "both" else [args.dispatch]
    results = [await run_mode(mode, args, run, templates) for mode in modes]
    print()
    print(report(results, args))
    if args.json:
        print(orjson.dumps([r.__dict__ for r in results]).decode())
    return 0 if all(r.lost == 0 and r.doubled == 0 and r.dead_letters == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
