"""Helpers for the message-level fault tests (issue 9, item 2).

The platform under test is four services (intake, verification, review, alerting) run
in-process in a system of their own, started and stopped by name, with the eight departments
answering over the department AMQP contract. Households are scripted: each belongs to a
scenario that fixes what the departments answer about it, so two households of one scenario
must end in the same state, whatever happened to the messages in between.

The faults are played by ordinary broker clients placed between the services:

* :class:`Duplicator` republishes every message it sees on an exchange once more (and, for
  department answers, once more under a new event id, as a department system that forgot it
  had answered would);
* :class:`EventHold` keeps a stopped service's events (its queue goes with it in these tests)
  so that the test can hand them back in another order;
* :class:`Gate` holds department answers until the test releases them, in the order it likes.

:func:`end_state` reads one application's state through the services' APIs (plus row and event
counts from their databases) and normalises away what legitimately differs between two
applications (ids, times, member hashes), so states compare with ``==``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aio_pika
import orjson
import sqlalchemy as sa
from aio_pika.abc import AbstractIncomingMessage
from prometheus_client.parser import text_string_to_metric_families

from services.review.tables import cases as review_cases
from services.verification.tables import verification_cases
from shared.amqp.deadletters import DeadLetter, fetch
from shared.amqp.producers import ORIGINAL_USER_HEADER
from shared.amqp.topology import topic_matches
from shared.city import DEFAULT_VERIFYING_DEPARTMENTS
from shared.events.catalogue import (
    DepartmentAnswered,
    HukouFinding,
    IncomeFinding,
    VerificationRequested,
)
from shared.tables import inbox, outbox
from simulators.sdk import Answer, DepartmentClient, answer_envelope
from tests.conftest import ACCOUNT_TEMPLATE, Infra
from tests.e2e.journey_support import MATERIALS, HonestDepartment, application_body, eventually
from tests.examples import resident_id
from tests.services import RunningService, running_service, token

UNDER_TEST = ("intake", "verification", "review", "alerting")
STREET = "350203001"  # 厦港街道, 思明区
CATEGORY = "newly_employed"  # verified by the default eight departments
INCOMPLETE_REASON = "申请人承诺三个工作日内补交全部材料"
STREET_CLERK = token("street_clerk", org=STREET, sub="clerk-faults", name="王经办")
SUPERVISOR = token("supervisor", org="350200", sub="supervisor-faults")

# Scenarios: what the departments answer about a household, hence how it must end.
COMPLETE = "complete"  # all materials at acceptance, records agree: nothing to flag
INCOMPLETE = "incomplete"  # accepted without materials (Y1), records agree
DISCREPANT = "discrepant"  # no materials (Y1), tax finds far more income, real estate empty (R6)
SCENARIOS = (COMPLETE, INCOMPLETE, DISCREPANT)
UNDECLARED_INCOME = Decimal("9000.00")


# -- households and departments ------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    index: int
    scenario: str
    applicant_id: str
    spouse_id: str

    @property
    def portal(self) -> dict[str, str]:
        return token("applicant", org="350200", sub=f"resident-{self.index}", name="张三丰")


class FamilyBook:
    """The run's households: unique resident IDs, scenarios in turn."""

    def __init__(self) -> None:
        self._by_resident: dict[str, tuple[Family, str]] = {}
        self._next = 0

    def batch(self, size: int) -> list[Family]:
        families = []
        for _ in range(size):
            i = self._next
            self._next += 1
            assert i < 1000, "resident ID serials are three digits"
            family = Family(
                i,
                SCENARIOS[i % len(SCENARIOS)],
                resident_id(birth="19900101", serial=f"{i:03d}"),
                resident_id(birth="19920315", serial=f"{i:03d}"),
            )
            self._by_resident[family.applicant_id] = (family, "applicant")
            self._by_resident[family.spouse_id] = (family, "spouse")
            families.append(family)
        return families

    def family_of(self, request: VerificationRequested) -> Family:
        return self._by_resident[request.subjects[0].resident_id][0]

    def role_of(self, resident: str) -> str:
        return self._by_resident[resident][1]


