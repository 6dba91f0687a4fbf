"""Benchmark: the pipeline from submission to a review task ready, under sustained load.

    make bench                       # = uv run python -m bench.pipeline
    uv run python -m bench.pipeline -n 1000 --rate 20 200 --latency-ms 50 --dispatch both
    uv run --group profile python -m bench.pipeline --profile   # and where the CPU goes

For each dispatch mode (``parallel``, the design; ``serial``, the baseline in which
verification asks one department after another) it starts the whole platform as local
processes (``simulators.local_suite``: the six services and the eight reference department
simulators, each answering after ``--latency-ms``) on databases and queues of its own, and
drives ``-n`` households through intake's public API at each ``--rate`` per second in turn
(one phase per rate on the same suite), open loop (``simulators.applicants``): submission,
then acceptance with a receipt. The pipeline is done for an application when review has its
case with the verification result attached: the street clerk's task is ready.

It prints, per mode: applications per second sustained (accepted applications over the time
from the first submission to the last task ready), end-to-end latency percentiles (submission
to task ready), the fan-out ratio (verification time p50 / department latency: 1 when the
departments work in parallel, 8 or more when they take turns), and the checks that nothing was
lost or doubled (applications, cases, answered requests, dead letters, cumulative per suite).

And per application, for the phase (first submission to last task ready): CPU milliseconds of
the platform (the services' processes, the RabbitMQ node net of its idle rate, and the
PostgreSQL backends of the run's databases) apart from the department simulators and the load
driver (this process); messages published (the services' ``outbox_published_total`` plus the
departments' answer messages, single or batch, as verification's ``events_handled_total``
counts them) and delivered (``events_handled_total`` plus the request messages the departments
took: one per answer message, as each consumed request or request batch is answered by one);
commits and rollbacks (``pg_stat_database`` of the run's databases, read once PostgreSQL has
published its counters). The RabbitMQ node and the PostgreSQL server's
shared processes also serve everyone else on the machine: the load average is printed with
each phase, and CPU time, unlike wall-clock throughput, stays comparable under such load.

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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import orjson
import uvloop
from sqlalchemy.engine import make_url

from bench.profile import Profiler, share_table
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
    messages: dict[str, float]  # published / delivered per application
    transactions: dict[str, float]  # commits per application, by service database
    rollbacks: float  # rolled-back transactions per application, all databases
    load: str  # the machine's load average when the phase ended
    # --profile: py-spy samples per library group, by service process (bench.profile).
    profile: dict[str, dict[str, int]] | None = None


def _proc_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) process ``pid`` has used so far; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    """The RabbitMQ node: the oldest ``beam.smp``. Each ``rabbitmqctl`` call (test setups
    create and delete broker users all the time) starts a ``beam.smp`` of its own for a second
    or two; those are not the broker's work and must not be counted."""
    oldest: tuple[int, int] | None = None
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if head.split("(", 1)[1] == "beam.smp":
            started = int(tail.split()[19])  # starttime, in clock ticks since boot
            if oldest is None or started < oldest[0]:
                oldest = (started, int(stat.parent.name))
    return oldest[1] if oldest else None


BROKER_PID = broker_pid()


def _rabbitmq_cpu() -> float:
    """CPU seconds the RabbitMQ node has used so far. The broker is shared with whoever else
    uses it, so the difference over a phase is an upper bound; see ``_settle``."""
    return (_proc_cpu(BROKER_PID) or 0.0) if BROKER_PID is not None else 0.0


async def _backends(suite: LocalSuite) -> list[int]:
    """The PostgreSQL backends connected to this run's databases (the services' pools and
    listeners; pooled connections live as long as the services). The server's shared
    processes (WAL writer, checkpointer) also serve every other database on the server and are
    left out."""
    names = [make_url(suite.database_url(s)).database for s in SERVICES]
    rows = await _fetch(
        suite.database_url("intake"),
        "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])",
        names,
    )
    return [r["pid"] for r in rows]


async def _commits(suite: LocalSuite) -> dict[str, int]:
    """``pg_stat_database.xact_commit`` of each service's database, and ``xact_rollback`` of
    all of them under ``"rollbacks"``."""
    names = {make_url(suite.database_url(s)).database: s for s in SERVICES}
    rows = await _fetch(
        suite.database_url("intake"),
        "SELECT datname, xact_commit, xact_rollback FROM pg_stat_database"
        " WHERE datname = ANY($1::text[])",
        list(names),
    )
    counts = {names[r["datname"]]: int(r["xact_commit"]) for r in rows}
    counts["rollbacks"] = sum(int(r["xact_rollback"]) for r in rows)
    return counts


