"""The broker link watchdog against links that die silently (issue 14, item 9).

The process talks to the real broker through ``BrokerLink``, a TCP relay that can cut a
connection the way a network does: without telling the client. aio-pika sees nothing wrong in
either case below, so only the watchdog's questions (the broker's consumer count, the relay's
progress) find them.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shared.amqp.broker import Broker
from shared.amqp.consumer import Consumer
from shared.amqp.watchdog import REBUILDS, LinkWatchdog
from shared.tables import outbox
from tests.conftest import Infra
from tests.integration.brokerlink import BrokerLink
from tests.integration.eventlayer import EVENT, Layer
from tests.integration.test_event_layer import emit, eventually, inbox_ids
from tests.integration.test_service_app import PROBE
from tests.services import running_service

pytestmark = pytest.mark.integration


@pytest.fixture
async def link(infra: Infra) -> AsyncIterator[BrokerLink]:
    broker = make_url(infra.amqp_url.replace("amqp://", "postgresql://", 1))
    relay = BrokerLink(broker.host or "127.0.0.1", broker.port or 5672)
    yield relay
    await relay.close()


@pytest.fixture
async def linked_layer(infra: Infra, link: BrokerLink) -> AsyncIterator[Layer]:
    """An event layer whose broker connections go through ``link``."""
    token = secrets.token_hex(3)
    layer = Layer(
        service=f"link{token}",
        database_url=infra.app_database(f"link{token}"),
        schema_url=infra.owner_database(f"link{token}"),
        amqp_url=link.url(await link.start()),
        prefix=f"{infra.prefix}.{token}",
    )
    await layer.create_schema()
    await layer.connect()
    yield layer
    await layer.close()


def rebuilt(service: str) -> float:
    return REBUILDS.labels(service, "rebuilt")._value.get()


async def test_a_consumer_the_broker_dropped_behind_a_half_open_connection_is_rebuilt(
    linked_layer: Layer, link: BrokerLink
) -> None:
    """The broker closed the consuming connection, the client never heard: aio-pika's view
    (connection open, tag on its channel) is sound, the broker has no consumer on the queue.
    The watchdog asks the broker, rebuilds, and every event is handled exactly once."""
    layer = linked_layer
    assert layer.broker is not None
    consumer = layer.consumer()
    await consumer.start()
    relay = asyncio.create_task(layer.relay().run())
    watchdog = LinkWatchdog(
        layer.broker, [consumer], service=layer.service, check_seconds=0.2, stuck_seconds=1.5
    )
    try:
        assert await watchdog.problem() is None
        link.sever_broker_side(":consume")

        async def broker_forgot() -> bool:
            assert layer.broker is not None
            return await layer.broker.consumer_count(layer.spec.name, 5.0) == 0

        await eventually(broker_forgot, timeout=10)
        # What aio-pika and the consumer see: nothing wrong.
        assert layer.broker.link_problem() is None
        assert await consumer.link_problem() is None
        assert await watchdog.problem() == (
            f"{layer.spec.name}: the broker has no consumer on the queue"
        )
        deaf = await emit(layer, count=50)
        await asyncio.sleep(2.0)
        assert await layer.effect_counts() == (0, 0), "a dropped consumer handled something"

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
        await asyncio.sleep(0.5)
        assert await layer.effect_counts() == (100, 100)
        assert sorted(await inbox_ids(layer)) == sorted(deaf + later)
        no_consumer = f"{layer.spec.name}: the broker has no consumer on the queue"
        assert watchdog.rebuilt_for == [no_consumer]
        assert rebuilt(layer.service) == 1
        assert await watchdog.problem() is None
        assert await layer.broker.consumer_count(layer.spec.name, 5.0) == 1
    finally:
        relay.cancel()
        await consumer.stop()


async def test_a_relay_with_rows_due_on_a_publishing_link_that_never_answers_is_rebuilt(
    linked_layer: Layer, link: BrokerLink, infra: Infra
) -> None:
    """The publishing connection stops answering (no confirm ever comes) while it looks open;
    rows wait in the outbox. The watchdog sees rows due and a relay that published nothing,
    rebuilds, and every event reaches the consumer exactly once."""
    layer = linked_layer
    assert layer.broker is not None and layer.engine is not None
    # The consumer on a direct link of its own: only the relay's link is broken here.
    direct = Broker(infra.amqp_url, layer.exchanges, name=f"test-{layer.service}-direct")
    await direct.connect()
    consumer = Consumer(
        service=layer.service,
        engine=layer.engine,
        broker=direct,
        spec=layer.spec,
        handlers={EVENT: layer.handle},
        exchanges=layer.exchanges,
    )
    await consumer.start()
    relay_worker = layer.relay()
    relay = asyncio.create_task(relay_worker.run())
    watchdog = LinkWatchdog(
        layer.broker,
        [],
        service=layer.service,
        check_seconds=0.2,
        # Long enough that the rebuilt link's first batch (a new channel, 50 confirms) counts
        # as progress before the next look even on a loaded machine: with 2 s, a CI node under
        # load saw a second, legitimate, rebuild.
        stuck_seconds=5.0,
        relay=relay_worker,
    )
    try:
        before = await emit(layer, count=20)

        async def first_handled() -> bool:
            return (await layer.effect_counts())[1] == 20

        await eventually(first_handled, timeout=30)
        assert await watchdog.problem() is None

        link.freeze(":publish")
        stuck = await emit(layer, count=50)

        async def relay_reported() -> bool:
            found = await watchdog.problem()
            return found is not None and found.startswith("outbox relay:")

        await eventually(relay_reported, timeout=20, interval=0.2)
        found = await watchdog.problem()
        assert found is not None and found.endswith("s with rows due"), found
        # aio-pika sees an open connection and an open channel.
        assert layer.broker.link_problem() is None
        assert await layer.effect_counts() == (20, 20)

        watching = asyncio.create_task(watchdog.run())
        try:

            async def all_handled() -> bool:
                return (await layer.effect_counts())[1] == 70

            await eventually(all_handled, timeout=60, interval=0.2)
            later = await emit(layer, count=30)

            async def later_handled() -> bool:
                return (await layer.effect_counts())[1] == 100

            await eventually(later_handled, timeout=30, interval=0.2)
        finally:
            watching.cancel()
        await asyncio.sleep(0.5)
        assert await layer.effect_counts() == (100, 100)
        assert sorted(await inbox_ids(layer)) == sorted(before + stuck + later)
        async with layer.engine.connect() as conn:
            unsent = await conn.scalar(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            )
        assert unsent == 0
        assert len(watchdog.rebuilt_for) == 1
        assert watchdog.rebuilt_for[0].startswith("outbox relay: nothing published for")
        assert rebuilt(layer.service) == 1
    finally:
        relay.cancel()
        await consumer.stop()
        await direct.close()


async def test_a_restore_the_broker_never_answers_is_cut_off_and_tried_again(
    infra: Infra, link: BrokerLink
) -> None:
    """After a reconnect the broker lets the consuming connection in and never answers its
    restore (channel, queue, consumer). aio-pika would wait for that for ever with the
    connection marked connected; the restore limit cuts it off, the link says so, and the next
    attempt, once the broker answers again, restores the consumer: every event handled once."""
    token = secrets.token_hex(3)
    layer = Layer(
        service=f"link{token}",
        database_url=infra.app_database(f"link{token}"),
        schema_url=infra.owner_database(f"link{token}"),
        amqp_url=link.url(await link.start()),
        prefix=f"{infra.prefix}.{token}",
        broker_restore_seconds=2.0,
    )
    await layer.create_schema()
    await layer.connect()
    assert layer.broker is not None
    consumer = layer.consumer()
    await consumer.start()
    relay = asyncio.create_task(layer.relay().run())
    try:
        before = await emit(layer, count=20)

        async def first_handled() -> bool:
            return (await layer.effect_counts())[1] == 20

        await eventually(first_handled, timeout=30)
        link.stall_new_after = 3  # the AMQP handshake passes, nothing after it
        link.drop(":consume")

        async def restore_cut_off() -> bool:
            assert layer.broker is not None and layer.broker.consume_connection is not None
            return layer.broker.consume_connection.restore_timeouts >= 1

        await eventually(restore_cut_off, timeout=30, interval=0.1)
        found = layer.broker.link_problem()
        assert found is not None and found.startswith("consuming connection"), found
        assert not layer.broker.is_connected
        during = await emit(layer, count=30)  # the publishing connection is unaffected
        await asyncio.sleep(1.0)
        assert (await layer.effect_counts())[1] == 20

        link.stall_new_after = None

        async def all_handled() -> bool:
            return (await layer.effect_counts())[1] == 50

        await eventually(all_handled, timeout=60, interval=0.2)
        await asyncio.sleep(0.5)
        assert await layer.effect_counts() == (50, 50)
        assert sorted(await inbox_ids(layer)) == sorted(before + during)
        assert layer.broker.link_problem() is None
        assert await consumer.link_problem() is None
        assert await layer.broker.consumer_count(layer.spec.name, 5.0) == 1
    finally:
        relay.cancel()
        await consumer.stop()
        await layer.close()


async def test_readyz_and_metrics_report_a_link_the_watchdog_cannot_rebuild(
    infra: Infra, link: BrokerLink
) -> None:
    """While the broker has dropped the consumer and no new connection gets through, /readyz
    says so in words and ``broker_link_ok`` is 0; once the broker is reachable again the
    watchdog rebuilds and both turn green."""
    port = await link.start()
    async with running_service(
        infra,
        "probe",
        system=f"lk{secrets.token_hex(2)}",
        definition=PROBE,
        amqp_url=link.url(port),
        broker_check_seconds=0.2,
        broker_stuck_seconds=1.5,
        broker_connect_seconds=2.0,
    ) as svc:
        ready = await svc.client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["broker_link"] is True
        assert 'broker_link_ok{service="probe"} 1.0' in (await svc.client.get("/metrics")).text

        link.refuse = True
        link.sever_broker_side(":consume")

        async def reported() -> bool:
            return (await svc.client.get("/readyz")).status_code == 503

        await eventually(reported, timeout=30, interval=0.2)
        answer = (await svc.client.get("/readyz")).json()
        assert answer["checks"]["broker_link"] is False
        assert answer["detail"].startswith("服务未就绪：")
        assert "broker_link（消息代理链路异常已持续 " in answer["detail"]
        problem = answer["broker_link_problem"]
        assert problem in answer["detail"]
        assert problem, answer
        metrics = (await svc.client.get("/metrics")).text
        assert 'broker_link_ok{service="probe"} 0.0' in metrics
        assert 'readiness_check{check="broker_link",service="probe"} 0.0' in metrics

        async def rebuild_failed() -> bool:
            return REBUILDS.labels("probe", "failed")._value.get() >= 1

        # The rebuild cannot connect: the report stays.
        await eventually(rebuild_failed, timeout=60, interval=0.2)
        assert (await svc.client.get("/readyz")).status_code == 503
        assert 'broker_link_ok{service="probe"} 0.0' in (await svc.client.get("/metrics")).text

        link.refuse = False

        async def recovered() -> bool:
            return (await svc.client.get("/readyz")).status_code == 200

        await eventually(recovered, timeout=90, interval=0.5)
        assert 'broker_link_ok{service="probe"} 1.0' in (await svc.client.get("/metrics")).text
        assert REBUILDS.labels("probe", "rebuilt")._value.get() >= 1
        # The rebuilt link consumes again, as the broker sees it.
        runtime = svc.app.state.runtime
        assert await runtime.broker.consumer_count(runtime.queue_spec.name, 5.0) == 1