class Gate:
    """Holds department answers until the test releases them, one key or all at once."""

    def __init__(self) -> None:
        self._events: defaultdict[Hashable, asyncio.Event] = defaultdict(asyncio.Event)
        self._all = asyncio.Event()
        self.waiting: set[Hashable] = set()

    async def passage(self, key: Hashable) -> None:
        self.waiting.add(key)
        own = asyncio.ensure_future(self._events[key].wait())
        every = asyncio.ensure_future(self._all.wait())
        await asyncio.wait({own, every}, return_when=asyncio.FIRST_COMPLETED)
        own.cancel()
        every.cancel()

    def release(self, key: Hashable) -> None:
        self._events[key].set()

    def release_all(self) -> None:
        self._all.set()


class ScriptedDepartment:
    """A department answering by the household's scenario; honest (as in the journey) unless
    the scenario says otherwise. ``before_answer`` and ``gate`` let a test act in between."""

    def __init__(self, department: str, book: FamilyBook) -> None:
        self.department = department
        self.book = book
        self._honest = HonestDepartment(department)
        self.requests: dict[uuid.UUID, VerificationRequested] = {}  # by application id
        self.gate: Gate | None = None
        self.before_answer: Callable[[VerificationRequested], Awaitable[None]] | None = None

    async def __call__(self, request: VerificationRequested) -> Answer:
        self.requests[request.application_id] = request
        if self.before_answer is not None:
            await self.before_answer(request)
        if self.gate is not None:
            await self.gate.passage((self.department, request.application_id))
        family = self.book.family_of(request)
        by = f"e2e:{self.department}"
        if family.scenario == DISCREPANT and self.department == "tax":
            findings = [
                IncomeFinding(
                    member_ref=s.member_ref,
                    kind="income",
                    monthly_amount=UNDECLARED_INCOME,
                    source="wages",
                )
                for s in request.subjects
            ]
            return Answer(findings=findings, answered_by=by)
        if family.scenario == DISCREPANT and self.department == "real_estate":
            return Answer(findings=(), no_record=False, answered_by=by)  # empty: R6
        return await self._honest(request)


# -- the platform ----------------------------------------------------------------------------------


@contextlib.contextmanager
def single_department_requests() -> Iterator[None]:
    """HOUSING_VERIFICATION_REQUEST_BATCHES=none while a service is built, then as it was."""
    name = "HOUSING_VERIFICATION_REQUEST_BATCHES"
    before = os.environ.get(name)
    os.environ[name] = "none"
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


