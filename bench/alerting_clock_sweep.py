"""Benchmark: one clock-sweep tick over 1,000,000 open review stages (issue 6, item 7).

    uv run python -m bench.alerting_clock_sweep [--stages 1000000] [--breaching 1000]

Creates (and afterwards drops) its own database ``bench_alerting_<random>`` on the local
PostgreSQL (``BENCH_DATABASE_URL``, default the test default), migrates the alerting schema,
bulk-loads the open stages with ``generate_series`` (a realistic spread: most due in the
coming weeks, ``--breaching`` of them newly past their deadline and as many inside their
Y3 warning day), then times:

1. the first tick, which raises R8/Y3 for the breaching stages, opens their red tickets and
   writes their events;
2. a second tick at the same instant, which must raise nothing (idempotence) -- this is the
   steady-state cost of the scan itself.

Not a timed test; the figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from datetime import UTC, datetime

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from services.alerting.bootstrap import rule_config
from services.alerting.sweeps import clock_sweep
from shared.clock import clock
from shared.db import UnitOfWork, create_engine
from shared.migrations import upgrade

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Xiamen

LOAD = """
WITH p AS (SELECT CAST(:now AS timestamptz) AS now, CAST(:breaching AS int) AS b)
INSERT INTO stages (case_id, stage, application_id, level, unit, status, started_at, due_at,
                    warn_at, time_limit_working_days, calendar_fallback, overdue)
SELECT gen_random_uuid(), 'street_initial', gen_random_uuid(), 'street',
       '350203' || lpad((1 + i % 12)::text, 3, '0'), 'open',
       p.now - interval '3 days',
       CASE WHEN i <= p.b THEN p.now - interval '1 hour'              -- newly overdue
            WHEN i <= 2 * p.b THEN p.now + interval '10 hours'        -- in the Y3 window
            ELSE p.now + interval '2 days' + (i % 40) * interval '1 day' END,
       CASE WHEN i <= p.b THEN p.now - interval '25 hours'
            WHEN i <= 2 * p.b THEN p.now - interval '10 hours'
            ELSE p.now + interval '1 day' + (i % 40) * interval '1 day' END,
       5, false, false
FROM p, generate_series(1, CAST(:n AS int)) AS i
"""


async def main(n: int, breaching: int) -> None:
    base = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    url = make_url(base).set(database=f"bench_alerting_{secrets.token_hex(3)}")
    database_url = url.render_as_string(hide_password=False)
    await upgrade("alerting", database_url)
    engine = create_engine(database_url)
    try:
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(sa.text(LOAD), {"now": NOW, "breaching": breaching, "n": n})
            await conn.execute(sa.text("ANALYZE stages"))
        print(f"loaded {n:,} open stages in {time.perf_counter() - started:.1f} s")
        clock.set(NOW)
        cfg = rule_config(city="350200")
        statements: list[tuple[float, str]] = []

        @sa.event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _start(conn, cursor, statement, params, context, executemany) -> None:
            conn.info["t0"] = time.perf_counter()

        @sa.event.listens_for(engine.sync_engine, "after_cursor_execute")
        def _stop(conn, cursor, statement, params, context, executemany) -> None:
            statements.append((time.perf_counter() - conn.info["t0"], " ".join(statement.split())))

        for label in ("first tick (raises)", "second tick (idempotent)"):
            statements.clear()
            async with UnitOfWork(engine, producer="bench") as uow:
                t0 = time.perf_counter()
                counts = await clock_sweep(uow, cfg)
                await uow.commit()
                elapsed = time.perf_counter() - t0
            in_db = sum(d for d, _ in statements)
            print(f"{label}: {elapsed * 1000:.0f} ms total, {in_db * 1000:.0f} ms in SQL  {counts}")
            for d, sql in sorted(statements, reverse=True)[:6]:
                print(f"    {d * 1000:7.1f} ms  {sql[:110]}")
        async with engine.connect() as conn:
            plan = (
                await conn.execute(
                    sa.text(
                        "EXPLAIN SELECT 1 FROM stages WHERE status = 'open' AND due_at <= :now"
                    ),
                    {"now": NOW},
                )
            ).scalars()
            print("plan of the R8 scan:", " / ".join(line.strip() for line in plan))
    finally:
        clock.reset()
        await engine.dispose()
        admin = url.set(drivername="postgresql", database="postgres")
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        finally:
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--stages", type=int, default=1_000_000)
    parser.add_argument("--breaching", type=int, default=1_000)
    args = parser.parse_args()
    asyncio.run(main(args.stages, args.breaching))
