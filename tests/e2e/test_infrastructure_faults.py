"""Infrastructure faults (issue 9, item 2): RabbitMQ stopped and started, a service killed with
SIGKILL and restarted, PostgreSQL restarted, each in the middle of a burst of applications.
Every application must end exactly as it does without the fault: nothing lost, nothing applied
twice, nothing parked as a dead letter.

The six services and the eight department simulators run as real processes on databases and
queues of their own (``simulators.local_suite``); households submit and are accepted through
intake's HTTP API by ``simulators.applicants``, which retries a failed call with the same
Idempotency-Key until it gets an answer, as a portal does. Before any fault, the same household
numbers go through a fault-free platform (``infrastructure_fault_support.control_outcomes``):
the simulated departments answer deterministically per household, so that run gives each
household's expected verification result and the events intake and verification publish for it.

Each fault has a burst of its own (disjoint household numbers) and is triggered once a quarter
of its burst is accepted, so the pipeline is busy on both sides of it. After the burst the test
waits until the platform is quiet (every review task ready, every outbox sent, every queue
drained) and then checks, per application: one accepted application in intake, one review case
with the verification result attached and equal to the fault-free one, eight answered
department requests, one ``verification.completed``, the same events as the fault-free run;
and for the suite: no outbox row left unsent and no new dead letter.

These tests stop the shared RabbitMQ and restart the shared PostgreSQL: anything else using
them at the same moment sees the outage too (and should survive it: that is the contract).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest

from shared.settings import SERVICES
from simulators.applicants import Submitted, submit_many
from simulators.local_suite import LocalSuite
from tests.conftest import Infra
from tests.e2e.infrastructure_fault_support import (
    Outcome,
    accepted_count,
    applicant_ids,
    broker_answers,
    control_outcomes,
    database_answers,
    dead_letters,
    end_state_problems,
    ensure_database_up,
    fetch,
    is_local_postgres,
    log_tails,
    make_suite,
    outbox_pending,
    queue_depths,
    restart_database,
    revive,
    settle,
    start_broker,
    start_suite,
    stop_broker,
    undrained,
    until,
)

pytestmark = pytest.mark.e2e

# Disjoint households per burst: a person may be on one live application only.
BROKER_BURST = range(0, 500)
VERIFICATION_BURST = range(10_000, 10_150)
INTAKE_BURST = range(20_000, 20_150)
DATABASE_BURST = range(30_000, 30_150)
BURSTS = (BROKER_BURST, VERIFICATION_BURST, INTAKE_BURST, DATABASE_BURST)

CONCURRENCY = 16  # households submitting at once: enough to keep intake's pool busy
BROKER_DOWN_SECONDS = 5.0
SERVICE_DOWN_SECONDS = 2.0
SETTLE_SECONDS = 180.0


@pytest.fixture(scope="module")
async def expected(infra: Infra) -> dict[int, Outcome]:
    return await control_outcomes(infra, [n for burst in BURSTS for n in burst])


@pytest.fixture(scope="module")
def platform(infra: Infra, expected: dict[int, Outcome]) -> Iterator[LocalSuite]:
    # Depends on ``expected`` so that the control platform has stopped before this one starts:
    # both at once would compete for the two cores and PostgreSQL's connections.
    suite = make_suite(infra, "outage")
    started = time.monotonic()
    try:
        start_suite(suite)
        print(f"platform ready in {time.monotonic() - started:.1f} s")
        yield suite
    finally:
        stuck = suite.stop()
        if stuck:
            pytest.fail(f"did not stop on Ctrl-C after the faults: {stuck}")


@contextlib.contextmanager
def explained(suite: LocalSuite, services: tuple[str, ...]) -> Iterator[None]:
    """On failure, show the end of the services' logs (pytest prints captured output)."""
    try:
        yield
    except BaseException:
        print(log_tails(suite, services))
        raise