class Platform:
    """The four services of one system plus the eight departments; services stop and start."""

    def __init__(self, infra: Infra, system: str) -> None:
        self.infra = infra
        self.system = system
        prefix = f"{infra.prefix}.{system}"
        self.exchange_names = {
            "events": f"{prefix}.events",
            "verification": f"{prefix}.verification",
        }
        self.queue_prefix = prefix
        self.book = FamilyBook()
        self.svc: dict[str, RunningService] = {}
        self.departments = {
            d: ScriptedDepartment(d, self.book) for d in DEFAULT_VERIFYING_DEPARTMENTS
        }
        self.filed: list[Filed] = []
        self._contexts: dict[str, AbstractAsyncContextManager[RunningService]] = {}
        self._bindings: dict[str, list[tuple[str, str]]] = {}
        self._clients: list[DepartmentClient] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def amqp_url(self) -> str:
        return self.infra.amqp_url

    @property
    def tools_url(self) -> str:
        """The impersonating login (tests/conftest.py) for tools that re-send what a service
        published: their copies keep the publisher's user_id, as a redelivery does."""
        return self.infra.tools_url

    def account_of(self, name: str) -> str:
        return ACCOUNT_TEMPLATE.format(service=name)

    def client(self, name: str) -> Any:
        return self.svc[name].client

    def bindings_of(self, name: str) -> list[tuple[str, str]]:
        """(exchange, pattern) of a service's queue as its runtime declared it (the runtime may
        narrow the service's declared bindings), known while it is stopped too."""
        return self._bindings[name]

    def queue_of(self, name: str) -> str:
        return self.svc[name].runtime.queue_spec.name

    async def start(self, name: str) -> None:
        # Small pools: other suites share the test server's hundred connections. The departments
        # get single requests (HOUSING_VERIFICATION_REQUEST_BATCHES=none): this suite counts
        # requests and answers per application, which a batch of several applications has not;
        # the batches' own faults (resent, bad items) are in tests/integration/verification.
        context = running_service(self.infra, name, system=self.system, db_pool_size=5)
        # VerificationSettings is read from the environment when the service is built.
        with single_department_requests():
            running = self.svc[name] = await context.__aenter__()
        self._contexts[name] = context
        runtime = running.runtime
        self._bindings[name] = [
            (runtime.exchange_names[b.exchange], b.routing_key) for b in runtime.queue_spec.bindings
        ]

    async def stop(self, name: str) -> None:
        context = self._contexts.pop(name)
        del self.svc[name]
        await context.__aexit__(None, None, None)

    async def start_departments(self) -> None:
        for department in self.departments.values():
            # Prefetch above a batch's size: a gated department holds every request at once.
            self._clients.append(
                DepartmentClient(
                    department=department.department,
                    amqp_url=self.amqp_url,
                    handler=department,
                    exchange=self.exchange_names["verification"],
                    queue_prefix=self.queue_prefix,
                    prefetch=256,
                )
            )
        self._tasks = [asyncio.create_task(c.run()) for c in self._clients]
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in self._clients)), 30)

    async def close(self) -> None:
        for c in self._clients:
            c.stop()
        await asyncio.gather(*self._tasks)
        for name in reversed(list(self._contexts)):
            await self.stop(name)


@dataclass(frozen=True)
class Filed:
    family: Family
    application_id: str


