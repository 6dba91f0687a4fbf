"""The event layer's hot-path statements (issue 20, item 1), exactly: the inbox claim, the outbox
insert with its wake-up and the relay's marks run on the asyncpg connection under the unit of
work, inside its transaction, and fail as SQLAlchemy's statements fail."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import sqlalchemy as sa

from shared.amqp.consumer import database_unavailable
from shared.amqp.relay import asyncpg_dsn, backoff
from shared.clock import clock
from shared.db import create_engine, fetch
from shared.inbox import claim_many
from shared.tables import inbox, outbox
from tests.conftest import Infra
from tests.harness import wait_for
from tests.integration.eventlayer import EVENT, Layer, new_layer

pytestmark = pytest.mark.integration

# A second and a microsecond off: the database keeps microseconds, so the round trip is exact.
STAMP = datetime(2027, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
async def layer(infra: Infra) -> AsyncIterator[Layer]:
    async with new_layer(infra, "stmt") as layer:
        yield layer


@pytest.fixture
def frozen() -> Iterator[datetime]:
    clock.set(STAMP)
    yield STAMP
    clock.reset()


async def _rows(layer: Layer, table: sa.Table, *columns: sa.ColumnElement) -> list[tuple]:
    assert layer.engine is not None
    async with layer.engine.connect() as conn:
        order = table.c.seq if "seq" in table.c else table.c.event_id
        return [tuple(r) for r in await conn.execute(sa.select(*columns).order_by(order))]


async def test_a_claim_batch_returns_exactly_the_ids_not_handled_before(
    layer: Layer, frozen: datetime
) -> None:
    a, b, c, d = sorted(uuid.uuid4() for _ in range(4))
    async with layer.uow() as uow:
        assert await claim_many(uow.conn, [(a, "t.a"), (b, "t.b")]) == {a, b}
        await uow.commit()
    async with layer.uow() as uow:
        # b and a handled before; c twice in the batch: claimed once.
        batch = [(b, "t.b"), (c, "t.c"), (a, "t.a"), (d, "t.d"), (c, "t.c")]
        claimed = await claim_many(uow.conn, batch)
        assert claimed == {c, d}
        await uow.commit()
    assert await _rows(layer, inbox, inbox.c.event_id, inbox.c.type, inbox.c.handled_at) == [
        (a, "t.a", frozen),
        (b, "t.b", frozen),
        (c, "t.c", frozen),
        (d, "t.d", frozen),
    ]
    async with layer.uow() as uow:
        assert await claim_many(uow.conn, []) == set()
        assert await claim_many(uow.conn, [(a, "t.a"), (a, "t.a")]) == set()


async def test_a_claim_first_in_the_unit_of_work_is_inside_its_transaction(layer: Layer) -> None:
    """SQLAlchemy sends BEGIN with its first statement; a claim on the driver before any such
    statement must not autocommit on its own."""
    assert layer.engine is not None
    first, second = uuid.uuid4(), uuid.uuid4()
    async with layer.uow() as uow:
        assert await claim_many(uow.conn, [(first, EVENT)]) == {first}
        # Not visible to anyone else before the commit, and gone with the rollback.
        assert await _rows(layer, inbox, inbox.c.event_id) == []
    assert await _rows(layer, inbox, inbox.c.event_id) == []
    async with layer.uow() as uow:
        assert await claim_many(uow.conn, [(second, EVENT)]) == {second}
        assert await _rows(layer, inbox, inbox.c.event_id) == []
        await uow.commit()
    assert await _rows(layer, inbox, inbox.c.event_id) == [(second,)]


async def test_a_statement_on_a_connection_without_a_transaction_begins_one(
    layer: Layer,
) -> None:
    """As SQLAlchemy's autobegin: a driver statement on a plain connection is in a transaction
    the caller commits or rolls back, never one of its own (an advisory lock would end with it)."""
    assert layer.engine is not None
    kept, dropped = uuid.uuid4(), uuid.uuid4()
    async with layer.engine.connect() as conn:
        assert await claim_many(conn, [(dropped, EVENT)]) == {dropped}
        assert conn.in_transaction()
        await conn.rollback()
        assert await claim_many(conn, [(kept, EVENT)]) == {kept}
        assert await _rows(layer, inbox, inbox.c.event_id) == []
        await conn.commit()
    assert await _rows(layer, inbox, inbox.c.event_id) == [(kept,)]


async def test_the_outbox_rows_and_one_wake_up_come_with_the_commit_only(
    layer: Layer, frozen: datetime
) -> None:
    wake_ups: list[str] = []
    listener = await asyncpg.connect(asyncpg_dsn(layer.database_url))
    await listener.add_listener(
        "outbox", lambda _c, _pid, _channel, payload: wake_ups.append(payload)
    )
    try:
        async with layer.uow() as uow:
            uow.emit_raw(event_type="test.rolled_back", data={}, subject="app-0")
            await claim_many(uow.conn, [(uuid.uuid4(), EVENT)])
        async with layer.uow() as uow:
            one = uow.emit_raw(
                event_type=EVENT, data={"n": 1}, subject="app-1", correlation_id="c-1"
            )
            two = uow.emit_raw(
                event_type="verification.requested",
                data={"n": 2},
                subject="app-2",
                exchange="verification",
                routing_key="request.police",
                correlation_id="c-2",
            )
            await asyncio.sleep(0.3)
            assert (wake_ups, await _rows(layer, outbox, outbox.c.id)) == ([], [])
            await uow.commit()

        async def woken() -> bool:
            return bool(wake_ups)

        await wait_for(woken, timeout=10, what="the wake-up")
        await asyncio.sleep(0.3)
        assert wake_ups == [""]  # one for the transaction, none for the rolled-back one
    finally:
        await listener.close()
    columns = [c for c in outbox.c if c.name != "next_attempt_at"]
    assert await _rows(layer, outbox, *columns) == [
        (
            seq,
            event.id,
            event.type,
            layer.exchanges[exchange],
            key,
            event.subject,
            event.correlation_id,
            event.to_bytes(),
            frozen,
            None,
            0,
            None,
        )
        for seq, (event, exchange, key) in enumerate(
            [(one, "events", EVENT), (two, "verification", "request.police")], start=1
        )
    ]


async def test_a_failed_statement_is_raised_as_sqlalchemy_raises_it_without_its_values(
    layer: Layer,
) -> None:
    async with layer.uow() as uow:
        uow.emit_raw(event_type=EVENT, data={"name": "张三"}, subject="110101199003077777")
        uow._pending.append(uow._pending[0])  # the same event id twice: a unique violation
        with pytest.raises(sa.exc.IntegrityError) as raised:
            await uow.commit()
    message = str(raised.value)
    assert "duplicate key value violates unique constraint" in message
    assert "[SQL: \nWITH written AS (" in message
    assert "110101199003077777" not in message and "张三" not in message
    assert "[parameters" not in message
    assert isinstance(raised.value.orig.__cause__, asyncpg.exceptions.UniqueViolationError)
    assert not database_unavailable(raised.value)
    assert await _rows(layer, outbox, outbox.c.id) == []


async def test_the_connection_time_limits_hold_for_the_driver_statements(layer: Layer) -> None:
    engine = create_engine(layer.database_url, pool_size=1, statement_timeout_ms=200)
    try:
        async with engine.begin() as conn:
            with pytest.raises(sa.exc.DBAPIError) as raised:
                await fetch(conn, "SELECT pg_sleep($1)", 2.0)
    finally:
        await engine.dispose()
    assert raised.value.orig.__cause__.sqlstate == "57014"  # query_canceled
    assert "canceling statement due to statement timeout" in str(raised.value)
    assert not database_unavailable(raised.value)  # the handler's fault: retried, not held


async def test_a_dead_connection_is_database_unavailable_and_leaves_the_pool(
    layer: Layer,
) -> None:
    assert layer.engine is not None
    async with layer.uow() as uow:
        [(pid,)] = await fetch(uow.conn, "SELECT pg_backend_pid()")
        async with layer.engine.connect() as other:
            await other.execute(sa.select(sa.func.pg_terminate_backend(pid)))
        await asyncio.sleep(0.2)
        with pytest.raises(sa.exc.DBAPIError) as raised:
            await claim_many(uow.conn, [(uuid.uuid4(), EVENT)])
    assert raised.value.connection_invalidated
    assert database_unavailable(raised.value)
    event_id = uuid.uuid4()
    async with layer.uow() as uow:  # a fresh connection, not the dead one
        [(other_pid,)] = await fetch(uow.conn, "SELECT pg_backend_pid()")
        assert other_pid != pid
        assert await claim_many(uow.conn, [(event_id, EVENT)]) == {event_id}
        await uow.commit()
    assert await _rows(layer, inbox, inbox.c.event_id) == [(event_id,)]


async def test_one_relay_round_marks_the_sent_and_the_failed_rows(layer: Layer) -> None:
    # An hour ahead of the database's clock, so the failed rows' back-off has not passed.
    stamp = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    clock.set(stamp)
    consumer = layer.consumer()  # binds test.#: the EVENT row is routable, the others not
    await consumer.start()
    try:
        async with layer.uow() as uow:
            for i, event_type in enumerate(["nobody.listens", EVENT, "nobody.hears"]):
                uow.emit_raw(event_type=event_type, data={"n": i}, subject=f"app-{i}")
            await uow.commit()
        relay = layer.relay()
        assert await relay.relay_once() == 3
        assert await relay.relay_once() == 0  # the failed ones wait for their back-off
    finally:
        clock.reset()
        await consumer.stop()
    rows = await _rows(
        layer,
        outbox,
        outbox.c.type,
        outbox.c.sent_at,
        outbox.c.attempts,
        outbox.c.next_attempt_at,
        outbox.c.last_error,
    )

    def failed(key: str) -> tuple[object, ...]:
        returned = (
            "PublishError: Message delivery failed: Basic.Return(reply_code=312, "
            f"reply_text='NO_ROUTE', exchange='{layer.exchanges['events']}', routing_key='{key}')"
        )
        return (key, None, 1, stamp + backoff(0), returned)

    sent_next_attempt = rows[1][3]  # the server's now() at the insert, untouched
    assert rows == [
        failed("nobody.listens"),
        (EVENT, stamp, 0, sent_next_attempt, None),
        failed("nobody.hears"),
    ]