async def ready_for_a_burst(infra: Infra, suite: LocalSuite) -> dict[str, int]:
    """Servers up and every process running, whatever an earlier test left behind; returns
    the dead letters already parked, so that this test counts only its own."""
    if not await broker_answers(infra.amqp_url):
        await start_broker(infra)
    await ensure_database_up(infra.database_url)
    await asyncio.to_thread(revive, suite)
    return dead_letters(await asyncio.to_thread(queue_depths, infra, suite))


def start_burst(infra: Infra, suite: LocalSuite, numbers: range, name: str) -> asyncio.Task:
    return asyncio.create_task(
        submit_many(
            suite.url("intake"),
            numbers,
            run=f"{infra.run_id}-{name}",
            concurrency=CONCURRENCY,
        )
    )


async def quarter_accepted(suite: LocalSuite, numbers: range, burst: asyncio.Task) -> int:
    """Wait until a quarter of the burst is accepted; returns how many were at that moment."""
    people = applicant_ids(numbers)
    seen = 0

    async def enough() -> bool:
        nonlocal seen
        seen = await accepted_count(suite, people)
        return seen >= len(numbers) // 4

    await until(enough, within=180, what="a quarter of the burst accepted", burst=burst)
    return seen


async def assert_same_as_without_fault(
    infra: Infra,
    suite: LocalSuite,
    submitted: list[Submitted],
    expected: dict[int, Outcome],
    dead_before: dict[str, int],
) -> None:
    started = time.monotonic()
    await settle(infra, suite, submitted, within=SETTLE_SECONDS)
    print(f"settled in {time.monotonic() - started:.1f} s")
    # The platform-wide problems first: they say where things stuck, the per-household ones
    # (often hundreds) only what that cost.
    problems: list[str] = []
    pending = await outbox_pending(suite, SERVICES)
    if any(pending.values()):
        problems.append(f"outbox rows never sent: {pending}")
    depths = await asyncio.to_thread(queue_depths, infra, suite)
    left = undrained(suite, depths)
    if left:
        problems.append(f"messages never consumed: {left}")
    # A service that never reconnected to the broker or the database says so here.
    async with httpx.AsyncClient(timeout=10) as client:
        for name in SERVICES:
            answer = await client.get(f"{suite.url(name)}/readyz")
            if answer.status_code != 200:
                problems.append(f"{name} not ready after the fault: {answer.text[:300]}")
    dead = dead_letters(depths)
    grown = {name: n for name, n in dead.items() if n > dead_before.get(name, 0)}
    if grown:
        problems.append(f"new dead letters: {grown}")
    problems += await end_state_problems(suite, submitted, expected)
    # Without this the check of dead letters could pass by looking at nothing.
    assert f"{suite.prefix}.verification.dead" in dead, sorted(dead)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])


async def test_broker_stopped_and_started_mid_burst(
    infra: Infra, expected: dict[int, Outcome], platform: LocalSuite
) -> None:
    with explained(platform, (*SERVICES, "departments")):
        dead_before = await ready_for_a_burst(infra, platform)
        burst = start_burst(infra, platform, BROKER_BURST, "broker")
        try:
            at_fault = await quarter_accepted(platform, BROKER_BURST, burst)
            try:
                await asyncio.to_thread(stop_broker, infra)
                # The outage is real: nobody gets an AMQP connection while it lasts.
                assert not await broker_answers(infra.amqp_url)
                await asyncio.sleep(BROKER_DOWN_SECONDS)
            finally:
                await start_broker(infra)
            submitted: list[Submitted] = await burst
        finally:
            if not burst.done():
                burst.cancel()
        assert at_fault < len(BROKER_BURST), "the outage must hit while the burst runs"
        assert len(submitted) == len(BROKER_BURST)
        await assert_same_as_without_fault(infra, platform, submitted, expected, dead_before)