async def file_application(platform: Platform, family: Family) -> Filed:
    """The portal applies; complete households upload every material; the street accepts."""
    intake = platform.client("intake")
    created = await intake.post(
        "/applications",
        json=application_body(
            family.applicant_id, family.spouse_id, category=CATEGORY, street=STREET
        ),
        headers={**family.portal, "Idempotency-Key": f"apply-{family.index}"},
    )
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    complete = family.scenario == COMPLETE
    if complete:
        for code in MATERIALS:
            uploaded = await intake.post(
                f"/applications/{app_id}/materials",
                params={"material_type": code, "file_name": f"{code}.pdf"},
                content=b"%PDF-1.4 faults " + code.encode(),
                headers={**family.portal, "Content-Type": "application/pdf"},
            )
            assert uploaded.status_code == 201, uploaded.text
    accepted = await intake.post(
        f"/applications/{app_id}/accept",
        json={} if complete else {"incomplete_reason": INCOMPLETE_REASON},
        headers={**STREET_CLERK, "Idempotency-Key": f"accept-{family.index}"},
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["materials_complete"] is complete
    return Filed(family, app_id)


async def file_batch(platform: Platform, size: int) -> list[Filed]:
    limit = asyncio.Semaphore(8)

    async def one(family: Family) -> Filed:
        async with limit:
            return await file_application(platform, family)

    filed = list(await asyncio.gather(*(one(f) for f in platform.book.batch(size))))
    platform.filed += filed
    return filed


# -- waiting until everything is handled -----------------------------------------------------------


@dataclass(frozen=True)
class Published:
    id: uuid.UUID
    exchange: str
    routing_key: str


async def published(platform: Platform, subjects: Iterable[str]) -> list[Published]:
    """Every event about ``subjects`` in the outboxes of the running services."""
    rows: list[Published] = []
    for running in platform.svc.values():
        async with running.runtime.engine.connect() as conn:
            found = await conn.execute(
                sa.select(outbox.c.id, outbox.c.exchange, outbox.c.routing_key).where(
                    outbox.c.subject.in_(list(subjects))
                )
            )
            rows += [Published(r.id, r.exchange, r.routing_key) for r in found]
    return rows


def routed(events: Iterable[Published], bindings: Iterable[tuple[str, str]]) -> set[uuid.UUID]:
    """The ids of the events a queue with ``bindings`` receives."""
    bindings = list(bindings)
    return {
        e.id
        for e in events
        if any(x == e.exchange and topic_matches(p, e.routing_key) for x, p in bindings)
    }


async def handled_ids(running: RunningService, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    async with running.runtime.engine.connect() as conn:
        return set(await conn.scalars(sa.select(inbox.c.event_id).where(inbox.c.event_id.in_(ids))))


async def lagging(platform: Platform, subjects: set[str]) -> dict[str, int]:
    """Per running service, events about ``subjects`` routed to it and not handled yet (not
    published yet, or not consumed yet). Empty when all is quiet. Events no queue is bound to
    do not count: with ``mandatory`` publishing they stay in the outbox, which is no fault of
    the consumers."""
    events = await published(platform, subjects)
    lag = {}
    for name, running in platform.svc.items():
        wanted = routed(events, platform.bindings_of(name))
        lag[name] = len(wanted - await handled_ids(running, wanted))
    return {k: v for k, v in lag.items() if v}


async def completed_cases(platform: Platform, subjects: set[str]) -> int:
    async with platform.svc["verification"].runtime.engine.connect() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(verification_cases)
            .where(
                verification_cases.c.application_id.in_([uuid.UUID(s) for s in subjects]),
                verification_cases.c.status == "completed",
            )
        )
    return int(count or 0)


async def settled(platform: Platform, filed: list[Filed]) -> bool:
    """Every case verified, and every event about the batch handled wherever it is routed."""
    subjects = {f.application_id for f in filed}
    if await completed_cases(platform, subjects) != len(subjects):
        return False
    return not await lagging(platform, subjects)


# -- end state -------------------------------------------------------------------------------------

# Keys whose values differ between two applications of one scenario (ids, times, tracking and
# receipt numbers): compared as "set" or "not set" only.
VOLATILE = re.compile(r"(^id$|(?<!rule)_id$|_ids$|^at$|_at$|_on$|_no$|_date$|^deadline$)")


def normalise(value: Any, tokens: dict[str, str]) -> Any:
    """``value`` with ids and times reduced to whether they are set, ``tokens`` (member hashes)
    replaced by names, and lists of records sorted (their order follows arrival times)."""
    if isinstance(value, dict):
        return {
            tokens.get(k, k): _masked(v) if VOLATILE.search(k) else normalise(v, tokens)
            for k, v in value.items()
        }
    if isinstance(value, list):
        items = [normalise(v, tokens) for v in value]
        if all(isinstance(v, dict) for v in items):
            items.sort(key=lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS))
        return items
    if isinstance(value, str):
        return tokens.get(value, value)
    return value


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where two normalised states differ, one line per leaf (pytest's diff of nested states
    is too long to read)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return [
            line
            for k in sorted(expected.keys() | actual.keys())
            for line in differences(expected.get(k), actual.get(k), f"{path}.{k}")
        ]
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [
            line
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for line in differences(e, a, f"{path}[{i}]")
        ]
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


def _masked(value: Any) -> Any:
    if value is None:
        return None
    return ["<set>"] * len(value) if isinstance(value, list) else "<set>"


async def _read(client: Any, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=SUPERVISOR)
    assert response.status_code == 200, (path, response.text)
    return response.json()


