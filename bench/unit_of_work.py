"""Benchmark: client CPU of the event layer's statements per transaction (issue 20, item 1).

    uv run python -m bench.unit_of_work [--transactions 400] [--batches 30] [--repeat 5]

A consumer's unit of work as the services run it, in this process's CPU time
(``time.process_time``: SQLAlchemy, asyncpg and the event loop, not the PostgreSQL backend):
inbox claim, one state-like insert through SQLAlchemy Core (a handler's write, the same in
every variant), the events emitted into the outbox, commit. Measured for a one-event
transaction and for a batch of 50 events (per event), and likewise the relay's transaction
(claim the due rows, mark them sent; no broker) for 1 and 50 rows. Three variants of the same
statements, each repetition running all three in turn:

* ``before``: the statements as they were (commit 5bc283c): a VALUES list of one row per
  claimed id, an executemany INSERT into the outbox plus a separate ``SELECT pg_notify``, the
  relay's IN list of sent rows, all through SQLAlchemy Core;
* ``text``: today's fixed-text array statements through SQLAlchemy, ``conn.execute(text(...))``;
* ``after``: the code as it is (``shared.inbox``, ``shared.db.UnitOfWork``,
  ``shared.amqp.relay``): those statements on the asyncpg connection (``shared.db.fetch``).

Each figure is the median over ``--repeat`` repetitions (min-max after it). Uses a database
``bench_uow_<run>``, removed after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared import inbox as inbox_module
from shared.amqp import relay as relay_module
from shared.clock import now
from shared.db import _INSERT_OUTBOX, OUTBOX_CHANNEL, UnitOfWork, create_engine
from shared.settings import settings_for
from shared.tables import inbox, outbox, platform_metadata

BATCH = 50
MAX_ATTEMPTS = 50

bench_metadata = sa.MetaData()
effects = sa.Table(
    "effects",
    bench_metadata,
    sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)


# --------------------------------------------------------------------------- before (5bc283c)
async def claim_before(conn: AsyncConnection, events: list[tuple[uuid.UUID, str]]) -> set[Any]:
    stamp = now()
    stmt = (
        insert(inbox)
        .values([{"event_id": i, "type": t, "handled_at": stamp} for i, t in events])
        .on_conflict_do_nothing(index_elements=[inbox.c.event_id])
        .returning(inbox.c.event_id)
    )
    return set((await conn.scalars(stmt)).all())


class UnitOfWorkBefore(UnitOfWork):
    async def commit(self) -> None:
        names = ("id", "type", "exchange", "routing_key", "subject", "correlation_id", "body")
        rows = [dict(zip((*names, "created_at"), row, strict=True)) for row in self._pending]
        if rows:
            await self.conn.execute(outbox.insert(), rows)
            await self.conn.execute(sa.select(sa.func.pg_notify(OUTBOX_CHANNEL, "")))
            self._pending = []
        await self.conn.commit()
        self._committed = True


async def relay_before(engine: AsyncEngine, limit: int) -> int:
    async with engine.begin() as conn:
        due = sa.and_(
            outbox.c.sent_at.is_(None),
            outbox.c.next_attempt_at <= sa.func.now(),
            outbox.c.attempts < MAX_ATTEMPTS,
        )
        rows = (
            await conn.execute(
                sa.select(
                    outbox.c.seq,
                    outbox.c.id,
                    outbox.c.type,
                    outbox.c.exchange,
                    outbox.c.routing_key,
                    outbox.c.correlation_id,
                    outbox.c.body,
                    outbox.c.attempts,
                )
                .where(due)
                .order_by(outbox.c.seq)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        sent = [row.seq for row in rows]
        await conn.execute(outbox.update().where(outbox.c.seq.in_(sent)).values(sent_at=now()))
    return len(rows)


# --------------------------------------------------------------------------- text
def as_text(sql: str) -> sa.TextClause:
    """The driver's ``$n`` statement as SQLAlchemy text (``:pn``; a cast after a bind
    parameter written ``CAST``, since text() reads ``:p1::uuid`` as no parameter)."""
    sql = re.sub(r"\$(\d+)::([\w\[\]]+)", r"CAST(:p\1 AS \2)", sql)
    return sa.text(re.sub(r"\$(\d+)", r":p\1", sql))


def text_params(*args: Any) -> dict[str, Any]:
    return {f"p{n}": value for n, value in enumerate(args, 1)}


CLAIM_TEXT = as_text(inbox_module._CLAIM)
OUTBOX_TEXT = as_text(_INSERT_OUTBOX)
DUE_TEXT = as_text(relay_module._CLAIM_DUE)
SENT_TEXT = as_text(relay_module._MARK_SENT)


async def claim_text(conn: AsyncConnection, events: list[tuple[uuid.UUID, str]]) -> set[Any]:
    ids, types = zip(*events, strict=True)
    return set((await conn.scalars(CLAIM_TEXT, text_params(list(ids), list(types), now()))).all())


class UnitOfWorkText(UnitOfWork):
    async def commit(self) -> None:
        if self._pending:
            columns = [list(column) for column in zip(*self._pending, strict=True)]
            await self.conn.execute(OUTBOX_TEXT, text_params(*columns))
            self._pending = []
        await self.conn.commit()
        self._committed = True


async def relay_text(engine: AsyncEngine, limit: int) -> int:
    async with engine.begin() as conn:
        rows = (await conn.execute(DUE_TEXT, text_params(MAX_ATTEMPTS, limit))).all()
        await conn.execute(SENT_TEXT, text_params([row.seq for row in rows], now()))
    return len(rows)


# --------------------------------------------------------------------------- after
async def relay_after(engine: AsyncEngine, limit: int) -> int:
    async with engine.begin() as conn:
        due = await relay_module.fetch(conn, relay_module._CLAIM_DUE, MAX_ATTEMPTS, limit)
        rows = [relay_module._Due(*row) for row in due]
        await relay_module.fetch(conn, relay_module._MARK_SENT, [row.seq for row in rows], now())
    return len(rows)


Claim = Callable[[AsyncConnection, list[tuple[uuid.UUID, str]]], Awaitable[set[Any]]]
VARIANTS: dict[
    str, tuple[Claim, type[UnitOfWork], Callable[[AsyncEngine, int], Awaitable[int]]]
] = {
    "before": (claim_before, UnitOfWorkBefore, relay_before),
    "text": (claim_text, UnitOfWorkText, relay_text),
    "after": (inbox_module.claim_many, UnitOfWork, relay_after),
}


async def consumer_transaction(engine: AsyncEngine, variant: str, size: int) -> None:
    claim, unit_of_work, _ = VARIANTS[variant]
    events = [(uuid.uuid4(), "bench.happened") for _ in range(size)]
    async with unit_of_work(engine, producer="bench") as uow:
        claimed = await claim(uow.conn, events)
        assert len(claimed) == size
        stamp = now()
        rows = [{"event_id": i, "subject": f"app-{i}", "applied_at": stamp} for i, _ in events]
        await uow.conn.execute(sa.insert(effects), rows)
        for event_id, _ in events:
            uow.emit_raw(
                event_type="bench.done", data={"event": str(event_id)}, subject=f"app-{event_id}"
            )
        await uow.commit()


async def measure(engine: AsyncEngine, variant: str, size: int, count: int) -> tuple[float, float]:
    """Client CPU µs per event: the consumer's transactions, then the relay's for their rows."""
    relay = VARIANTS[variant][2]
    consumer = relayed = 0.0
    for _ in range(count):
        cpu = time.process_time()
        await consumer_transaction(engine, variant, size)
        middle = time.process_time()
        assert await relay(engine, size) == size
        consumer += middle - cpu
        relayed += time.process_time() - middle
    return consumer / (count * size) * 1e6, relayed / (count * size) * 1e6


async def claims_alone(engine: AsyncEngine, variant: str, count: int) -> float:
    """Client CPU µs of one inbox claim of one id, in one long transaction: the statement's
    own cost, without the checkout, BEGIN and COMMIT around it."""
    claim = VARIANTS[variant][0]
    async with engine.begin() as conn:
        await conn.execute(sa.select(1))  # BEGIN before the clock starts
        cpu = time.process_time()
        for _ in range(count):
            await claim(conn, [(uuid.uuid4(), "bench.happened")])
        return (time.process_time() - cpu) / count * 1e6


async def run(owner_url: str, transactions: int, batches: int, repeat: int) -> None:
    engine = create_engine(owner_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(platform_metadata.create_all)
            await conn.run_sync(bench_metadata.create_all)
        for variant in VARIANTS:  # warm-up: compiled and prepared statement caches
            await measure(engine, variant, 1, 20)
            await measure(engine, variant, BATCH, 3)
        samples: dict[tuple[str, int], list[tuple[float, float]]] = {}
        alone: dict[str, list[float]] = {}
        order = list(VARIANTS)
        for r in range(repeat):
            for variant in order[r % 3 :] + order[: r % 3]:  # rotate: drift hits each alike
                for size, count in ((1, transactions), (BATCH, batches)):
                    sample = await measure(engine, variant, size, count)
                    samples.setdefault((variant, size), []).append(sample)
                alone.setdefault(variant, []).append(
                    await claims_alone(engine, variant, transactions)
                )
    finally:
        await engine.dispose()

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})"

    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        "| variant | consumer µs, 1-event transaction | consumer µs per event, batch of 50 "
        "| relay µs, 1 row | relay µs per row, batch of 50 | one inbox claim alone µs |"
    )
    print("|---|---|---|---|---|---|")
    for variant in VARIANTS:
        one, many = samples[(variant, 1)], samples[(variant, BATCH)]
        print(
            f"| {variant} | {cell([c for c, _ in one])} | {cell([c for c, _ in many])} "
            f"| {cell([r for _, r in one])} | {cell([r for _, r in many])} "
            f"| {cell(alone[variant])} |"
        )


async def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.unit_of_work", description=__doc__)
    p.add_argument("--transactions", type=int, default=400, help="1-event ones per repetition")
    p.add_argument("--batches", type=int, default=30, help="50-event ones per repetition")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    owner_url = settings_for("intake").migration_database_url_template.format(
        service=f"bench_uow_{secrets.token_hex(3)}"
    )
    target = make_url(owner_url)
    admin_url = target.set(drivername="postgresql", database="postgres")
    admin = await asyncpg.connect(admin_url.render_as_string(hide_password=False))
    try:
        await admin.execute(f'CREATE DATABASE "{target.database}"')
        try:
            await run(owner_url, args.transactions, args.batches, args.repeat)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    finally:
        await admin.close()
    return 0


if __name__ == "__main__":
    # The default event loop, as the services run (no uvloop).
    raise SystemExit(asyncio.run(main()))
