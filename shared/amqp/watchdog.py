"""The broker link watchdog: no process may stay connected in name and deaf in fact.

aio-pika's robust connection reconnects and restores channels and consumers by itself, and the
broker's restore is bounded (``shared.amqp.broker``), but a link can still die without any
exception: a consumer the broker no longer has (a half-open TCP connection: the broker closed
it, the client never heard), a publishing channel whose confirms never come. Nothing fails, so
nothing logs, and the platform stops.

The watchdog looks every ``check_seconds`` at what the process depends on:

* both connections are up and not restoring, and the publishing channel is open;
* each consumer's tag is registered on the channel the broker delivers to (our view);
* the broker has at least one consumer on each queue we consume (its view, asked with a passive
  declaration on a short-lived channel of the publishing connection). Other replicas may
  consume the same queue, so only zero is a problem: it cannot be zero while we consume;
* the outbox relay made progress: rows due and nothing published (or refused) by the broker
  for ``stuck_seconds`` means its link is dead however healthy it looks.

A problem that lasts ``stuck_seconds`` (longer than a normal reconnect) makes it log
``broker_link_stuck`` with what it saw, report it (``stuck_problem``: ``/readyz`` check
``broker_link``, gauge ``broker_link_ok``), and rebuild the link from nothing: the consumers are
stopped (their unacked messages go back to the queue; the inbox absorbs what was already
applied), both connections are dropped, new ones are opened and the consumers are started
again. A rebuild that fails (the broker is really down) is tried again at the next check, and
the report stays until a rebuild succeeds or a check finds the link sound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import aiormq
import structlog
from prometheus_client import Counter

from shared.amqp.broker import Broker
from shared.amqp.consumer import Consumer
from shared.amqp.relay import OutboxRelay

log = structlog.get_logger(__name__)

REBUILDS = Counter(
    "broker_link_rebuilds_total",
    "Broker connections rebuilt by the watchdog after a link stayed broken",
    ["service", "outcome"],
)

STEP_TIMEOUT_SECONDS = 30.0
# One look at the link, broker and database questions included; a look that takes longer is
# itself a sign of a dead link.
CHECK_TIMEOUT_SECONDS = 10.0
ASK_BROKER_SECONDS = 5.0


class LinkWatchdog:
    def __init__(
        self,
        broker: Broker,
        consumers: Sequence[Consumer],
        *,
        service: str,
        check_seconds: float,
        stuck_seconds: float,
        relay: OutboxRelay | None = None,
    ) -> None:
        self.broker = broker
        self.consumers = list(consumers)
        self.relay = relay
        self.service = service
        self.check_seconds = check_seconds
        self.stuck_seconds = stuck_seconds
        self._broken_since: float | None = None
        self._last_problem: str | None = None
        # What each rebuild was for, oldest first (the fault tests report it).
        self.rebuilt_for: list[str] = []

    async def problem(self) -> str | None:
        """What is wrong with the link right now, in words for the log; None when sound."""
        found, _ = await self._look()
        return found

    async def _look(self) -> tuple[str | None, float | None]:
        """The problem and, when known, since when it has lasted (the relay's last progress);
        None: since this look."""
        found = self.broker.link_problem()
        if found is not None:
            return found, None
        for consumer in self.consumers:
            found = await consumer.link_problem()
            if found is not None:
                return f"{consumer.spec.name}: {found}", None
        for consumer in self.consumers:
            found = await self._broker_sees_no_consumer(consumer)
            if found is not None:
                return f"{consumer.spec.name}: {found}", None
        relay = self.relay
        if relay is not None:
            idle = time.monotonic() - relay.last_progress
            # A pass takes a poll interval, a slow batch up to its confirm timeout: only a relay
            # quiet for longer than a check is worth a question to the database.
            if idle > self.check_seconds and await relay.rows_due():
                return f"outbox relay: nothing published for {idle:.0f} s with rows due", (
                    relay.last_progress
                )
        return None, None

    async def _broker_sees_no_consumer(self, consumer: Consumer) -> str | None:
        if not consumer.consuming:
            return None  # "not consuming" is our own view, reported above
        try:
            count = await self.broker.consumer_count(consumer.spec.name, ASK_BROKER_SECONDS)
        except TimeoutError:
            return "the broker did not answer a passive queue declaration"
        except aiormq.exceptions.ChannelNotFoundEntity:
            return "the broker has no such queue"
        except (aiormq.exceptions.AMQPError, RuntimeError, OSError) as exc:
            return f"could not ask the broker: {type(exc).__name__}"
        if count == 0:
            return "the broker has no consumer on the queue"
        return None

    @property
    def stuck_problem(self) -> str | None:
        """The problem seen at the last check if it has lasted ``stuck_seconds``; None when the
        link is sound or broken for less (a reconnect in progress)."""
        if self._broken_since is None or self._last_problem is None:
            return None
        if time.monotonic() - self._broken_since < self.stuck_seconds:
            return None
        return self._last_problem

    @property
    def broken_seconds(self) -> float:
        return 0.0 if self._broken_since is None else time.monotonic() - self._broken_since

    async def check(self) -> bool:
        """One look; rebuilds when a problem has lasted ``stuck_seconds``. True if rebuilt."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                found, since = await self._look()
        except TimeoutError:
            found, since = f"the link check did not finish in {CHECK_TIMEOUT_SECONDS:.0f} s", None
        except Exception as exc:  # e.g. the database is away for the relay question
            log.warning("broker_link_check_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return False
        if found is None:
            self._broken_since = None
            self._last_problem = None
            return False
        started = time.monotonic()
        if self._broken_since is None:
            self._broken_since = since if since is not None else started
        self._last_problem = found
        broken_for = started - self._broken_since
        if broken_for < self.stuck_seconds:
            return False
        log.error("broker_link_stuck", problem=found, broken_seconds=round(broken_for, 1))
        try:
            await self.rebuild()
        except Exception as exc:  # the broker is really down: try again at the next check
            REBUILDS.labels(self.service, "failed").inc()
            log.warning("broker_link_rebuild_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return False
        REBUILDS.labels(self.service, "rebuilt").inc()
        self.rebuilt_for.append(found)
        log.info("broker_link_rebuilt", took_seconds=round(time.monotonic() - started, 1))
        # The relay's clock starts again with the new link.
        if self.relay is not None:
            self.relay.last_progress = time.monotonic()
        self._broken_since = None
        return True

    async def rebuild(self) -> None:
        for consumer in self.consumers:
            await consumer.stop()  # each of its steps is time-limited
        await self.broker.reopen(STEP_TIMEOUT_SECONDS)
        for consumer in self.consumers:
            async with asyncio.timeout(STEP_TIMEOUT_SECONDS):
                await consumer.start()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.check_seconds)
            await self.check()
