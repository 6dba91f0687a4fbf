"""One robust broker connection per process, with separate publishing and consuming channels.

aio-pika's robust connection reconnects by itself and restores the channels, exchanges and
queues it still references; this class keeps those references for the life of the process.
"""

from __future__ import annotations

import aio_pika
import aiormq
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractRobustConnection,
)

from shared.amqp.topology import declare_exchanges

log = structlog.get_logger(__name__)


class Broker:
    def __init__(self, url: str, exchange_names: dict[str, str], *, name: str) -> None:
        self.url = url
        self.exchange_names = exchange_names
        self.name = name
        self.connection: AbstractRobustConnection | None = None
        self.publish_channel: AbstractChannel | None = None
        # Exchanges declared on the publishing channel, by broker name ("" is the default).
        self._exchanges: dict[str, AbstractExchange] = {}
        self.logical: dict[str, AbstractExchange] = {}

    async def connect(self) -> None:
        self.connection = await aio_pika.connect_robust(
            self.url, client_properties={"connection_name": self.name}
        )
        # Confirms make publish() wait for the broker's ack; returned (unroutable) messages
        # raise, so the relay keeps them in the outbox instead of losing them.
        self.publish_channel = await self.connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self.logical = await declare_exchanges(self.publish_channel, self.exchange_names)
        self._exchanges = {ex.name: ex for ex in self.logical.values()}
        self._exchanges[""] = self.publish_channel.default_exchange

    def exchange(self, name: str) -> AbstractExchange:
        try:
            return self._exchanges[name]
        except KeyError:
            raise LookupError(f"exchange {name!r} is not declared by this process") from None

    async def publish_channel_underlay(self) -> aiormq.abc.AbstractChannel:
        """The current low-level channel behind the robust publishing channel."""
        assert self.publish_channel is not None
        return await self.publish_channel.get_underlay_channel()

    @property
    def is_connected(self) -> bool:
        return (
            self.connection is not None
            and not self.connection.is_closed
            and self.connection.connected.is_set()
        )

    async def wait_connected(self) -> None:
        assert self.connection is not None
        await self.connection.connected.wait()

    async def consuming_channel(self, prefetch: int) -> AbstractChannel:
        assert self.connection is not None
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        return channel

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None