async def _metrics(suite: LocalSuite) -> dict[str, float]:
    """Events the services published through their outboxes (confirmed) and consumed, from
    their own /metrics counters."""
    totals = {"published": 0.0, "delivered": 0.0, "department answers": 0.0}
    async with httpx.AsyncClient(timeout=10) as client:
        for service in SERVICES:
            text = (await client.get(f"{suite.url(service)}/metrics")).text
            for line in text.splitlines():
                if line.startswith("outbox_published_total{"):
                    totals["published"] += float(line.rsplit(" ", 1)[1])
                elif line.startswith("events_handled_total{"):
                    totals["delivered"] += float(line.rsplit(" ", 1)[1])
                    if 'type="department.answered' in line and 'outcome="failed"' not in line:
                        totals["department answers"] += float(line.rsplit(" ", 1)[1])
    return totals


# PostgreSQL publishes a backend's transaction counts when it goes idle, at most once a second
# and at the latest 10 s later (PGSTAT_IDLE_INTERVAL): read xact_commit only after that.
STATS_SETTLE_SECONDS = 11.0


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


async def _snapshot(suite: LocalSuite, backends: list[int]) -> dict[str, float]:
    """CPU seconds so far of every process the run measures."""
    cpu = {**suite.cpu_seconds(), "rabbitmq": _rabbitmq_cpu(), "load driver": time.process_time()}
    cpu["postgresql"] = sum(_proc_cpu(pid) or 0.0 for pid in backends)
    return cpu


async def _settle(suite: LocalSuite) -> tuple[dict[str, int], float]:
    """Wait until PostgreSQL's counters caught up; the commits then, and RabbitMQ's CPU
    seconds per second meanwhile (the pipeline idle: other users of the broker, our pollers)."""
    began, beam = time.monotonic(), _rabbitmq_cpu()
    await asyncio.sleep(STATS_SETTLE_SECONDS)
    idle = (_rabbitmq_cpu() - beam) / (time.monotonic() - began)
    return await _commits(suite), idle


async def run_phase(
    suite: LocalSuite, mode: str, rate: float, numbers: range, args: argparse.Namespace, run: str
) -> Result:
    commits_before, rabbit_idle = await _settle(suite)
    metrics_before = await _metrics(suite)
    backends = await _backends(suite)
    print(f"[{mode}] {len(numbers)} at {rate:g}/s", flush=True)
    profiler = None
    if args.profile:
        profiler = Profiler({s: suite.procs[s].pid for s in SERVICES if s in suite.procs})
        profiler.start()
    cpu_before = await _snapshot(suite, backends)
    began = time.monotonic()
    submitted: list[Submitted] = await submit_many(
        suite.url("intake"), numbers, run=run, rate=rate, concurrency=args.concurrency
    )
    ids = {s.application_id for s in submitted}
    ready = await _wait_done(suite, ids, args.timeout)
    cpu_after = await _snapshot(suite, backends)
    took = time.monotonic() - began
    profile = profiler.stop() if profiler else None
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    latencies = [
        ready[s.application_id] - s.started for s in submitted if s.application_id in ready
    ]
    first = min(s.started for s in submitted)
    last = max(ready[i] for i in ids if i in ready)
    lost = len(ids - ready.keys())
    cpu_ms = {
        k: round((cpu_after[k] - cpu_before.get(k, 0.0)) * 1000 / len(ids), 2) for k in cpu_after
    }
    # RabbitMQ serves other users too: what it spent beyond its idle rate is ours.
    cpu_ms["rabbitmq"] = round(
        max(0.0, cpu_ms["rabbitmq"] - rabbit_idle * took * 1000 / len(ids)), 2
    )

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
    requests = (
        await _fetch(
            ver,
            "SELECT count(*) AS n, count(*) FILTER (WHERE status = 'answered') AS answered"
            " FROM department_requests WHERE application_id = ANY($1::uuid[])",
            list(ids),
        )
    )[0]
    cases = await _fetch(
        suite.database_url("review"),
        "SELECT count(*) AS n FROM review_cases WHERE application_id = ANY($1::uuid[])",
        list(ids),
    )
    doubled = (cases[0]["n"] - len(ready.keys() & ids)) + max(
        0, requests["answered"] - DEPARTMENTS * len(ids)
    )
    metrics_after = await _metrics(suite)
    commits_after, _ = await _settle(suite)
    # The departments' side is not in the services' counters: each answer message published
    # by a department, each request message delivered to one (as many: one answers the other).
    department = metrics_after["department answers"] - metrics_before["department answers"]
    messages = {
        "published": (metrics_after["published"] - metrics_before["published"] + department)
        / len(ids),
        "delivered": (metrics_after["delivered"] - metrics_before["delivered"] + department)
        / len(ids),
    }
    transactions = {
        s: (commits_after.get(s, 0) - commits_before.get(s, 0)) / len(ids) for s in commits_after
    }
    rollbacks = transactions.pop("rollbacks")
    fan_p50 = statistics.median(durations) if durations else float("nan")
    return Result(
        mode=mode,
        n=len(submitted),
        offered_rate=rate,
        throughput=len(ids) / (last - first),
        p50=_pct(latencies, 0.50),
        p95=_pct(latencies, 0.95),
        p99=_pct(latencies, 0.99),
        fanout_p50=fan_p50,
        fanout_ratio=fan_p50 / (args.latency_ms / 1000),
        lost=lost,
        doubled=doubled,
        dead_letters=_dead_letters(suite.prefix),
        http_retries=sum(s.attempts - 2 for s in submitted),
        cpu_ms_per_app=cpu_ms,
        messages=messages,
        transactions=transactions,
        rollbacks=rollbacks,
        load=load,
        profile={name: dict(samples) for name, samples in profile.items()} if profile else None,
    )