async def test_verification_killed_mid_burst_and_restarted(
    infra: Infra, expected: dict[int, Outcome], platform: LocalSuite
) -> None:
    with explained(platform, ("verification", "intake", "review", "departments")):
        dead_before = await ready_for_a_burst(infra, platform)
        baseline = (await fetch(platform, "verification", _CASES))[0]["total"]
        in_flight = 0

        async def busy() -> bool:
            nonlocal in_flight
            row = (await fetch(platform, "verification", _CASES))[0]
            in_flight = row["open"]
            return row["total"] - baseline >= len(VERIFICATION_BURST) // 4 and in_flight > 0

        burst = start_burst(infra, platform, VERIFICATION_BURST, "verification")
        try:
            await until(busy, within=180, what="verification busy with the burst", burst=burst)
            await asyncio.to_thread(platform.kill, "verification")
            assert platform.procs["verification"].returncode == -9
            await asyncio.sleep(SERVICE_DOWN_SECONDS)
            await asyncio.to_thread(platform.start, ["verification"])
            await asyncio.to_thread(platform.wait_ready, ["verification"])
            submitted: list[Submitted] = await burst
        finally:
            if not burst.done():
                burst.cancel()
        assert in_flight > 0, "verification must be killed with cases open"
        await assert_same_as_without_fault(infra, platform, submitted, expected, dead_before)


_CASES = (
    "SELECT count(*) AS total, count(*) FILTER (WHERE status = 'open') AS open"
    " FROM verification_cases"
)


async def test_intake_killed_mid_burst_and_restarted(
    infra: Infra, expected: dict[int, Outcome], platform: LocalSuite
) -> None:
    with explained(platform, ("intake", "verification", "review")):
        dead_before = await ready_for_a_burst(infra, platform)
        burst = start_burst(infra, platform, INTAKE_BURST, "intake")
        try:
            at_fault = await quarter_accepted(platform, INTAKE_BURST, burst)
            await asyncio.to_thread(platform.kill, "intake")
            assert platform.procs["intake"].returncode == -9
            await asyncio.sleep(SERVICE_DOWN_SECONDS)
            await asyncio.to_thread(platform.start, ["intake"])
            await asyncio.to_thread(platform.wait_ready, ["intake"])
            submitted: list[Submitted] = await burst
        finally:
            if not burst.done():
                burst.cancel()
        assert at_fault < len(INTAKE_BURST), "intake must be killed while the burst runs"
        # Calls were cut or refused while intake was down, and retried with the same key.
        assert sum(s.attempts for s in submitted) > 2 * len(submitted)
        await assert_same_as_without_fault(infra, platform, submitted, expected, dead_before)


async def test_database_restarted_mid_burst(
    infra: Infra, expected: dict[int, Outcome], platform: LocalSuite
) -> None:
    if infra.container_exec is not None:
        pytest.skip(
            "PostgreSQL runs in a testcontainer as its main process: restarting it stops the "
            "container, and the fixture has no handle to run commands in it"
        )
    assert is_local_postgres(infra.database_url), (
        "the database restart needs the local cluster (pg_ctlcluster); "
        f"TEST_DATABASE_URL points elsewhere: {infra.database_url}"
    )
    with explained(platform, (*SERVICES, "departments")):
        dead_before = await ready_for_a_burst(infra, platform)
        started_before = await _postmaster_started(platform)
        burst = start_burst(infra, platform, DATABASE_BURST, "database")
        try:
            at_fault = await quarter_accepted(platform, DATABASE_BURST, burst)
            try:
                await asyncio.to_thread(restart_database)
            finally:
                await ensure_database_up(infra.database_url)
            submitted: list[Submitted] = await burst
        finally:
            if not burst.done():
                burst.cancel()
        assert at_fault < len(DATABASE_BURST), "the restart must hit while the burst runs"
        assert await _postmaster_started(platform) > started_before, "PostgreSQL did restart"
        assert await database_answers(infra.database_url)
        await assert_same_as_without_fault(infra, platform, submitted, expected, dead_before)


async def _postmaster_started(suite: LocalSuite) -> float:
    rows = await fetch(
        suite, "intake", "SELECT extract(epoch FROM pg_postmaster_start_time())::float8 AS t"
    )
    return float(rows[0]["t"])
