"""What ``/metrics`` serves: per-route HTTP metrics and the gauges computed at scrape time.

Two kinds of metrics meet in one answer:

* process counters and histograms in prometheus_client's default registry (HTTP latency per
  route, outbox relay counters, events handled, the provincial push), updated as work happens;
* gauges of the state in the database and on the broker (outbox backlog, dead letters, queue
  consumers, readiness, and each service's business gauges), computed when Prometheus scrapes,
  each by one cheap query, into a registry built for that one answer. They are never stale,
  and a label set that disappeared (a queue gone) disappears from the answer too.

The HTTP histogram is labelled with the route's template (``/applications/{application_id}``),
never the raw path: one series per endpoint, however many ids are requested. A request that
matches no route is counted under ``unmatched``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import aio_pika
import sqlalchemy as sa
import structlog
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.types import Scope

from shared.amqp.relay import PENDING
from shared.clock import now
from shared.tables import outbox

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = structlog.get_logger(__name__)

REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template, method and status class",
    ["service", "method", "route", "status_class"],
)

UNMATCHED_ROUTE = "unmatched"
# The longest the broker part of a scrape may take (Prometheus scrapes time out at 10 s).
BROKER_SCRAPE_SECONDS = 5.0

T = TypeVar("T")


def route_label(scope: Scope) -> str:
    """The template of the route that served the request (the router writes it into the
    scope when it matches), or ``unmatched``: a scan of random paths adds no series."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def observe_request(service: str, scope: Scope, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(
        service, scope["method"], route_label(scope), status_class(status)
    ).observe(seconds)


@dataclass(frozen=True)
class GaugeSample:
    """One value of a gauge computed at scrape time; ``service`` is added to the labels."""

    name: str
    help: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


# A service's business gauges: given its context and a database connection, one query each.
GaugeHook = Callable[[Any, AsyncConnection], Awaitable[Sequence[GaugeSample]]]


async def platform_database_gauges(conn: AsyncConnection, max_attempts: int) -> list[GaugeSample]:
    """Outbox backlog, the age of its oldest row and the rows parked after ``max_attempts``
    publish attempts, from the platform tables (the partial index ``outbox_pending`` keeps it
    an index scan however many rows were ever sent)."""
    row = (
        await conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.min(outbox.c.created_at),
                sa.func.count().filter(outbox.c.attempts >= max_attempts),
            ).where(outbox.c.sent_at.is_(None))
        )
    ).one()
    count, oldest, parked = int(row[0] or 0), row[1], int(row[2] or 0)
    age = 0.0 if oldest is None else max(0.0, (now() - oldest).total_seconds())
    return [
        GaugeSample("outbox_backlog", "Outbox rows not yet confirmed by the broker", count),
        GaugeSample(
            "outbox_oldest_pending_seconds", "Age of the oldest unpublished outbox row", age
        ),
        GaugeSample(
            "outbox_parked",
            "Outbox rows no longer tried after their last publish attempt failed "
            "(python -m shared.amqp.outbox)",
            parked,
        ),
    ]


async def broker_gauges(runtime: Runtime) -> list[GaugeSample]:
    """Depth and consumers of the service queue, depth of every dead-letter queue, read with
    passive declarations (a missing queue is skipped, not created)."""
    connection = runtime.broker.connection
    if connection is None or not runtime.broker.is_connected:
        return []
    spec = runtime.queue_spec
    queues: list[tuple[str, str]] = []  # (queue, kind)
    if spec.bindings:
        queues.append((spec.name, "main"))
        queues.append((spec.dead_letter_queue, "dead"))
    definition = runtime.definition
    if definition.dead_letter_queues is not None:
        queues += [(q, "dead") for q in definition.dead_letter_queues(runtime)]
    samples: list[GaugeSample] = []
    channel = None
    # Bounded: a scrape answers without the broker's gauges rather than hang on a broker that
    # accepts a request and never answers it (readiness then says which part failed).
    deadline = time.monotonic() + BROKER_SCRAPE_SECONDS
    try:
        for name, kind in queues:
            if channel is None:
                channel = await _bounded(connection.channel(), deadline)
            try:
                declared = await _bounded(channel.declare_queue(name, passive=True), deadline)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                # The broker closed the channel for the missing queue. It is never used
                # again, whatever its state reads: a robust channel may be reopening
                # itself, and a declaration on it could wait for that forever.
                channel = None
                continue
            ok = declared.declaration_result
            if kind == "main":
                samples.append(
                    GaugeSample(
                        "queue_messages",
                        "Messages ready in a service queue",
                        ok.message_count,
                        {"queue": name},
                    )
                )
                samples.append(
                    GaugeSample(
                        "queue_consumers",
                        "Consumers attached to a service queue (any process)",
                        ok.consumer_count,
                        {"queue": name},
                    )
                )
            else:
                samples.append(
                    GaugeSample(
                        "dead_letters",
                        "Messages parked in a dead-letter queue",
                        ok.message_count,
                        {"queue": name},
                    )
                )
    except TimeoutError:
        log.warning("metrics_broker_timeout", seconds=BROKER_SCRAPE_SECONDS, queues=len(queues))
        return []
    finally:
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(TimeoutError, aio_pika.exceptions.AMQPError, RuntimeError):
                await _bounded(channel.close(), time.monotonic() + BROKER_SCRAPE_SECONDS)
    return samples