async def run_mode(
    mode: str, args: argparse.Namespace, run: str, templates: tuple[str, str]
) -> list[Result]:
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
        print(f"[{mode}] warmed up with {len(warm)}", flush=True)
        results = []
        start = args.warmup
        for rate in args.rate:
            numbers = range(start, start + args.n)
            results.append(await run_phase(suite, mode, rate, numbers, args, run))
            start += args.n
        return results
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
        f"{args.n} applications per phase, offered at {', '.join(f'{r:g}' for r in args.rate)}"
        f"/s, departments answer after {args.latency_ms:g} ms, client concurrency "
        f"{args.concurrency}",
        "",
        "| dispatch | offered/s | apps/s sustained | p50 ms | p95 ms | p99 ms "
        "| verification p50 ms | fan-out ratio | lost | doubled | dead letters | HTTP retries |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.mode} | {r.offered_rate:g} | {r.throughput:.1f} | {r.p50 * 1000:.0f} "
            f"| {r.p95 * 1000:.0f} | {r.p99 * 1000:.0f} | {r.fanout_p50 * 1000:.0f} "
            f"| {r.fanout_ratio:.2f} | {r.lost} | {r.doubled} | {r.dead_letters} "
            f"| {r.http_retries} |"
        )
    lines += [
        "",
        "CPU ms per application (platform = services + RabbitMQ + PostgreSQL backends; "
        "RabbitMQ net of its idle rate), messages and commits per application:",
        "",
        "| dispatch | offered/s | platform | RabbitMQ | PostgreSQL | services | departments "
        "| load driver | published | delivered | commits | rollbacks | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        cpu = r.cpu_ms_per_app
        services = sum(cpu.get(s, 0.0) for s in SERVICES)
        platform_ms = services + cpu["rabbitmq"] + cpu["postgresql"]
        lines.append(
            f"| {r.mode} | {r.offered_rate:g} | {platform_ms:.1f} | {cpu['rabbitmq']:.1f} "
            f"| {cpu['postgresql']:.1f} | {services:.1f} | {cpu.get('departments', 0.0):.1f} "
            f"| {cpu['load driver']:.1f} | {r.messages['published']:.1f} "
            f"| {r.messages['delivered']:.1f} | {sum(r.transactions.values()):.1f} "
            f"| {r.rollbacks:.1f} | {r.load} |"
        )
    lines += ["", "By process (CPU ms per application) and commits by database:"]
    for r in results:
        spent = sorted(r.cpu_ms_per_app.items(), key=lambda kv: -kv[1])
        commits = sorted(r.transactions.items(), key=lambda kv: -kv[1])
        lines.append(
            f"  {r.mode} {r.offered_rate:g}/s: " + ", ".join(f"{k} {v:.1f}" for k, v in spent)
        )
        lines.append("    commits: " + ", ".join(f"{k} {v:.2f}" for k, v in commits))
    for r in results:
        if r.profile:
            found = {name: Counter(samples) for name, samples in r.profile.items()}
            lines += ["", f"Profile, {r.mode} {r.offered_rate:g}/s (py-spy, bench.profile):", ""]
            lines.append(share_table(found))
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=1000, help="applications measured per phase")
    p.add_argument(
        "--rate",
        type=float,
        nargs="+",
        default=[20.0, 200.0],
        help="applications offered per second, one phase per rate on the same suite",
    )
    p.add_argument("--latency-ms", type=float, default=50.0, help="each department's answer time")
    p.add_argument("--concurrency", type=int, default=128, help="HTTP calls in flight at most")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the last task")
    p.add_argument("--dispatch", choices=["both", "parallel", "serial"], default="both")
    p.add_argument("--keep", action="store_true", help="keep databases and queues afterwards")
    p.add_argument("--json", action="store_true", help="also print the results as JSON")
    p.add_argument(
        "--profile",
        action="store_true",
        help="sample the services with py-spy during each phase (uv sync --group profile)",
    )
    return p.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    run = secrets.token_hex(3)
    settings = settings_for("intake")
    templates = (settings.database_url_template, settings.migration_database_url_template)
    modes = ["parallel", "serial"] if args.dispatch == "both" else [args.dispatch]
    results = [r for mode in modes for r in await run_mode(mode, args, run, templates)]
    print()
    print(report(results, args))
    if args.json:
        print(orjson.dumps([r.__dict__ for r in results]).decode())
    return 0 if all(r.lost == 0 and r.doubled == 0 and r.dead_letters == 0 for r in results) else 1


if __name__ == "__main__":
    # uvloop: the load driver shares the machine it measures; the default loop costs it twice.
    raise SystemExit(uvloop.run(main()))
