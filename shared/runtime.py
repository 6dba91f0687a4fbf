"""What a running service holds: settings, database engine, broker, relay and consumer.

One ``ServiceDefinition`` per service says what is specific to it (its tables, bindings,
handlers, routers, background jobs); ``Runtime`` wires the shared parts around it. This is the
composition root: handlers receive what they need from here, nothing reaches for globals.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
import structlog
from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import idempotency
from shared.amqp.broker import Broker
from shared.amqp.consumer import BatchHandler, Consumer, Handler
from shared.amqp.producers import ProducerAccounts
from shared.amqp.relay import OutboxRelay
from shared.amqp.topology import Binding, QueueSpec, narrow_to_handled
from shared.amqp.watchdog import LinkWatchdog
from shared.audit.checkpoint import CheckpointKey, sign_head
from shared.city import CityConfig, city_config
from shared.db import UnitOfWork, create_engine
from shared.handlers import TypedHandler, bind_handlers, derive_bindings
from shared.inbox import purge_retained
from shared.metrics import GaugeHook
from shared.scheduler import periodic
from shared.settings import SERVICES, ServiceSettings

log = structlog.get_logger(__name__)

BackgroundJob = Callable[["Runtime"], Awaitable[None]]

# Retention runs every ``retention_sweep_seconds`` (hourly by default): expired
# Idempotency-Keys (replay already ignores them), published outbox rows and handled inbox ids
# older than the retention period. The audit checkpoint job runs every
# ``audit_checkpoint_seconds`` (five minutes): it signs the chain head and emits
# ``audit.checkpointed`` (docs/audit.md).


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    title: str
    description: str
    metadata: sa.MetaData
    # Bindings beyond the handled event types (those are derived from ``handlers``): only for
    # a real reason (no catch-all: unrouted events have a queue of their own).
    bindings: tuple[Binding, ...] = ()
    # Event type -> typed handler (``shared.handlers``) or a plain ``(uow, envelope)`` one.
    handlers: Mapping[str, TypedHandler[Any] | Handler | BatchHandler] = field(default_factory=dict)
    routers: Sequence[APIRouter] = ()
    # Long-running jobs (schedulers for clock rules, pushers) started with the workers.
    background: Sequence[BackgroundJob] = ()
    # Builds the service's context (``services/<name>/context.py``) once from the runtime;
    # endpoints, handlers and sweeps all receive that one object.
    context: Callable[[Runtime], Any] | None = None
    # Business gauges computed when /metrics is scraped (``shared.metrics``): one cheap query
    # each, from the service's own tables.
    gauges: GaugeHook | None = None
    # Dead-letter queues beyond the service's own ``<queue>.dead`` whose depth /metrics
    # reports (verification's department queues).
    dead_letter_queues: Callable[[Runtime], Sequence[str]] | None = None
    # The URLs this service sends to outside the platform (setting name, URL or None), from its
    # context: production refuses to start when one is not https://.
    outbound_urls: Callable[[Any], Sequence[tuple[str, str | None]]] | None = None


class Runtime:
    def __init__(self, definition: ServiceDefinition, settings: ServiceSettings) -> None:
        self.definition = definition
        self.settings = settings
        self.exchange_names = {
            "events": settings.events_exchange,
            "verification": settings.verification_exchange,
        }
        self.engine: AsyncEngine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            lock_timeout_ms=settings.db_lock_timeout_ms,
            idle_in_transaction_timeout_ms=settings.db_idle_in_transaction_timeout_ms,
        )
        self.accounts = ProducerAccounts(
            own=settings.broker_account, template=settings.broker_user_template, services=SERVICES
        )
        self.broker = Broker(
            settings.amqp_url,
            self.exchange_names,
            name=settings.service,
            connect_seconds=settings.broker_connect_seconds,
            restore_seconds=settings.broker_restore_seconds,
            # Events no service binds go to the unrouted queue (no catch-all binding needed).
            unrouted=True,
        )
        self.queue_spec = QueueSpec(
            name=settings.queue_name,
            bindings=derive_bindings(
                definition.handlers,
                narrow_to_handled(definition.bindings, definition.handlers.keys()),
            ),
            delivery_limit=settings.delivery_limit,
            retry_delays_ms=tuple(settings.retry_delays_ms),
        )
        # Validated at start: a bad city file stops the service with the offending field named.
        self.city: CityConfig = city_config(settings.city_config)
        # Built at start too: a malformed key stops the service here, not at the first tick.
        self.checkpoint_key = CheckpointKey(settings.audit_checkpoint_key.get_secret_value())
        self.context: Any = definition.context(self) if definition.context is not None else None
        self.handlers = bind_handlers(definition.handlers, self.context)
        if settings.environment == "production" and definition.outbound_urls is not None:
            for setting, url in definition.outbound_urls(self.context):
                if url and urlsplit(str(url)).scheme != "https":
                    # Pushes, SMS and credit records would cross the network in clear text.
                    raise ValueError(
                        f"{setting}: {urlsplit(str(url)).scheme or 'no'}:// is refused in "
                        "production; outbound URLs must use https://"
                    )
        self.consumer: Consumer | None = None
        self.relay: OutboxRelay | None = None
        self.watchdog: LinkWatchdog | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    def uow(self) -> UnitOfWork:
        return UnitOfWork(
            self.engine, producer=self.settings.service, exchanges=self.exchange_names
        )

    async def start(self) -> None:
        await self.broker.connect()
        if not self.settings.run_workers:
            return
        self.relay = OutboxRelay(
            self.engine,
            self.broker,
            service=self.settings.service,
            database_url=self.settings.database_url,
            batch_size=self.settings.outbox_batch_size,
            poll_seconds=self.settings.outbox_poll_seconds,
            max_attempts=self.settings.outbox_max_attempts,
        )
        self._spawn(self.relay.run(), "outbox-relay")
        self._spawn(
            periodic(
                "platform-retention",
                self.settings.retention_sweep_seconds,
                self._purge_expired,
            )(self),
            "platform-retention",
        )
        self._spawn(
            periodic(
                "audit-checkpoint", self.settings.audit_checkpoint_seconds, self.sign_audit_head
            )(self),
            "audit-checkpoint",
        )
        if self.queue_spec.bindings:
            self.consumer = Consumer(
                service=self.settings.service,
                engine=self.engine,
                broker=self.broker,
                spec=self.queue_spec,
                handlers=self.handlers,
                prefetch=self.settings.prefetch,
                exchanges=self.exchange_names,
                workers=self.settings.consumer_workers,
                batch_size=self.settings.consumer_batch_size,
                accounts=self.accounts,
            )
            await self.consumer.start()
        self.watchdog = LinkWatchdog(
            self.broker,
            [self.consumer] if self.consumer is not None else [],
            service=self.settings.service,
            check_seconds=self.settings.broker_check_seconds,
            stuck_seconds=self.settings.broker_stuck_seconds,
            relay=self.relay,
        )
        self._spawn(self.watchdog.run(), "broker-watchdog")
        for job in self.definition.background:
            self._spawn(job(self), getattr(job, "__name__", "job"))

    async def _purge_expired(self, uow: UnitOfWork) -> None:
        await idempotency.purge_expired(
            uow.conn, timedelta(hours=self.settings.idempotency_ttl_hours)
        )
        await purge_retained(uow.conn, timedelta(days=self.settings.retention_days))

    async def sign_audit_head(self, uow: UnitOfWork) -> None:
        """Sign and publish the audit chain head (``shared.audit.checkpoint``)."""
        await sign_head(uow, self.settings.service, self.checkpoint_key)

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        task.add_done_callback(_report_crash)
        self._tasks.append(task)

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.broker.close()
        await self.engine.dispose()

    def broker_link_problem(self) -> str | None:
        """What the watchdog has seen wrong with the broker link for longer than
        ``broker_stuck_seconds`` (``/readyz`` says it in words), or None."""
        return self.watchdog.stuck_problem if self.watchdog is not None else None

    async def readiness(self) -> dict[str, bool]:
        checks = {"database": False, "broker": self.broker.is_connected, "consumers": True}
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            checks["database"] = True
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            log.warning("readiness_database_failed", error=str(exc)[:200])
        if self.settings.run_workers and self.queue_spec.bindings:
            checks["consumers"] = self.consumer is not None and self.consumer.attached
        if self.watchdog is not None:
            checks["broker_link"] = self.watchdog.stuck_problem is None
        for task in self._tasks:
            if task.done():
                checks[f"task:{task.get_name()}"] = False
        return checks


def _report_crash(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background_task_crashed", task=task.get_name(), error=str(task.exception()))
