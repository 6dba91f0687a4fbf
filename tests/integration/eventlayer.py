"""A small service built from the shared event layer, for the reliability tests.

Its handler writes one row per applied event into ``effects`` (no unique constraint, so an
event applied twice would show as two rows) and can be told to fail or to crash the process.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aio_pika
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.amqp.broker import Broker
from shared.amqp.consumer import Consumer
from shared.amqp.relay import OutboxRelay
from shared.amqp.topology import Binding, QueueSpec
from shared.db import UnitOfWork, create_engine
from shared.events.envelope import Envelope
from shared.tables import platform_metadata
from tests.conftest import Infra
from tests.services import create_tables

test_metadata = sa.MetaData()
effects = sa.Table(
    "effects",
    test_metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("consumer_pid", sa.Integer, nullable=False),
)

EVENT = "test.happened"
POISON = "test.poison"
CRASH = "test.crash"


@dataclass
class Layer:
    service: str
    database_url: str
    amqp_url: str
    prefix: str
    retry_delays_ms: tuple[int, ...] = (100, 300)
    delivery_limit: int = 3
    poison_fixed: bool = False
    # Creates the tables (the owner role's URL); None: database_url does.
    schema_url: str | None = None
    # The broker's restore limit (shared.amqp.broker); None: its default.
    broker_restore_seconds: float | None = None
    # The events exchange with the alternate exchange the platform's services declare.
    unrouted: bool = False
    engine: AsyncEngine | None = None
    broker: Broker | None = None
    started: list[object] = field(default_factory=list)

    @property
    def exchanges(self) -> dict[str, str]:
        return {"events": f"{self.prefix}.events", "verification": f"{self.prefix}.verification"}

    @property
    def spec(self) -> QueueSpec:
        return QueueSpec(
            name=f"{self.prefix}.{self.service}",
            bindings=(Binding("test.#"),),
            delivery_limit=self.delivery_limit,
            retry_delays_ms=self.retry_delays_ms,
        )

    async def queue_depth(self, name: str) -> int:
        """Messages ready in a queue, asked on a plain channel.

        Not through the robust broker channel: aio-pika's robust channel answers a passive
        declare from its cache, with the message count of the first declare.
        """
        connection = await aio_pika.connect(self.amqp_url)
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue(name, passive=True)
            return int(queue.declaration_result.message_count or 0)
        finally:
            await connection.close()

    async def create_schema(self) -> None:
        # As the owner role; the layer itself runs as the role of database_url.
        await create_tables(
            self.schema_url or self.database_url,
            make_url(self.database_url).username or "",
            [platform_metadata, test_metadata],
        )

    async def connect(self) -> None:
        self.engine = create_engine(self.database_url)
        limits: dict[str, float] = {}
        if self.broker_restore_seconds is not None:
            limits["restore_seconds"] = self.broker_restore_seconds
        self.broker = Broker(
            self.amqp_url,
            self.exchanges,
            name=f"test-{self.service}",
            unrouted=self.unrouted,
            **limits,
        )
        await self.broker.connect()

    def uow(self) -> UnitOfWork:
        assert self.engine is not None
        return UnitOfWork(self.engine, producer=self.service, exchanges=self.exchanges)

    async def handle(self, uow: UnitOfWork, event: Envelope) -> None:
        await uow.conn.execute(effects.insert().values(event_id=event.id, consumer_pid=os.getpid()))
        if event.type == POISON and not self.poison_fixed:
            raise ValueError("poison payload: amount must be positive")
        if event.type == CRASH:
            # Dies after its effect, before the commit: the transaction never commits.
            os._exit(17)

    def consumer(self, prefetch: int = 32) -> Consumer:
        assert self.engine is not None and self.broker is not None
        return Consumer(
            service=self.service,
            engine=self.engine,
            broker=self.broker,
            spec=self.spec,
            handlers={EVENT: self.handle, POISON: self.handle, CRASH: self.handle},
            prefetch=prefetch,
            exchanges=self.exchanges,
        )

    def relay(self, max_attempts: int = 50) -> OutboxRelay:
        assert self.engine is not None and self.broker is not None
        return OutboxRelay(
            self.engine,
            self.broker,
            service=self.service,
            database_url=self.database_url,
            batch_size=200,
            poll_seconds=0.2,
            max_attempts=max_attempts,
        )

    async def effect_counts(self) -> tuple[int, int]:
        """(rows in effects, distinct events in effects)."""
        assert self.engine is not None
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(sa.func.count(), sa.func.count(sa.distinct(effects.c.event_id)))
                )
            ).one()
        return int(row[0]), int(row[1])

    async def close(self) -> None:
        if self.broker is not None:
            await self.broker.close()
        if self.engine is not None:
            await self.engine.dispose()


def new_event(event_type: str = EVENT, subject: str | None = None) -> dict[str, object]:
    return {"event_type": event_type, "data": {"n": 1}, "subject": subject or str(uuid.uuid4())}


@asynccontextmanager
async def new_layer(
    infra: Infra, name: str = "layer", *, unrouted: bool = False
) -> AsyncIterator[Layer]:
    """A layer on a database of its own (tables made by the owner role, used as the
    application role) and exchanges and queues of its own, connected; closed afterwards."""
    token = f"{name}{secrets.token_hex(3)}"
    layer = Layer(
        service=token,
        database_url=infra.app_database(token),
        schema_url=infra.owner_database(token),
        amqp_url=infra.amqp_url,
        prefix=f"{infra.prefix}.{token}",
        unrouted=unrouted,
    )
    await layer.create_schema()
    await layer.connect()
    try:
        yield layer
    finally:
        await layer.close()
