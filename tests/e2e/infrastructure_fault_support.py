"""Helpers for the infrastructure fault tests (issue 9, item 2): the broker stopped, a service
killed, the database restarted, each in the middle of a burst of applications.

The platform runs as real processes (``simulators.local_suite``), so that a service can be
killed with SIGKILL and the servers under it restarted; households are driven through intake's
public API by ``simulators.applicants``, which retries a failed call with the same
Idempotency-Key, as a portal does.

What "the same state as without the fault" means is read from the services' databases:

* :func:`control_outcomes` runs the same household numbers through a fault-free platform of
  its own first. The department simulators answer from fixtures derived from each member's
  keyed id hash, which depends only on the household number, so a household's verification
  result (recommendation, reasons, profile, discrepancies) is the same in every fault-free
  run. Only intake, verification and the departments take part in the control: they alone
  decide that result (review stores it as received), and fewer processes keep it quick.
* :func:`end_state_problems` checks each faulted application against its household's control
  outcome and against the invariants no fault may break: one accepted application per
  household, one review case with the result attached, eight answered department requests,
  one ``verification.completed``, the same events as the control published by intake and
  verification, nothing left in any outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import orjson
from sqlalchemy.engine import make_url

from shared.amqp.topology import unrouted_name
from shared.city import DEFAULT_VERIFYING_DEPARTMENTS
from shared.settings import SERVICES
from simulators.applicants import Submitted, household, submit_many
from simulators.local_suite import LocalSuite
from tests.conftest import Infra

DEPARTMENT_LATENCY_MS = 50.0
SUITE_SETTINGS = {
    # PostgreSQL allows 100 connections and other tests' services may still hold some:
    # six services x (4 + 4 overflow) + six relay listeners stays well below.
    "HOUSING_DB_POOL_SIZE": "4",
    # No provincial receiver runs here; the push would only retry.
    "HOUSING_PUBLICATION_PROVINCE_ENDPOINTS": "[]",
    # Single department requests: COUNTED_EVENTS compares requests per application, which a
    # batch of several applications has not (batches: tests/integration/verification).
    "HOUSING_VERIFICATION_REQUEST_BATCHES": "none",
}
CONTROL_SERVICES = ("intake", "verification")
# Events whose count per application must match the fault-free run (one each, eight requests).
COUNTED_EVENTS = {
    "intake": ("application.submitted", "application.accepted"),
    "verification": ("verification.requested", "verification.completed"),
}
# Parts of verification.completed that name this run's ids and times, not the household.
RUN_SPECIFIC = ("case_id", "application_id", "completed_at")
# What review keeps of verification.completed (review_verifications), JSON columns among them.
ATTACHED = (
    "recommendation",
    "reasons",
    "discrepancies",
    "missing_departments",
    "parameters_version",
)
JSON_COLUMNS = ("reasons", "discrepancies", "missing_departments")
DB_DOWN = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


def make_suite(infra: Infra, name: str) -> LocalSuite:
    """A platform of its own: databases ``t<run>_<name>_<service>``, names ``t<run>.<name>.``."""
    return LocalSuite(
        prefix=f"{infra.prefix}.{name}",
        amqp_url=infra.amqp_url,
        database_url=lambda service: infra.database(f"{name}_{service}"),
        env=SUITE_SETTINGS,
    )


def start_suite(suite: LocalSuite, services: Iterable[str] = SERVICES) -> None:
    wanted = tuple(services)
    suite.migrate(wanted)
    suite.start(wanted)
    heartbeat = suite.start_departments(latency_ms=DEPARTMENT_LATENCY_MS)
    suite.wait_ready(wanted, timeout=120)
    suite.wait_departments(heartbeat, timeout=90)


def revive(suite: LocalSuite) -> None:
    """Restart whatever a previous test left dead, so each test starts from a whole platform."""
    for name, proc in list(suite.procs.items()):
        if proc.poll() is None:
            continue
        if name == "departments":
            suite.wait_departments(suite.start_departments(latency_ms=DEPARTMENT_LATENCY_MS))
        else:
            suite.start([name])
    suite.wait_ready([n for n in suite.procs if n != "departments"], timeout=120)


def applicant_ids(numbers: Iterable[int]) -> list[str]:
    return [household(n)["members"][0]["resident_id"] for n in numbers]


# -- reading the services' databases ------------------------------------------------------------


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def fetch(suite: LocalSuite, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(_plain(suite.database_url(service)), timeout=10)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def accepted_count(suite: LocalSuite, resident_ids: list[str]) -> int:
    rows = await fetch(
        suite,
        "intake",
        "SELECT count(*) AS n FROM applications a JOIN members m"
        " ON m.application_id = a.id AND m.position = 0"
        " WHERE a.status = 'accepted' AND m.resident_id = ANY($1::text[])",
        resident_ids,
    )
    return int(rows[0]["n"])


async def until(
    condition: Callable[[], Awaitable[bool]],
    *,
    within: float,
    what: str,
    burst: asyncio.Task[Any] | None = None,
) -> None:
    """Poll ``condition`` until true; a burst that failed meanwhile is reported at once."""
    deadline = time.monotonic() + within
    while True:
        if burst is not None and burst.done():
            burst.result()  # raises the driver's error, if any
        with contextlib.suppress(*DB_DOWN):
            if await condition():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {within} s: {what}")
        await asyncio.sleep(0.2)


async def outbox_pending(suite: LocalSuite, services: Iterable[str]) -> dict[str, int]:
    pending = {}
    for service in services:
        rows = await fetch(suite, service, "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
        pending[service] = int(rows[0]["n"])
    return pending


async def _event_counts(suite: LocalSuite, service: str, ids: list[str]) -> dict[str, Counter[str]]:
    rows = await fetch(
        suite,
        service,
        "SELECT subject, type, count(*) AS n FROM outbox"
        " WHERE subject = ANY($1::text[]) AND type = ANY($2::text[]) GROUP BY subject, type",
        ids,
        list(COUNTED_EVENTS[service]),
    )
    counts: dict[str, Counter[str]] = {i: Counter() for i in ids}
    for r in rows:
        counts[r["subject"]][r["type"]] = int(r["n"])
    return counts


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


@dataclass(frozen=True)
class Outcome:
    """What one household's application ended as, without this run's ids and times."""

    result: dict[str, Any]  # verification.completed as published, minus RUN_SPECIFIC
    events: dict[str, dict[str, int]]  # service -> event type -> count for the application


async def outcomes(suite: LocalSuite, submitted: list[Submitted]) -> dict[str, Outcome]:
    """application id -> outcome, for the applications whose verification completed."""
    ids = [s.application_id for s in submitted]
    cases = await fetch(
        suite,
        "verification",
        "SELECT application_id::text AS id, result FROM verification_cases"
        " WHERE application_id = ANY($1::uuid[]) AND status = 'completed'",
        ids,
    )
    events = {service: await _event_counts(suite, service, ids) for service in COUNTED_EVENTS}
    found = {}
    for row in cases:
        result = {k: v for k, v in _json(row["result"]).items() if k not in RUN_SPECIFIC}
        found[row["id"]] = Outcome(
            result, {service: dict(events[service][row["id"]]) for service in COUNTED_EVENTS}
        )
    return found


async def control_outcomes(infra: Infra, numbers: list[int]) -> dict[int, Outcome]:
    """Household number -> its outcome on a platform that nothing disturbs."""
    suite = make_suite(infra, "calm")
    started = time.monotonic()
    try:
        start_suite(suite, CONTROL_SERVICES)
        print(f"control platform ready in {time.monotonic() - started:.1f} s")
        submitted = await submit_many(
            suite.url("intake"), numbers, run=f"{infra.run_id}-calm", concurrency=16
        )
        ids = [s.application_id for s in submitted]

        async def completed() -> bool:
            rows = await fetch(
                suite,
                "verification",
                "SELECT count(*) AS n FROM verification_cases"
                " WHERE application_id = ANY($1::uuid[]) AND status = 'completed'",
                ids,
            )
            return int(rows[0]["n"]) == len(ids)

        await until(completed, within=300, what="the control run's verifications")
        found = await outcomes(suite, submitted)
        print(f"control run of {len(ids)} households done in {time.monotonic() - started:.1f} s")
        return {s.number: found[s.application_id] for s in submitted}
    except BaseException:
        print(suite.log_tail("intake"), suite.log_tail("verification"), sep="\n")
        raise
    finally:
        suite.stop()


# -- the broker's queues ------------------------------------------------------------------------


def queue_depths(infra: Infra, suite: LocalSuite) -> dict[str, int]:
    """Messages (ready + unacked) in each of the suite's queues, retry and dead queues included."""
    if infra.container_exec is not None:
        return asyncio.run(_depths_over_amqp(infra.amqp_url, _known_queues(suite)))
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name", "messages"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    depths = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith(f"{suite.prefix}.") and parts[1].isdigit():
            depths[parts[0]] = int(parts[1])
    return depths


