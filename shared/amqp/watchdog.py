"""The broker link watchdog: no process may stay connected in name and deaf in fact.

aio-pika's robust connection reconnects and restores channels and consumers by itself, but its
restore runs without a time limit: a channel whose restore never gets an answer (a broker that
accepts the TCP connection while its quorum queues are still electing leaders after a restart)
leaves the process with a connection that looks open, a consumer that receives nothing and an
outbox relay waiting for a channel. Nothing fails, so nothing logs, and the platform stops.

The watchdog looks every ``check_seconds`` at what the process depends on: the connection is
up, the publishing channel is open, and each consumer's tag is registered on the channel the
broker delivers to. A problem that lasts ``stuck_seconds`` (longer than a normal reconnect)
makes it log ``broker_link_stuck`` with what it saw and rebuild the link from nothing: the
consumers are stopped (their unacked messages go back to the queue; the inbox absorbs what was
already applied), the old connection is dropped, a new one is opened and the consumers are
started again. A rebuild that fails (the broker is really down) is tried again at the next
check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import structlog
from prometheus_client import Counter

from shared.amqp.broker import Broker
from shared.amqp.consumer import Consumer

log = structlog.get_logger(__name__)

REBUILDS = Counter(
    "broker_link_rebuilds_total",
    "Broker connections rebuilt by the watchdog after a link stayed broken",
    ["service", "outcome"],
)

STEP_TIMEOUT_SECONDS = 30.0


class LinkWatchdog:
    def __init__(
        self,
        broker: Broker,
        consumers: Sequence[Consumer],
        *,
        service: str,
        check_seconds: float,
        stuck_seconds: float,
    ) -> None:
        self.broker = broker
        self.consumers = list(consumers)
        self.service = service
        self.check_seconds = check_seconds
        self.stuck_seconds = stuck_seconds
        self._broken_since: float | None = None

    async def problem(self) -> str | None:
        """What is wrong with the link right now, in words for the log; None when sound."""
        found = self.broker.link_problem()
        if found is not None:
            return found
        for consumer in self.consumers:
            found = await consumer.link_problem()
            if found is not None:
                return f"{consumer.spec.name}: {found}"
        return None

    async def check(self) -> bool:
        """One look; rebuilds when a problem has lasted ``stuck_seconds``. True if rebuilt."""
        found = await self.problem()
        if found is None:
            self._broken_since = None
            return False
        started = time.monotonic()
        if self._broken_since is None:
            self._broken_since = started
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
        log.info("broker_link_rebuilt", took_seconds=round(time.monotonic() - started, 1))
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
