"""Reliability of the event layer on the real broker and database (issue 2, item 6a-6e)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shared.amqp.consumer import Consumer
from shared.amqp.watchdog import REBUILDS, LinkWatchdog
from shared.db import UnitOfWork
from shared.events.envelope import Envelope
from shared.tables import inbox, outbox
from tests.conftest import Infra
from tests.integration.eventlayer import CRASH, EVENT, POISON, Layer, new_layer

pytestmark = pytest.mark.integration


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 30.0, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@pytest.fixture
async def layer(infra: Infra) -> AsyncIterator[Layer]:
    async with new_layer(infra, "layer") as layer:
        yield layer


async def emit(layer: Layer, count: int = 1, event_type: str = EVENT) -> list[uuid.UUID]:
    async with layer.uow() as uow:
        ids = [
            uow.emit_raw(event_type=event_type, data={"n": i}, subject=f"app-{i}").id
            for i in range(count)
        ]
        await uow.commit()
    return ids


def an_event(subject: str) -> Envelope:
    """An event as a producer would publish it, with a fresh id."""
    return Envelope(
        id=uuid.uuid4(),
        type=EVENT,
        version=1,
        occurred_at="2026-11-21T08:00:00Z",
        producer="test",
        correlation_id=f"c-{subject}",
        subject=subject,
        data={"n": 1},
    )


async def inbox_ids(layer: Layer) -> list[uuid.UUID]:
    assert layer.engine is not None
    async with layer.engine.connect() as conn:
        return list((await conn.scalars(sa.select(inbox.c.event_id))).all())


async def test_event_of_rolled_back_transaction_is_never_published(layer: Layer) -> None:
    consumer = layer.consumer()
    await consumer.start()
    relay = asyncio.create_task(layer.relay().run())
    try:
        async with layer.uow() as uow:
            rolled_back = uow.emit_raw(event_type=EVENT, data={"n": 0}, subject="a-1").id
            # leaving the block without commit rolls back
        committed = (await emit(layer))[0]

        async def committed_arrived() -> bool:
            return committed in await inbox_ids(layer)

        await eventually(committed_arrived)
        await asyncio.sleep(1.0)  # give a wrongly published event time to arrive too
        assert await inbox_ids(layer) == [committed]
        assert rolled_back != committed
        assert await layer.effect_counts() == (1, 1)
        assert layer.engine is not None
        async with layer.engine.connect() as conn:
            rows = (await conn.execute(sa.select(outbox.c.id, outbox.c.sent_at))).all()
        assert [r.id for r in rows] == [committed]
        assert rows[0].sent_at is not None
    finally:
        relay.cancel()
        await consumer.stop()


async def test_consumer_dying_before_commit_gets_the_event_again_and_applies_it_once(
    layer: Layer,
) -> None:
    consumer = layer.consumer()
    await consumer.start()  # declares the queue so the event is routed
    await consumer.stop()
    relay = asyncio.create_task(layer.relay().run())
    crash_id = (await emit(layer, event_type=CRASH))[0]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.crash_consumer",
            layer.database_url,
            layer.amqp_url,
            layer.prefix,
            layer.service,
        ],
        env=env,
    )
    try:
        assert await asyncio.to_thread(proc.wait, 60) == 17
        # The crashed transaction left nothing behind.
        assert await layer.effect_counts() == (0, 0)
        assert await inbox_ids(layer) == []
        # A healthy consumer gets the unacked message again; make the crash event harmless.
        layer_handle = layer.handle

        async def survive(uow, event):  # type: ignore[no-untyped-def]
            if event.type == CRASH:
                from tests.integration.eventlayer import effects

                await uow.conn.execute(
                    effects.insert().values(event_id=event.id, consumer_pid=os.getpid())
                )
                return
            await layer_handle(uow, event)

        consumer = layer.consumer()
        consumer.handlers[CRASH] = survive
        await consumer.start()

        async def handled() -> bool:
            return await inbox_ids(layer) == [crash_id]

        await eventually(handled)
        await asyncio.sleep(0.5)
        assert await layer.effect_counts() == (1, 1)
        await consumer.stop()
    finally:
        relay.cancel()
        if proc.poll() is None:
            proc.kill()


async def test_same_event_delivered_twice_changes_state_once(layer: Layer) -> None:
    consumer = layer.consumer()
    await consumer.start()
    try:
        assert layer.engine is not None and layer.broker is not None
        envelope = an_event("app-1")
        exchange = layer.broker.exchange(layer.exchanges["events"])
        for _ in range(2):
            await exchange.publish(
                aio_pika.Message(envelope.to_bytes(), message_id=str(envelope.id)),
                routing_key=EVENT,
                mandatory=True,
            )

        async def both_acked() -> bool:
            return await layer.queue_depth(layer.spec.name) == 0 and await inbox_ids(layer) == [
                envelope.id
            ]

        await eventually(both_acked)
        await asyncio.sleep(0.5)
        assert await layer.effect_counts() == (1, 1)
        assert await inbox_ids(layer) == [envelope.id]
    finally:
        await consumer.stop()


def deadletters_cli(layer: Layer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOUSING_QUEUE_PREFIX": layer.prefix,
        "HOUSING_AMQP_URL": layer.amqp_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "shared.amqp.deadletters", *args, "--service", layer.service],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_poison_message_is_dead_lettered_with_its_error_and_can_be_replayed(
    layer: Layer,
) -> None:
    consumer = layer.consumer()
    await consumer.start()
    relay = asyncio.create_task(layer.relay().run())
    try:
        poison_id = (await emit(layer, event_type=POISON))[0]
        good_ids = await emit(layer, count=20)

        async def good_ones_handled() -> bool:
            return set(good_ids) <= set(await inbox_ids(layer))

        # Other messages keep flowing while the poison one is being retried.
        await eventually(good_ones_handled)

        async def dead_lettered() -> bool:
            return await layer.queue_depth(layer.spec.dead_letter_queue) == 1

        await eventually(dead_lettered)
        listing = deadletters_cli(layer, "list")
        assert listing.returncode == 0
        assert listing.stdout.splitlines()[0].startswith("1 dead letter(s)")
        assert "retries_exhausted" in listing.stdout
        assert "ValueError: poison payload: amount must be positive" in listing.stdout

        shown = deadletters_cli(layer, "show", "--id", str(poison_id))
        assert shown.returncode == 0
        headers = json.loads(shown.stdout.split('\n{"id"')[0])
        assert headers["x-retry-count"] == "2"
        assert headers["x-dead-reason"] == "retries_exhausted"
        # Every attempt rolled back: no effect, no inbox row for the poison event.
        assert poison_id not in await inbox_ids(layer)
        assert await layer.effect_counts() == (20, 20)

        layer.poison_fixed = True
        replayed = deadletters_cli(layer, "replay", "--id", str(poison_id))
        assert replayed.returncode == 0, replayed.stderr
        assert replayed.stdout.strip() == f"replayed 1 message(s) to {layer.spec.name}"

        async def poison_handled() -> bool:
            return poison_id in await inbox_ids(layer)

        await eventually(poison_handled)
        assert await layer.effect_counts() == (21, 21)
        assert deadletters_cli(layer, "list").stdout.splitlines()[0].startswith("0 dead letter(s)")
    finally:
        relay.cancel()
        await consumer.stop()


async def test_broker_connections_closed_mid_flow_every_event_handled_exactly_once(
    layer: Layer, infra: Infra
) -> None:
    """Every connection force-closed by the broker while 1,000 events are in flight, with the
    watchdog running as in a service (limits shortened): all handled once, nothing unsent.

    Run 100 times outside CI against a RabbitMQ node of its own (BENCHMARKS.md, "Broker
    reconnect"): ``uv run python -m bench.reconnect_loop -n 100`` starts nothing itself; it
    runs this test with ``TEST_AMQP_URL`` / ``TEST_RABBITMQ_NODE`` pointing at that node. With
    ``RECONNECT_LOOP_REPORT`` set, each run appends what happened there (recovery time, the
    watchdog's rebuilds and why) as one JSON line.
    """
    consumer = layer.consumer()
    await consumer.start()
    relay_worker = layer.relay()
    relay = asyncio.create_task(relay_worker.run())
    assert layer.broker is not None
    watchdog = LinkWatchdog(
        layer.broker,
        [consumer],
        service=layer.service,
        check_seconds=0.5,
        stuck_seconds=15.0,
        relay=relay_worker,
    )
    watching = asyncio.create_task(watchdog.run())
    try:
        ids: list[uuid.UUID] = []
        for _ in range(10):
            ids += await emit(layer, count=100)

        async def some_handled() -> bool:
            return (await layer.effect_counts())[1] >= 100

        await eventually(some_handled)
        handled_before = (await layer.effect_counts())[1]
        await asyncio.to_thread(infra.close_broker_connections)
        closed_at = time.monotonic()

        async def all_handled() -> bool:
            return (await layer.effect_counts())[1] == 1000

        await eventually(all_handled, timeout=120, interval=0.5)
        recovered_after = time.monotonic() - closed_at
        await asyncio.sleep(1.0)
        report = os.environ.get("RECONNECT_LOOP_REPORT")
        if report:
            with open(report, "a", encoding="utf-8") as out:
                line = {
                    "recovered_seconds": round(recovered_after, 2),
                    "handled_before_close": handled_before,
                    "rebuilds": watchdog.rebuilt_for,
                }
                out.write(json.dumps(line) + "\n")
        assert handled_before < 1000, "the outage must hit while events are in flight"
        assert await layer.effect_counts() == (1000, 1000)
        assert sorted(await inbox_ids(layer)) == sorted(ids)
        assert layer.engine is not None
        async with layer.engine.connect() as conn:
            unsent = await conn.scalar(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            )
        assert unsent == 0
    finally:
        watching.cancel()
        relay.cancel()
        await consumer.stop()


async def test_message_that_keeps_killing_its_consumer_is_dead_lettered_by_the_broker(
    layer: Layer,
) -> None:
    """A crash loop (no ack, no nack: the process dies) ends at the delivery limit."""
    consumer = layer.consumer()
    await consumer.start()  # declare the queue family with its delivery limit
    await consumer.stop()
    crash_id = (await emit(layer, event_type=CRASH))[0]
    relay = asyncio.create_task(layer.relay().run())
    try:

        async def queued() -> bool:
            return await layer.queue_depth(layer.spec.name) == 1

        await eventually(queued)
        # Each round takes the message and loses its connection without acking, as a
        # process killed mid-handler does; the broker counts the redeliveries.
        for _ in range(layer.delivery_limit + 1):
            connection = await aio_pika.connect(layer.amqp_url)
            channel = await connection.channel()
            queue = await channel.declare_queue(layer.spec.name, passive=True)
            message = await queue.get(no_ack=False, fail=False)
            await connection.close()
            if message is None:
                break
            assert message.message_id == str(crash_id)

        async def parked() -> bool:
            return await layer.queue_depth(layer.spec.dead_letter_queue) == 1

        await eventually(parked)
        assert await layer.queue_depth(layer.spec.name) == 0
        listing = deadletters_cli(layer, "list")
        assert listing.stdout.splitlines()[0].startswith("1 dead letter(s)")
        assert f"{crash_id}  {CRASH}  delivery_limit" in listing.stdout
    finally:
        relay.cancel()


class DatabaseLink:
    """A TCP relay between the consumer and PostgreSQL that the test can cut: while cut, open
    connections are reset and new ones are closed at once, as a database restart looks from
    the client's side (without restarting the server other tests use)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.cut = False
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, RuntimeError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def sever(self) -> None:
        self.cut = True
        for w in self.writers:
            w.transport.abort()  # a reset, not a polite close
        self.writers.clear()

    async def close(self) -> None:
        self.sever()
        if self.server is not None:
            self.server.close()


async def test_database_outage_longer_than_all_retries_parks_nothing(infra: Infra) -> None:
    """While the consumer cannot reach its database, the message is held, not retried to death.

    The outage lasts three seconds: far longer than the retry delays (0.1 s and 0.3 s), so a
    consumer that counted the outage against the message would dead-letter it.
    """
    token = secrets.token_hex(3)
    direct = make_url(infra.app_database(f"layer{token}"))
    link = DatabaseLink(direct.host or "127.0.0.1", direct.port or 5432)
    relayed = direct.set(host="127.0.0.1", port=await link.start())
    layer = Layer(
        service=f"layer{token}",
        database_url=relayed.render_as_string(hide_password=False),
        schema_url=infra.owner_database(f"layer{token}"),
        amqp_url=infra.amqp_url,
        prefix=f"{infra.prefix}.{token}",
    )
    await layer.create_schema()
    await layer.connect()
    consumer = layer.consumer()
    await consumer.start()
    try:
        link.sever()
        envelope = an_event("app-outage")
        assert layer.broker is not None
        await layer.broker.exchange(layer.exchanges["events"]).publish(
            aio_pika.Message(envelope.to_bytes(), message_id=str(envelope.id)),
            routing_key=EVENT,
            mandatory=True,
        )
        await asyncio.sleep(3.0)
        assert await layer.queue_depth(f"{layer.spec.name}.dead") == 0
        link.cut = False

        async def applied() -> bool:
            return await layer.effect_counts() == (1, 1)

        await eventually(applied, timeout=30)
        assert await layer.queue_depth(f"{layer.spec.name}.dead") == 0
        assert await inbox_ids(layer) == [envelope.id]
    finally:
        await consumer.stop()
        await layer.close()
        await link.close()


async def test_a_consumer_stopped_mid_batch_hands_its_messages_back(layer: Layer) -> None:
    """Stopping a consumer while it holds unacked messages (one in its handler, the others
    buffered) returns them to the broker at once: a consumer started again on the same
    connection gets and applies every one, once."""
    inside = asyncio.Event()

    async def stuck(uow: UnitOfWork, envelope: Envelope) -> None:
        inside.set()
        await asyncio.Event().wait()  # never returns: the worker is cancelled by stop()

    assert layer.engine is not None and layer.broker is not None
    blocked = Consumer(
        service=layer.service,
        engine=layer.engine,
        broker=layer.broker,
        spec=layer.spec,
        handlers={EVENT: stuck},
        exchanges=layer.exchanges,
        workers=1,
    )
    await blocked.start()
    ids = await emit(layer, 3)
    relay = layer.relay()
    assert await relay.relay_once() == 3
    await asyncio.wait_for(inside.wait(), 20)
    await blocked.stop()

    consumer = layer.consumer()
    await consumer.start()
    try:

        async def all_applied() -> bool:
            return await layer.effect_counts() == (3, 3)

        await eventually(all_applied, timeout=30)
        assert sorted(await inbox_ids(layer)) == sorted(ids)
    finally:
        await consumer.stop()


async def test_a_consumer_the_broker_no_longer_delivers_to_is_rebuilt_by_the_watchdog(
    layer: Layer,
) -> None:
    """A consumer can go deaf with its connection open (a restore that never completed after
    a broker restart); the watchdog sees the broker's view, rebuilds the link, and every event
    is handled once, those published while it was deaf included."""
    consumer = layer.consumer()
    await consumer.start()
    relay = asyncio.create_task(layer.relay().run())
    watchdog = LinkWatchdog(
        layer.broker, [consumer], service=layer.service, check_seconds=0.2, stuck_seconds=1.5
    )
    try:
        assert await watchdog.problem() is None
        # Deafen it behind aio-pika's back: the broker forgets the consumer, the robust queue
        # still believes it consumes, nothing reconnects.
        assert consumer._channel is not None and consumer._consumer_tag is not None
        underlay = await consumer._channel.get_underlay_channel()
        await underlay.basic_cancel(consumer._consumer_tag)
        assert await watchdog.problem() == (
            f"{layer.spec.name}: consumer not registered on its channel"
        )
        deaf = await emit(layer, count=50)
        await asyncio.sleep(2.0)
        assert await layer.effect_counts() == (0, 0), "a deaf consumer handled something"

        watching = asyncio.create_task(watchdog.run())
        try:

            async def all_handled() -> bool:
                return (await layer.effect_counts())[1] == 50

            await eventually(all_handled, timeout=60, interval=0.2)
            later = await emit(layer, count=50)

            async def later_handled() -> bool:
                return (await layer.effect_counts())[1] == 100

            await eventually(later_handled, timeout=30, interval=0.2)
        finally:
            watching.cancel()
        assert await layer.effect_counts() == (100, 100)
        assert sorted(await inbox_ids(layer)) == sorted(deaf + later)
        assert await watchdog.problem() is None
        assert REBUILDS.labels(layer.service, "rebuilt")._value.get() == 1
    finally:
        relay.cancel()
        await consumer.stop()