async def end_state(platform: Platform, filed: Filed) -> dict[str, Any]:
    app_id = filed.application_id
    tokens = {}
    for department in platform.departments.values():
        request = department.requests.get(uuid.UUID(app_id))
        for s in request.subjects if request else ():
            tokens[s.member_ref] = platform.book.role_of(s.resident_id)
    async with platform.svc["review"].runtime.engine.connect() as conn:
        case_ids = list(
            await conn.scalars(
                sa.select(review_cases.c.id).where(review_cases.c.application_id == app_id)
            )
        )
    events: dict[str, dict[str, int]] = {}
    for name, running in platform.svc.items():
        async with running.runtime.engine.connect() as conn:
            types = await conn.scalars(sa.select(outbox.c.type).where(outbox.c.subject == app_id))
            events[name] = dict(sorted(Counter(types).items()))
    raw = {
        "verification": await _read(platform.client("verification"), f"/verifications/{app_id}"),
        "review_cases": len(case_ids),
        "review": [await _read(platform.client("review"), f"/cases/{c}") for c in case_ids],
        "alerting": (
            await _read(
                platform.client("alerting"), "/cockpit", application_id=app_id, status="all"
            )
        )["case"],
        "events": events,
    }
    return normalise(raw, tokens)


async def end_states(platform: Platform, filed: list[Filed]) -> list[dict[str, Any]]:
    limit = asyncio.Semaphore(8)

    async def one(f: Filed) -> dict[str, Any]:
        async with limit:
            return await end_state(platform, f)

    return list(await asyncio.gather(*(one(f) for f in filed)))


# -- broker-side helpers ---------------------------------------------------------------------------


async def queue_depths(amqp_url: str, names: Iterable[str]) -> dict[str, int]:
    """Messages ready in each queue (dead letters and retries wait there, ready)."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        depths = {}
        for name in names:
            queue = await channel.declare_queue(name, passive=True)
            depths[name] = queue.declaration_result.message_count or 0
        return depths
    finally:
        await connection.close()


def parking_queues(platform: Platform) -> list[str]:
    """The dead-letter and retry queues of the running services."""
    names = []
    for running in platform.svc.values():
        spec = running.runtime.queue_spec
        names.append(spec.dead_letter_queue)
        names += [spec.retry_queue(i) for i in range(len(spec.retry_delays_ms))]
    return names


async def handled_counts(platform: Platform) -> Counter[tuple[str, str, str]]:
    """``events_handled_total`` by (service, type, outcome) from ``/metrics`` (one registry for
    the whole process, so any service's endpoint shows all of them)."""
    text = (await platform.client("intake").get("/metrics")).text
    counts: Counter[tuple[str, str, str]] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "events_handled_total":
                labels = sample.labels
                counts[(labels["service"], labels["type"], labels["outcome"])] = int(sample.value)
    return counts


async def dead_letters(amqp_url: str, queue: str) -> list[DeadLetter]:
    """The dead letters of ``queue``, left in place (unacked, they return when we close)."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        return [DeadLetter.of(m) for m in await fetch(channel, queue, limit=10_000)]
    finally:
        await connection.close()


async def purge(amqp_url: str, queue: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        await (await channel.get_queue(queue, ensure=True)).purge()
    finally:
        await connection.close()


COPY_HEADER = "x-e2e-copy"


@dataclass(frozen=True)
class Seen:
    routing_key: str
    type: str | None
    message_id: str | None


class Duplicator:
    """Republishes every message on ``exchange`` once more: same body, id, headers and
    routing key, as a redelivery or a relay that published twice would. Where ``fresh``
    says so it also sends the same body under a new event id. Copies carry
    ``COPY_HEADER`` only so that this consumer does not copy its own copies."""

    def __init__(
        self,
        amqp_url: str,
        exchange: str,
        queue: str,
        fresh: Callable[[str], bool] = lambda routing_key: False,
    ) -> None:
        self.amqp_url = amqp_url
        self.exchange_name = exchange
        self.queue_name = queue
        self.fresh = fresh
        self.originals: list[Seen] = []
        self.copies: list[Seen] = []
        self.fresh_copies: list[Seen] = []
        self._connection: aio_pika.abc.AbstractConnection | None = None

    async def __aenter__(self) -> Duplicator:
        self._connection = await aio_pika.connect(self.amqp_url)
        channel = await self._connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=64)
        self._exchange = await channel.get_exchange(self.exchange_name, ensure=False)
        queue = await channel.declare_queue(self.queue_name, exclusive=True)
        await queue.bind(self._exchange, routing_key="#")
        await queue.consume(self._on_message)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._connection is not None
        await self._connection.close()

    def of(self, seen: list[Seen], prefix: str) -> list[Seen]:
        return [s for s in seen if s.routing_key.startswith(prefix)]

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        if (message.headers or {}).get(COPY_HEADER):
            await message.ack()
            return
        key = message.routing_key or ""
        self.originals.append(Seen(key, message.type, message.message_id))
        await self._copy(message, message.body, message.message_id)
        self.copies.append(Seen(key, message.type, message.message_id))
        if self.fresh(key):
            body = orjson.loads(message.body)
            body["id"] = str(uuid.uuid4())
            await self._copy(message, orjson.dumps(body), body["id"])
            self.fresh_copies.append(Seen(key, message.type, body["id"]))
        await message.ack()

    async def _copy(self, message: AbstractIncomingMessage, body: bytes, message_id: Any) -> None:
        await self._exchange.publish(
            aio_pika.Message(
                body=body,
                headers={**(message.headers or {}), COPY_HEADER: 1},
                message_id=message_id,
                correlation_id=message.correlation_id,
                type=message.type,
                content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                app_id=message.app_id,
                user_id=message.user_id,
            ),
            routing_key=message.routing_key or "",
            mandatory=True,
        )


@dataclass(frozen=True)
class Held:
    """A message as it reached a holding queue, enough to deliver it again."""

    body: bytes
    exchange: str
    routing_key: str
    message_id: str | None
    correlation_id: str | None
    type: str | None
    app_id: str | None
    user_id: str | None

    @property
    def event(self) -> dict[str, Any]:
        return orjson.loads(self.body)


class EventHold:
    """A queue bound like a stopped service's own: its events wait here (in the test's memory
    once consumed) until :meth:`deliver` hands them to the service's queue in any order."""

    def __init__(self, amqp_url: str, queue: str, bindings: list[tuple[str, str]]) -> None:
        self.amqp_url = amqp_url
        self.queue_name = queue
        self.bindings = bindings
        self.held: list[Held] = []
        self._connection: aio_pika.abc.AbstractConnection | None = None

    async def __aenter__(self) -> EventHold:
        self._connection = await aio_pika.connect(self.amqp_url)
        channel = await self._connection.channel()
        queue = await channel.declare_queue(self.queue_name, exclusive=True)
        for exchange, pattern in self.bindings:
            await queue.bind(exchange, routing_key=pattern)
        await queue.consume(self._on_message)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop holding: the (exclusive) queue goes with the connection."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    def ids(self) -> set[uuid.UUID]:
        return {uuid.UUID(h.event["id"]) for h in self.held}

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self.held.append(
            Held(
                body=message.body,
                exchange=message.exchange or "",
                routing_key=message.routing_key or "",
                message_id=message.message_id,
                correlation_id=message.correlation_id,
                type=message.type,
                app_id=message.app_id,
                user_id=message.user_id,
            )
        )
        await message.ack()


