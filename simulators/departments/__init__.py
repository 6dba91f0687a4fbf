"""Reference department simulators, built on the department SDK package (``sdk/``, through
``simulators.sdk`` for the platform's clock).

``python -m simulators.departments`` starts one simulated system per department of the city
configuration (or those chosen with ``HOUSING_SIMULATED_DEPARTMENTS`` / ``--departments``),
each consuming its own request queue and answering on ``response.<department>`` with fixture
data (``fixtures``). Latency, jitter, error rate and empty-answer rate are configurable, so
tests and benchmarks can model slow, flaky or careless departments.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from shared.events.catalogue import VerificationRequested
from simulators.departments.fixtures import fixture_answer
from simulators.sdk import Answer, DepartmentClient, TemporaryFailure


@dataclass(frozen=True)
class Behaviour:
    """How a simulated department behaves."""

    latency_ms: float = 200.0  # time to search its records
    jitter_ms: float = 0.0  # plus a uniform random 0..jitter
    error_rate: float = 0.0  # share of attempts that fail temporarily (request redelivered)
    empty_rate: float = 0.0  # share of answers sent empty (neither findings nor no_record)


@dataclass
class SimulatedDepartment:
    department: str
    behaviour: Behaviour = field(default_factory=Behaviour)
    rng: random.Random = field(default_factory=random.Random)

    async def __call__(self, request: VerificationRequested) -> Answer:
        delay = self.behaviour.latency_ms + self.rng.uniform(0, self.behaviour.jitter_ms)
        await asyncio.sleep(delay / 1000)
        if self.rng.random() < self.behaviour.error_rate:
            raise TemporaryFailure(f"simulated outage of {self.department}")
        if self.rng.random() < self.behaviour.empty_rate:
            return Answer(findings=(), no_record=False, answered_by=f"simulator:{self.department}")
        return fixture_answer(self.department, request)


def clients(
    departments: Sequence[str],
    *,
    amqp_url: str,
    exchange: str,
    queue_prefix: str,
    behaviour: Behaviour,
    prefetch: int = 64,
) -> list[DepartmentClient]:
    return [
        DepartmentClient(
            department=d,
            amqp_url=amqp_url,
            handler=SimulatedDepartment(d, behaviour),
            exchange=exchange,
            queue_prefix=queue_prefix,
            prefetch=prefetch,
        )
        for d in departments
    ]


@contextlib.asynccontextmanager
async def answering(
    departments: Sequence[str],
    *,
    amqp_url: str,
    exchange: str,
    queue_prefix: str,
    behaviour: Behaviour,
    connect_seconds: float = 30,
) -> AsyncIterator[list[DepartmentClient]]:
    """The simulators of ``departments`` running, each consuming its request queue, for the
    duration of the block. The queues are declared by verification at its start and the
    clients retry until they exist, so the block begins once every one is connected."""
    running = clients(
        departments,
        amqp_url=amqp_url,
        exchange=exchange,
        queue_prefix=queue_prefix,
        behaviour=behaviour,
    )
    tasks = [asyncio.create_task(c.run()) for c in running]
    try:
        async with asyncio.timeout(connect_seconds):
            await asyncio.gather(*(c.connected.wait() for c in running))
        yield running
    finally:
        for c in running:
            c.stop()
        await asyncio.gather(*tasks)