def _known_queues(suite: LocalSuite) -> list[str]:
    """The suite's queue names, for a broker whose queues cannot be listed (a container)."""
    services = [f"{suite.prefix}.{s}" for s in SERVICES if s in suite.procs]
    departments = [f"{suite.prefix}.dept.{d}" for d in DEFAULT_VERIFYING_DEPARTMENTS]
    names = []
    for queue in services:
        names += [queue, f"{queue}.dead", *(f"{queue}.retry.{i}" for i in range(3))]
    for queue in departments:
        names += [queue, f"{queue}.dead"]
    return names


async def _depths_over_amqp(amqp_url: str, names: list[str]) -> dict[str, int]:
    depths = {}
    connection = await aio_pika.connect(amqp_url)
    try:
        for name in names:
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelClosed:
                continue  # a service without a queue (publication declares none, say)
            depths[name] = int(queue.declaration_result.message_count or 0)
            await channel.close()
    finally:
        await connection.close()
    return depths


def undrained(suite: LocalSuite, depths: Mapping[str, int]) -> dict[str, int]:
    """Queues still holding messages a consumer should take: not the dead-letter queues, and
    not the events exchange's alternate queue, which keeps the types no service binds by
    design (counting it, the platform would never look quiet)."""
    kept = unrouted_name(f"{suite.prefix}.events")
    return {
        name: n for name, n in depths.items() if n and not name.endswith(".dead") and name != kept
    }