async def deliver(amqp_url: str, queue: str, messages: list[Held], *, as_user: str) -> None:
    """Publish ``messages`` to ``queue`` in this order, through the default exchange with their
    original route and publisher in the headers, as the dead-letter replay does under the
    queue's own service account ``as_user`` (``amqp_url`` must be allowed to stamp it)."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        for m in messages:
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body=m.body,
                    headers={
                        "x-original-exchange": m.exchange,
                        "x-original-routing-key": m.routing_key,
                        **({ORIGINAL_USER_HEADER: m.user_id} if m.user_id else {}),
                    },
                    user_id=as_user,
                    message_id=m.message_id,
                    correlation_id=m.correlation_id,
                    type=m.type,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    app_id=m.app_id,
                ),
                routing_key=queue,
                mandatory=True,
            )
    finally:
        await connection.close()


def positions(messages: list[Held], application_id: str) -> dict[str, int]:
    """Where each event type about one application stands in ``messages`` (first occurrence)."""
    found: dict[str, int] = {}
    for i, m in enumerate(messages):
        event = m.event
        if event["subject"] == application_id:
            found.setdefault(event["type"], i)
    return found


# -- a department answering garbage ------------------------------------------------------------

# Each kind of garbage, and how verification's consumer must end it: (dead-letter reason, error).
GARBAGE = {
    "not_json": ("unparseable", "ValidationError"),
    "not_an_envelope": ("unparseable", "ValidationError"),
    "invalid_payload": ("retries_exhausted", "ValidationError"),
    "unknown_request": ("retries_exhausted", "UnknownRequest"),
    "in_another_name": ("retries_exhausted", "DepartmentMismatch"),
    "another_request": ("retries_exhausted", "UnknownRequest"),
    "stranger_finding": ("retries_exhausted", "AnswerRejected"),
}
STRANGER = "f" * 64  # a member_ref no request has


class GarbageSender:
    """Before each of its department's answers, sends one kind of garbage on the department's
    own response key (the kinds in turn by household). Two kinds use the request of another
    department (``victim``) for the same application, which it waits to see."""

    def __init__(self, platform: Platform, department: str, victim: str) -> None:
        self.platform = platform
        self.department = department
        self.victim = platform.departments[victim]
        self.sent: dict[str, tuple[str, str]] = {}  # message id -> (kind, application id)
        self._connection: aio_pika.abc.AbstractConnection | None = None

    async def __aenter__(self) -> GarbageSender:
        self._connection = await aio_pika.connect(self.platform.amqp_url)
        channel = await self._connection.channel(publisher_confirms=True)
        name = self.platform.exchange_names["verification"]
        self._exchange = await channel.get_exchange(name, ensure=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._connection is not None
        await self._connection.close()

    async def send(self, request: VerificationRequested) -> None:
        family = self.platform.book.family_of(request)
        kind = list(GARBAGE)[family.index % len(GARBAGE)]
        message_id, body = await self._garbage(kind, request)
        self.sent[message_id] = (kind, str(request.application_id))
        await self._exchange.publish(
            aio_pika.Message(
                body=body,
                message_id=message_id,
                type=DepartmentAnswered.event_type,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=f"response.{self.department}",
            mandatory=True,
        )

    async def _victims_request(self, application_id: uuid.UUID) -> VerificationRequested:
        async def seen() -> VerificationRequested | None:
            return self.victim.requests.get(application_id)

        return await eventually(seen, 20, f"the {self.victim.department} request")

    async def _garbage(self, kind: str, request: VerificationRequested) -> tuple[str, bytes]:
        dept = self.department
        if kind == "not_json":
            return str(uuid.uuid4()), b"\xff\xfe RECORDS SYSTEM UNAVAILABLE"
        if kind == "not_an_envelope":
            body = {"request_id": str(request.request_id), "no_record": True}
            return str(uuid.uuid4()), orjson.dumps(body)
        if kind == "invalid_payload":
            envelope = answer_envelope(dept, request, Answer.nothing_on_record())
            data = {**envelope.data, "no_record": "perhaps", "answered_at": "yesterday"}
            envelope = envelope.model_copy(update={"id": uuid.uuid4(), "data": data})
        elif kind == "unknown_request":
            unknown = request.model_copy(update={"request_id": uuid.uuid4()})
            envelope = answer_envelope(dept, unknown, Answer.nothing_on_record())
        elif kind == "in_another_name":
            # The victim's real request, answered in the victim's name and under the id of the
            # victim's own answer: applied, it would stand in for the honest answer.
            victims = await self._victims_request(request.application_id)
            envelope = answer_envelope(self.victim.department, victims, Answer.nothing_on_record())
        elif kind == "another_request":
            victims = await self._victims_request(request.application_id)
            envelope = answer_envelope(dept, victims, Answer.nothing_on_record())
        else:  # stranger_finding, under the id of this department's own coming answer
            finding = HukouFinding(
                member_ref=STRANGER, kind="hukou", division="350203", residence_permit=False
            )
            envelope = answer_envelope(dept, request, Answer(findings=[finding]))
        return str(envelope.id), envelope.to_bytes()
