"""Two robust broker connections per process: one to publish on, one to consume from.

aio-pika's robust connection reconnects by itself and restores the channels, exchanges and
queues it still references; this class keeps those references for the life of the process.

Publishing and consuming have connections of their own (``<name>:publish``, ``<name>:consume``):
the broker blocks a publishing connection under memory or disk pressure (flow control), and a
consumer sharing it would stop acking and receiving too; and a restore stuck on one of them
(its consumers, its queue declarations) leaves the other working and the watchdog able to ask
the broker what it sees.

Every step that waits for the broker is bounded. The first connect by ``connect_seconds``;
every reconnect by the same for the TCP and AMQP handshake, and by ``restore_seconds`` for the
restore of its channels, queues and consumers that follows: aio-pika sets the connection
``connected`` before that restore and waits for it without a limit, so a restore the broker
never answers would leave a process connected in name and deaf in fact. A restore that runs
out of time drops the transport; aio-pika then tries again from a fresh connection, and the
watchdog sees the link broken for as long as that lasts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractChannel, AbstractExchange

from shared.amqp.producers import login_of
from shared.amqp.topology import declare_exchanges

log = structlog.get_logger(__name__)

DEFAULT_CONNECT_SECONDS = 10.0
DEFAULT_RESTORE_SECONDS = 30.0
DROP_SECONDS = 5.0


class BoundedRobustConnection(aio_pika.RobustConnection):
    """A robust connection whose restore after a reconnect has a time limit, and which says
    when a restore is under way (``restoring_since``) for the watchdog and ``/readyz``."""

    restore_seconds: float = DEFAULT_RESTORE_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label = ""  # its connection name, for the log
        self.restoring_since: float | None = None
        self.restore_timeouts = 0

    async def _on_connected(self) -> None:
        self.restoring_since = time.monotonic()
        try:
            async with asyncio.timeout(self.restore_seconds):
                await super()._on_connected()
        except TimeoutError:
            self.restore_timeouts += 1
            log.warning(
                "broker_restore_timeout", connection=self.label, seconds=self.restore_seconds
            )
            # aio-pika closes the transport only for a restore that raised, not for one that
            # was cancelled: close it here, or the half-restored connection would stay in use.
            self.connected.clear()
            transport = self.transport
            if transport is not None:
                await asyncio.gather(
                    transport.connection.close(TimeoutError("restore timed out")),
                    return_exceptions=True,
                )
            raise
        finally:
            self.restoring_since = None


async def _connect(
    url: str, name: str, connect_seconds: float, restore_seconds: float
) -> BoundedRobustConnection:
    connection = await aio_pika.connect_robust(
        url,
        client_properties={"connection_name": name},
        timeout=connect_seconds,
        connection_class=BoundedRobustConnection,
    )
    assert isinstance(connection, BoundedRobustConnection)
    connection.restore_seconds = restore_seconds
    connection.label = name
    return connection


async def _drop(connection: BoundedRobustConnection) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(DROP_SECONDS):
            await connection.close()


def _connection_problem(connection: BoundedRobustConnection | None, role: str) -> str | None:
    if connection is None or connection.is_closed:
        return f"{role} connection closed"
    if not connection.connected.is_set():
        return f"{role} connection not connected"
    if connection.restoring_since is not None:
        took = time.monotonic() - connection.restoring_since
        return f"{role} connection restoring for {took:.0f} s"
    return None


class Broker:
    def __init__(
        self,
        url: str,
        exchange_names: dict[str, str],
        *,
        name: str,
        connect_seconds: float = DEFAULT_CONNECT_SECONDS,
        restore_seconds: float = DEFAULT_RESTORE_SECONDS,
        unrouted: bool = False,
    ) -> None:
        self.url = url
        # Whether the events exchange has the alternate exchange that keeps unrouted events
        # (shared.amqp.topology.declare_exchanges); every declaration of it must agree.
        self.unrouted = unrouted
        # The ``user_id`` stamped on every message we publish: our login, the one value
        # RabbitMQ accepts there (shared.amqp.producers).
        self.user = login_of(url)
        self.exchange_names = exchange_names
        self.name = name
        self.connect_seconds = connect_seconds
        self.restore_seconds = restore_seconds
        self.publish_connection: BoundedRobustConnection | None = None
        self.consume_connection: BoundedRobustConnection | None = None
        self.publish_channel: AbstractChannel | None = None
        # Exchanges declared on the publishing channel, by broker name ("" is the default).
        self._exchanges: dict[str, AbstractExchange] = {}
        self.logical: dict[str, AbstractExchange] = {}

    @property
    def connection(self) -> BoundedRobustConnection | None:
        """The publishing connection: for short-lived channels (declarations, passive queue
        declarations of /metrics), which must not wait behind a consumer's restore."""
        return self.publish_connection

    async def connect(self, connect_seconds: float | None = None) -> None:
        limit = connect_seconds if connect_seconds is not None else self.connect_seconds
        async with asyncio.timeout(limit * 2 + 5):
            self.publish_connection = await _connect(
                self.url, f"{self.name}:publish", limit, self.restore_seconds
            )
            # Confirms make publish() wait for the broker's ack; returned (unroutable) messages
            # raise, so the relay keeps them in the outbox instead of losing them.
            self.publish_channel = await self.publish_connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            self.logical = await declare_exchanges(
                self.publish_channel, self.exchange_names, unrouted=self.unrouted
            )
            self._exchanges = {ex.name: ex for ex in self.logical.values()}
            self._exchanges[""] = self.publish_channel.default_exchange
            self.consume_connection = await _connect(
                self.url, f"{self.name}:consume", limit, self.restore_seconds
            )

    def link_problem(self) -> str | None:
        """What is wrong with either connection or the publishing channel; None when sound."""
        found = _connection_problem(self.publish_connection, "publishing")
        if found is not None:
            return found
        if self.publish_channel is None or self.publish_channel.is_closed:
            return "publishing channel closed"
        return _connection_problem(self.consume_connection, "consuming")

    async def consumer_count(self, queue: str, limit_seconds: float) -> int:
        """How many consumers the broker has on ``queue`` (every process's), asked with a
        passive declaration on a channel of its own on the publishing connection.

        A plain aiormq channel, opened and closed here: a robust channel would be restored by
        aio-pika after the broker closes it (a missing queue closes it), and a robust channel
        answers a repeated passive declaration from its cache."""
        connection = self.publish_connection
        if connection is None or connection.transport is None:
            raise aiormq.exceptions.ChannelInvalidStateError("no publishing connection")
        async with asyncio.timeout(limit_seconds):
            channel = await connection.transport.connection.channel(publisher_confirms=False)
            try:
                declared = await channel.queue_declare(queue, passive=True)
            finally:
                if not channel.is_closed:
                    with contextlib.suppress(aiormq.exceptions.AMQPError, RuntimeError, OSError):
                        await channel.close()
        return int(declared.consumer_count or 0)

    async def reopen(self, limit_seconds: float) -> None:
        """Drop both connections, whatever state they are in, and open new ones (the watchdog's
        last resort when aio-pika's own reconnect has stuck)."""
        old = [c for c in (self.publish_connection, self.consume_connection) if c is not None]
        self.publish_connection = self.consume_connection = None
        self.publish_channel = None
        # Briefly: a connection the broker no longer answers never confirms its close.
        await asyncio.gather(*(_drop(c) for c in old))
        await self.connect(connect_seconds=min(limit_seconds, self.connect_seconds))

    def exchange(self, name: str) -> AbstractExchange:
        try:
            return self._exchanges[name]
        except KeyError:
            raise LookupError(f"exchange {name!r} is not declared by this process") from None

    async def publish_channel_underlay(self, wait_seconds: float) -> aiormq.abc.AbstractChannel:
        """The current low-level channel behind the robust publishing channel. It waits for a
        reconnect, but not for ever: a relay must not hold its claimed outbox rows through an
        outage, nor wait on a connection the watchdog has replaced."""
        channel = self.publish_channel
        if channel is None:
            raise aiormq.exceptions.ChannelInvalidStateError("the broker link is being rebuilt")
        async with asyncio.timeout(wait_seconds):
            return await channel.get_underlay_channel()

    @property
    def is_connected(self) -> bool:
        """Both connections up and neither restoring."""
        return all(
            _connection_problem(connection, "") is None
            for connection in (self.publish_connection, self.consume_connection)
        )

    @property
    def can_publish(self) -> bool:
        return _connection_problem(self.publish_connection, "") is None

    async def wait_connected(self) -> None:
        await self._wait_sound("publish_connection", "consume_connection")

    async def wait_publishing(self) -> None:
        """Until the publishing connection is up (the relay needs no consumer)."""
        await self._wait_sound("publish_connection")

    async def _wait_sound(self, *attributes: str) -> None:
        # Looks at the connections afresh each second: the watchdog may replace them, and a
        # connected one may still be restoring.
        while True:
            waiting = [
                getattr(self, a)
                for a in attributes
                if _connection_problem(getattr(self, a), "") is not None
            ]
            if not waiting:
                return
            connection = waiting[0]
            if connection is None or connection.connected.is_set():
                await asyncio.sleep(0.2)
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await connection.connected.wait()

    async def consuming_channel(self, prefetch: int) -> AbstractChannel:
        connection = self.consume_connection
        if connection is None:
            raise aiormq.exceptions.ChannelInvalidStateError("the broker link is being rebuilt")
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        return channel

    async def close(self) -> None:
        for attribute in ("consume_connection", "publish_connection"):
            connection = getattr(self, attribute)
            if connection is not None:
                setattr(self, attribute, None)
                await connection.close()
        self.publish_channel = None
