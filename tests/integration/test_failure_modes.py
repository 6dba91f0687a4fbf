"""Failure modes of the database side (issue 14, item 10), each on the real PostgreSQL and
RabbitMQ: time limits on every service connection, a relay that backs off from a database that
refuses and does not republish what it could not record, and an outbox row that keeps failing
parked after its last attempt, listed and released by the operator's command."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.engine import make_url

from shared.amqp.consumer import database_unavailable
from shared.clock import now
from shared.db import create_engine
from shared.events.envelope import Envelope
from shared.metrics import platform_database_gauges
from shared.tables import outbox
from tests.conftest import Infra
from tests.harness import wait_for
from tests.integration.eventlayer import EVENT, Layer, new_layer
from tests.services import RunningService, running_service

pytestmark = pytest.mark.integration


@pytest.fixture
async def layer(infra: Infra) -> AsyncIterator[Layer]:
    async with new_layer(infra, "fail") as layer:
        yield layer


async def _superuser(infra: Infra, layer: Layer | None, *statements: str) -> None:
    """Run ``statements`` as the superuser on the layer's database (None: the server's
    ``postgres`` database), one transaction each."""
    url = make_url(infra.database_url)
    if layer is not None:
        url = url.set(database=make_url(layer.database_url).database)
    engine = create_engine(url.render_as_string(hide_password=False), pool_size=1)
    try:
        for statement in statements:
            async with engine.begin() as conn:
                await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def _emit(layer: Layer, count: int, event_type: str = EVENT) -> None:
    async with layer.uow() as uow:
        for i in range(count):
            uow.emit_raw(event_type=event_type, data={"n": i}, subject=f"app-{i}")
        await uow.commit()


async def _unsent(layer: Layer) -> int:
    assert layer.engine is not None
    async with layer.engine.connect() as conn:
        return int(
            await conn.scalar(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            )
            or 0
        )


class Tap:
    """Every message the exchange routes under ``pattern``, counted (duplicates included)."""

    def __init__(self, layer: Layer, pattern: str) -> None:
        self.layer, self.pattern, self.ids = layer, pattern, []
        self._connection: aio_pika.abc.AbstractConnection | None = None

    async def __aenter__(self) -> Tap:
        self._connection = await aio_pika.connect(self.layer.amqp_url, timeout=30)
        channel = await self._connection.channel()
        # Passive: the layer declared it (with or without its alternate exchange).
        exchange = await channel.get_exchange(self.layer.exchanges["events"])
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, self.pattern)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                self.ids.append(message.message_id)

        await queue.consume(on_message)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._connection is not None
        await self._connection.close()


def _database_errors(layer: Layer) -> float:
    value = REGISTRY.get_sample_value(
        "outbox_relay_database_errors_total", {"service": layer.service}
    )
    return value or 0.0


@pytest.fixture(scope="module")
async def limited(infra: Infra) -> AsyncIterator[RunningService]:
    async with running_service(
        infra,
        "credit",
        system="limits",
        db_statement_timeout_ms=300,
        db_lock_timeout_ms=200,
        db_idle_in_transaction_timeout_ms=1000,
    ) as svc:
        yield svc


async def test_every_service_connection_has_its_time_limits(limited: RunningService) -> None:
    async with limited.runtime.engine.connect() as conn:
        shown = [
            await conn.scalar(sa.text(f"SHOW {name}"))
            for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
        ]
    assert shown == ["300ms", "200ms", "1s"]

    with pytest.raises(sa.exc.DBAPIError) as slow:
        async with limited.runtime.engine.connect() as conn:
            await conn.execute(sa.text("SELECT pg_sleep(5)"))
    assert slow.value.orig.sqlstate == "57014"  # query_canceled: the statement timeout

    # A lock someone else holds (a stuck transaction): the wait ends at the lock timeout.
    holder = create_engine(limited.runtime.settings.migration_database_url, pool_size=1)
    try:
        async with holder.connect() as held:
            await held.execute(sa.text("SELECT pg_advisory_lock(4242)"))
            with pytest.raises(sa.exc.DBAPIError) as waited:
                async with limited.runtime.engine.begin() as conn:
                    await conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242)"))
            assert waited.value.orig.sqlstate == "55P03"  # lock_not_available
            await held.execute(sa.text("SELECT pg_advisory_unlock(4242)"))
    finally:
        await holder.dispose()


async def test_the_relay_backs_off_from_a_read_only_database(infra: Infra, layer: Layer) -> None:
    await _emit(layer, 1)
    database = make_url(layer.database_url).database
    terminate = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    # Set from outside that database: inside it, the setting refuses its own undoing.
    read_only = f'ALTER DATABASE "{database}" SET default_transaction_read_only'
    await _superuser(infra, None, f"{read_only} = on", terminate)
    before = _database_errors(layer)
    async with Tap(layer, "test.#") as tap:
        relay = asyncio.create_task(layer.relay().run())
        try:
            await asyncio.sleep(6.0)
            refused = _database_errors(layer) - before
            # Polling every 0.2 s would have tried some 30 times; waiting 0.2, 0.4, 0.8, 1.6
            # and 3.2 s between tries makes at most six.
            assert 2 <= refused <= 6, refused
            assert tap.ids == []
            await _superuser(infra, None, f"{read_only} = off", terminate)

            async def relayed() -> bool:
                try:
                    return await _unsent(layer) == 0
                except sa.exc.DBAPIError as exc:
                    # The probe's pooled connection was one the terminate above cut
                    # (asyncpg: another operation is in progress); the pool drops it.
                    if not database_unavailable(exc):
                        raise
                    return False

            await wait_for(relayed, timeout=30, what="the event relayed after the outage")
            await asyncio.sleep(0.5)
            assert len(tap.ids) == 1
        finally:
            relay.cancel()


async def test_rows_published_but_not_recorded_are_not_published_again(
    infra: Infra, layer: Layer
) -> None:
    # The database accepts reads and the claim but refuses the write that records "sent", as a
    # full disk does (SQLSTATE 53100).
    await _superuser(
        infra,
        layer,
        "CREATE FUNCTION refuse_write() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100'; END$$",
        "CREATE TRIGGER disk_full BEFORE UPDATE ON outbox "
        "FOR EACH ROW EXECUTE FUNCTION refuse_write()",
    )
    await _emit(layer, 3)
    before = _database_errors(layer)
    async with Tap(layer, "test.#") as tap:
        relay = asyncio.create_task(layer.relay().run())
        try:

            async def refused_twice() -> bool:
                return _database_errors(layer) - before >= 3

            await wait_for(refused_twice, timeout=30, what="three refused rounds")
            assert await _unsent(layer) == 3
            await _superuser(infra, layer, "DROP TRIGGER disk_full ON outbox")

            async def recorded() -> bool:
                return await _unsent(layer) == 0

            await wait_for(recorded, timeout=30, what="the rows recorded as sent")
            await asyncio.sleep(0.5)
            # Published once each, although four rounds claimed them.
            assert len(tap.ids) == 3
            assert len(set(tap.ids)) == 3
        finally:
            relay.cancel()


async def test_an_outbox_row_that_keeps_failing_is_parked_listed_and_released(
    layer: Layer,
) -> None:
    await _emit(layer, 1, event_type="nobody.listens")  # no queue is bound: unroutable
    relay = asyncio.create_task(layer.relay(max_attempts=3).run())
    assert layer.engine is not None
    try:

        async def attempts() -> int:
            async with layer.engine.connect() as conn:
                return int(await conn.scalar(sa.select(outbox.c.attempts)) or 0)

        async def three() -> bool:
            return await attempts() == 3

        await wait_for(three, timeout=30, what="three failed attempts")
        # The next try would have come 2 s later; a parked row gets none.
        await asyncio.sleep(3.0)
        assert await attempts() == 3
        async with layer.engine.connect() as conn:
            gauges = {g.name: g.value for g in await platform_database_gauges(conn, 3)}
        assert (gauges["outbox_parked"], gauges["outbox_backlog"]) == (1, 1)

        env = {
            **os.environ,
            "HOUSING_CREDIT_DATABASE_URL": layer.database_url,
            "HOUSING_OUTBOX_MAX_ATTEMPTS": "3",
        }

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "shared.amqp.outbox", *args, "--service", "credit"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )

        listed = cli("list")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0] == "1 parked outbox row(s) in credit"
        assert "  nobody.listens  3 attempts  PublishError: " in lines[1]
        assert "NO_ROUTE" in lines[1]

        async with Tap(layer, "nobody.#") as tap:
            released = cli("release", "--all")
            assert (released.returncode, released.stdout.strip()) == (
                0,
                "released 1 outbox row(s) of credit",
            )

            async def relayed() -> bool:
                return await _unsent(layer) == 0

            await wait_for(relayed, timeout=30, what="the released row relayed")
            await asyncio.sleep(0.5)
            assert len(tap.ids) == 1
        assert cli("list").returncode == 1  # nothing parked any more
    finally:
        relay.cancel()


async def test_a_connection_that_died_in_the_pool_holds_the_message_and_applies_it_once(
    infra: Infra, layer: Layer
) -> None:
    """No pre-ping: the consumer's pooled connections are killed between two events. The pool
    drops a connection the server closed when it is checked out (no round trip), and one that
    still fails is "database unavailable": either way the second event is handled on a fresh
    connection, once, with no retry spent and nothing dead-lettered."""
    consumer = layer.consumer()
    await consumer.start()
    assert layer.broker is not None and layer.engine is not None
    exchange = layer.broker.exchange(layer.exchanges["events"])

    async def publish(subject: str) -> None:
        envelope = Envelope(
            id=uuid.uuid4(),
            type=EVENT,
            version=1,
            occurred_at=now(),
            producer="test",
            correlation_id=f"c-{subject}",
            subject=subject,
            data={"n": 1},
        )
        await exchange.publish(
            aio_pika.Message(envelope.to_bytes(), message_id=str(envelope.id)),
            routing_key=EVENT,
            mandatory=True,
        )

    try:
        await publish("app-before")

        async def first() -> bool:
            return await layer.effect_counts() == (1, 1)

        await wait_for(first, timeout=30, what="the first event applied")
        pooled = layer.engine.pool.checkedin()
        assert pooled >= 1  # the consumer's connection waits in the pool
        database = make_url(layer.database_url).database
        await _superuser(
            infra,
            None,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()",
        )
        # The test's own reads share the pool: let asyncpg see the ends of the connections
        # before effect_counts checks one out (the consumer needs no such pause).
        await asyncio.sleep(1.0)
        await publish("app-after")

        async def second() -> bool:
            return await layer.effect_counts() == (2, 2)

        await wait_for(second, timeout=30, what="the second event applied")
        await asyncio.sleep(0.5)
        assert await layer.effect_counts() == (2, 2)
        retried = [layer.spec.retry_queue(i) for i in range(len(layer.retry_delays_ms))]
        depths = [await layer.queue_depth(q) for q in (*retried, layer.spec.dead_letter_queue)]
        assert depths == [0] * (len(retried) + 1)
        failed = REGISTRY.get_sample_value(
            "events_handled_total", {"service": layer.service, "type": EVENT, "outcome": "failed"}
        )
        assert failed is None
    finally:
        await consumer.stop()


@pytest.fixture
async def unrouted_layer(infra: Infra) -> AsyncIterator[Layer]:
    async with new_layer(infra, "unrouted", unrouted=True) as layer:
        yield layer


async def test_an_event_no_queue_is_bound_for_is_kept_in_the_unrouted_queue(
    unrouted_layer: Layer,
) -> None:
    """With the platform's alternate exchange, an event nobody binds is routed (the mandatory
    publish is confirmed, not returned): the relay marks it sent at once and the broker keeps
    it in ``<events>.unrouted``; a bound event does not go there."""
    layer = unrouted_layer
    await _emit(layer, 1, event_type="nobody.listens")
    async with Tap(layer, "test.#") as tap:
        await _emit(layer, 1)
        relay = asyncio.create_task(layer.relay().run())
        try:

            async def relayed() -> bool:
                return await _unsent(layer) == 0

            await wait_for(relayed, timeout=30, what="both rows relayed")
            assert layer.engine is not None
            async with layer.engine.connect() as conn:
                attempts = (await conn.scalars(sa.select(outbox.c.attempts))).all()
            assert list(attempts) == [0, 0]  # neither was returned nor retried
            await asyncio.sleep(0.5)
            assert len(tap.ids) == 1
            assert await layer.queue_depth(f"{layer.exchanges['events']}.unrouted") == 1
        finally:
            relay.cancel()
