"""What the audit chain's one lock costs: write transactions per second with and without an
audit entry, at 1, 8 and 32 concurrent writers (issue 14, item 4).

``uv run python -m bench.audit_lock [--transactions 150]``

Each transaction inserts one business row and, when audited, appends one entry with
``shared.audit.record`` (which holds ``pg_advisory_xact_lock(AUDIT_LOCK_KEY)`` until commit),
then commits. Uses a fresh database on the local PostgreSQL (or ``TEST_DATABASE_URL``) and
drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from shared.audit import record
from shared.tables import platform_metadata

BASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


async def _round(engine: AsyncEngine, audited: bool, writers: int, per_writer: int) -> float:
    async def writer(n: int) -> None:
        for i in range(per_writer):
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO work (v) VALUES ('x')"))
                if audited:
                    await record(
                        conn,
                        actor="bench",
                        action="application.accepted",
                        subject_type="application",
                        subject_id=f"a-{n}-{i}",
                        details={"i": i},
                    )

    started = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(writers)))
    return writers * per_writer / (time.perf_counter() - started)


async def main(per_writer: int) -> None:
    name = f"bench_audit_{secrets.token_hex(4)}"
    admin = create_async_engine(BASE_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    async with admin.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(BASE_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_async_engine(url, pool_size=40, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(platform_metadata.create_all)
            await conn.exec_driver_sql("CREATE TABLE work (id serial PRIMARY KEY, v text)")
        print("| writers | without audit (tx/s) | with audit (tx/s) |")
        print("|---|---|---|")
        for writers in (1, 8, 32):
            plain = await _round(engine, False, writers, per_writer)
            audited = await _round(engine, True, writers, per_writer)
            print(f"| {writers} | {plain:.0f} | {audited:.0f} |")
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=150, help="per writer")
    asyncio.run(main(parser.parse_args().transactions))
