"""One robust broker connection per process, with separate publishing and consuming channels.

aio-pika's robust connection reconnects by itself and restores the channels, exchanges and
queues it still references; this class keeps those references for the life of the process.
"""

from __future__ import annotations

import asyncio
import contextlib

import aio_pika
import aiormq
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractRobustConnection,
)

from shared.amqp.producers import login_of
from shared.amqp.topology import declare_exchanges

log = structlog.get_logger(__name__)


class Broker:
    def __init__(self, url: str, exchange_names: dict[str, str], *, name: str) -> None:
        self.url = url
        # The ``user_id`` stamped on every message we publish: our login, the one value
        # RabbitMQ accepts there (shared.amqp.producers).
        self.user = login_of(url)
        self.exchange_names = exchange_names
        self.name = name
        self.connection: AbstractRobustConnection | None = None
        self.publish_channel: AbstractChannel | None = None
        # Exchanges declared on the publishing channel, by broker name ("" is the default).
        self._exchanges: dict[str, AbstractExchange] = {}
        self.logical: dict[str, AbstractExchange] = {}

    async def connect(self, connect_seconds: float | None = None) -> None:
        self.connection = await aio_pika.connect_robust(
            self.url, client_properties={"connection_name": self.name}, timeout=connect_seconds
        )
        # Confirms make publish() wait for the broker's ack; returned (unroutable) messages
        # raise, so the relay keeps them in the outbox instead of losing them.
        self.publish_channel = await self.connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self.logical = await declare_exchanges(self.publish_channel, self.exchange_names)
        self._exchanges = {ex.name: ex for ex in self.logical.values()}
        self._exchanges[""] = self.publish_channel.default_exchange

    def link_problem(self) -> str | None:
        """What is wrong with the connection or the publishing channel; None when sound."""
        if self.connection is None or self.connection.is_closed:
            return "connection closed"
        if not self.connection.connected.is_set():
            return "not connected"
        if self.publish_channel is None or self.publish_channel.is_closed:
            return "publishing channel closed"
        return None

    async def reopen(self, limit_seconds: float) -> None:
        """Drop the connection, whatever state it is in, and open a new one (the watchdog's
        last resort when aio-pika's own reconnect has stuck)."""
        old, self.connection, self.publish_channel = self.connection, None, None
        if old is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(limit_seconds):
                    await old.close()
        async with asyncio.timeout(limit_seconds):
            await self.connect(connect_seconds=limit_seconds)

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
        return (
            self.connection is not None
            and not self.connection.is_closed
            and self.connection.connected.is_set()
        )

    async def wait_connected(self) -> None:
        # Looks at ``self.connection`` afresh each second: the watchdog may replace it.
        while not self.is_connected:
            connection = self.connection
            if connection is None:
                await asyncio.sleep(0.5)
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await connection.connected.wait()

    async def consuming_channel(self, prefetch: int) -> AbstractChannel:
        assert self.connection is not None
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        return channel

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None