async def _bounded(call: Awaitable[T], deadline: float) -> T:
    """``call``'s result, or TimeoutError at ``deadline`` whatever ``call`` does then.

    Not ``asyncio.timeout``: a broker call that swallows its cancellation (a channel opening
    in the client library did once, in CI) would leave the timeout spent and the next call
    unbounded, so the scrape hung for good. Here the call runs as a task of its own that is
    cancelled and left behind, never awaited, when the deadline passes."""
    task = asyncio.ensure_future(call)
    done, _ = await asyncio.wait({task}, timeout=max(deadline - time.monotonic(), 0.0))
    if not done:
        task.cancel()
        # Its outcome, whenever it comes, is read, so that it is not reported as never read.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        raise TimeoutError
    return task.result()


def readiness_gauges(
    checks: Mapping[str, bool], consumer_expected: bool, attached: bool
) -> list[GaugeSample]:
    samples = [
        GaugeSample("service_ready", "1 when /readyz answers 200", float(all(checks.values())))
    ]
    samples += [
        GaugeSample(
            "readiness_check", "One readiness check (1 passing)", float(ok), {"check": name}
        )
        for name, ok in checks.items()
    ]
    if consumer_expected:
        samples.append(
            GaugeSample(
                "consumer_attached", "1 while this process consumes its queue", float(attached)
            )
        )
    return samples


async def scrape(runtime: Runtime) -> list[GaugeSample]:
    """Every gauge of this service computed now; a source that is down contributes nothing
    (readiness says which), so a scrape never fails because the database is away."""
    started = time.perf_counter()
    service = runtime.settings.service
    samples: list[GaugeSample] = []
    checks = await runtime.readiness()
    consumer_expected = runtime.settings.run_workers and bool(runtime.queue_spec.bindings)
    attached = runtime.consumer is not None and runtime.consumer.attached
    samples += readiness_gauges(checks, consumer_expected, attached)
    if runtime.watchdog is not None:
        samples.append(
            GaugeSample(
                "broker_link_ok",
                "0 while the broker link watchdog sees a problem lasting past its stuck limit",
                float(runtime.broker_link_problem() is None),
            )
        )
    try:
        async with runtime.engine.connect() as conn:
            platform = await platform_database_gauges(conn, runtime.settings.outbox_max_attempts)
            samples += platform
            if runtime.relay is not None:
                # The relay's process gauge too, under its old name.
                PENDING.labels(service).set(platform[0].value)
            hook = runtime.definition.gauges
            if hook is not None:
                samples += await hook(runtime.context, conn)
    except (OSError, sa.exc.SQLAlchemyError) as exc:
        log.warning("metrics_database_failed", error=str(exc)[:200])
    try:
        samples += await broker_gauges(runtime)
    except (OSError, aio_pika.exceptions.AMQPError, RuntimeError) as exc:
        log.warning("metrics_broker_failed", error=str(exc)[:200])
    samples.append(
        GaugeSample(
            "metrics_scrape_seconds",
            "Time spent computing the scrape-time gauges",
            time.perf_counter() - started,
        )
    )
    return samples


class _Samples(Collector):
    def __init__(self, service: str, samples: Iterable[GaugeSample]) -> None:
        self.service = service
        self.samples = list(samples)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families: dict[str, GaugeMetricFamily] = {}
        label_names: dict[str, list[str]] = {}
        for sample in self.samples:
            names = ["service", *sorted(sample.labels)]
            family = families.get(sample.name)
            if family is None:
                family = GaugeMetricFamily(sample.name, sample.help, labels=names)
                families[sample.name] = family
                label_names[sample.name] = names
            elif label_names[sample.name] != names:
                raise ValueError(f"gauge {sample.name} with two label sets")
            family.add_metric(
                [self.service, *(sample.labels[k] for k in names[1:])], float(sample.value)
            )
        yield from families.values()


def exposition(service: str, samples: Iterable[GaugeSample]) -> bytes:
    """The scrape-time gauges in the text format, to follow the default registry's output."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Samples(service, samples))
    return generate_latest(registry)