def dead_letters(depths: Mapping[str, int]) -> dict[str, int]:
    return {name: n for name, n in depths.items() if name.endswith(".dead")}


async def settle(
    infra: Infra, suite: LocalSuite, submitted: list[Submitted], *, within: float
) -> None:
    """Until every application has its review task ready with the result attached, every
    outbox is empty and every queue of the suite is drained (dead-letter queues aside).
    Returns quietly at the deadline: the assertions then say what is missing."""
    ids = [s.application_id for s in submitted]
    running = [s for s in SERVICES if s in suite.procs]

    async def quiet() -> bool:
        ready = await fetch(
            suite,
            "review",
            "SELECT count(*) AS n FROM review_cases c JOIN review_verifications v"
            " USING (application_id) WHERE c.application_id = ANY($1::uuid[])",
            ids,
        )
        if int(ready[0]["n"]) < len(ids):
            return False
        if any((await outbox_pending(suite, running)).values()):
            return False
        depths = await asyncio.to_thread(queue_depths, infra, suite)
        return not any(undrained(suite, depths).values())

    with contextlib.suppress(TimeoutError):
        await until(quiet, within=within, what="settling")


# -- the end state -------------------------------------------------------------------------------


async def end_state_problems(
    suite: LocalSuite, submitted: list[Submitted], expected: Mapping[int, Outcome]
) -> list[str]:
    """Everything that differs from the fault-free run, one line per application and check."""
    numbers = [s.number for s in submitted]
    ids = [s.application_id for s in submitted]
    problems: list[str] = []
    if sorted(numbers) != sorted(set(numbers)):
        problems.append("the driver reported a household twice")

    rids = applicant_ids(numbers)
    rows = await fetch(
        suite,
        "intake",
        "SELECT m.resident_id, a.id::text AS id, a.status, a.receipt_no"
        " FROM applications a JOIN members m ON m.application_id = a.id AND m.position = 0"
        " WHERE m.resident_id = ANY($1::text[])",
        rids,
    )
    by_person: dict[str, list[asyncpg.Record]] = {}
    for r in rows:
        by_person.setdefault(r["resident_id"], []).append(r)

    review_cases = Counter(
        r["id"]
        for r in await fetch(
            suite,
            "review",
            "SELECT application_id::text AS id FROM review_cases"
            " WHERE application_id = ANY($1::uuid[])",
            ids,
        )
    )
    attached = {
        r["id"]: r
        for r in await fetch(
            suite,
            "review",
            "SELECT application_id::text AS id, recommendation, reasons, discrepancies,"
            " missing_departments, parameters_version FROM review_verifications"
            " WHERE application_id = ANY($1::uuid[])",
            ids,
        )
    }
    requests = {
        r["id"]: r
        for r in await fetch(
            suite,
            "verification",
            "SELECT application_id::text AS id, count(*) AS total,"
            " count(*) FILTER (WHERE status = 'answered') AS answered,"
            " count(DISTINCT department) AS departments"
            " FROM department_requests WHERE application_id = ANY($1::uuid[])"
            " GROUP BY application_id",
            ids,
        )
    }
    found = await outcomes(suite, submitted)
    departments = len(DEFAULT_VERIFYING_DEPARTMENTS)

    for s, rid in zip(submitted, rids, strict=True):
        who = f"household {s.number} ({s.tracking_no})"
        apps = by_person.get(rid, [])
        if [(a["id"], a["status"]) for a in apps] != [(s.application_id, "accepted")]:
            states = [(a["id"][:8], a["status"]) for a in apps]
            problems.append(f"{who}: intake holds {states}, expected one accepted application")
        elif apps[0]["receipt_no"] is None:
            problems.append(f"{who}: accepted without a receipt")
        if review_cases[s.application_id] != 1:
            problems.append(f"{who}: {review_cases[s.application_id]} review cases")
        r = requests.get(s.application_id)
        counts = (r["total"], r["answered"], r["departments"]) if r else (0, 0, 0)
        if counts != (departments, departments, departments):
            problems.append(
                f"{who}: department requests (total, answered, departments) = {counts}, "
                f"expected {departments} of each"
            )
        outcome = found.get(s.application_id)
        if outcome is None:
            problems.append(f"{who}: verification not completed")
            continue
        want = expected[s.number]
        if outcome.events != want.events:
            problems.append(f"{who}: events {outcome.events}, fault-free run {want.events}")
        if outcome.result != want.result:
            problems.append(
                f"{who}: verification result differs from the fault-free run: "
                f"{outcome.result.get('recommendation')} vs {want.result.get('recommendation')}"
                f" ({_first_difference(outcome.result, want.result)})"
            )
        seen = attached.get(s.application_id)
        if seen is None:
            problems.append(f"{who}: review has no verification result")
        else:
            shown = {k: _json(seen[k]) if k in JSON_COLUMNS else seen[k] for k in ATTACHED}
            published = {k: outcome.result[k] for k in shown}
            if shown != published:
                problems.append(f"{who}: review holds {shown}, verification published {published}")
    return problems


def _first_difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    for key in sorted(set(got) | set(want)):
        if got.get(key) != want.get(key):
            return f"{key}: {str(got.get(key))[:200]} vs {str(want.get(key))[:200]}"
    return "no field differs"


def log_tails(suite: LocalSuite, names: Iterable[str]) -> str:
    return "\n".join(suite.log_tail(name, chars=4000) for name in names)


# -- the servers under the platform -------------------------------------------------------------


def _run(command: list[str], timeout: float) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-1000:]}")


def rabbitmqctl(infra: Infra, *args: str, timeout: float = 120) -> None:
    command = ["rabbitmqctl", *args]
    if infra.container_exec is not None:
        infra.container_exec(command)
    else:
        _run(command, timeout)


async def broker_answers(amqp_url: str) -> bool:
    try:
        connection = await asyncio.wait_for(aio_pika.connect(amqp_url), timeout=5)
    except (TimeoutError, OSError, aio_pika.exceptions.AMQPError):
        return False
    await connection.close()
    return True


def stop_broker(infra: Infra) -> None:
    """``stop_app``: the node and its data stay, every client connection is cut."""
    rabbitmqctl(infra, "stop_app")


async def start_broker(infra: Infra) -> None:
    """``start_app`` (a no-op on a running broker), then wait for an AMQP handshake."""
    await asyncio.to_thread(rabbitmqctl, infra, "start_app")
    await asyncio.to_thread(rabbitmqctl, infra, "await_startup")

    async def answers() -> bool:
        return await broker_answers(infra.amqp_url)

    await until(answers, within=90, what="RabbitMQ accepting AMQP connections again")


def postgres_version() -> str:
    """The local cluster's major version (``/etc/postgresql/<version>/main``)."""
    versions = sorted((p.name for p in Path("/etc/postgresql").iterdir()), key=float)
    return versions[-1]


def restart_database() -> None:
    """Fast restart: open sessions are cut, the cluster comes back with its data."""
    version = postgres_version()
    _run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", "-m", "fast", version, "main", "restart"],
        180,
    )


async def database_answers(database_url: str) -> bool:
    admin = make_url(database_url).set(drivername="postgresql", database="postgres")
    try:
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False), timeout=3)
    except DB_DOWN:
        return False
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()
    return True


async def ensure_database_up(database_url: str) -> None:
    """Wait for PostgreSQL; start the local cluster if it stays down (a failed restart)."""
    with contextlib.suppress(TimeoutError):
        await until(lambda: database_answers(database_url), within=60, what="PostgreSQL")
        return
    await asyncio.to_thread(
        subprocess.run,
        ["pg_ctlcluster", "--skip-systemctl-redirect", postgres_version(), "main", "start"],
        check=False,
        capture_output=True,
        timeout=180,
    )
    await until(lambda: database_answers(database_url), within=90, what="PostgreSQL started")


def is_local_postgres(database_url: str) -> bool:
    host = make_url(database_url).host or ""
    return host in ("127.0.0.1", "localhost", "::1") and Path("/etc/postgresql").is_dir()
