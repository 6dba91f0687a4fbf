"""Benchmark: an allocation round of 20,000 households and 3,000 units (issue 15, item 10).

    uv run python -m bench.lottery [--households 20000] [--units 3000]

Creates (and afterwards drops) its own database ``bench_allocation_<random>`` on the local
PostgreSQL (``BENCH_DATABASE_URL``), migrates the allocation schema, bulk-loads the waiting
list (one household in seven in a priority group) and the vacant units, then times the
service's own commands, each in its transaction as the API runs them:

1. freeze: the pool at the cut-off, its canonical file and SHA-256 digest;
2. commit: the secret and its published hash;
3. draw: the notary's public input, the checks (commitment first, pool unchanged since its
   digest, input not used before), seed, ranking, ranks stored; then, in the same transaction
   as ``POST /rounds/{id}/draw`` runs it, the selection order with the round's quota
   (``--quota``, default 20 % of the units for tier 1) and its two files (timed apart as
   "schedule"; without a quota the order is the rank and nothing is stored);
4. publish: reading the eight files as ``GET /public/rounds/{id}/files/{name}`` serves them;
5. verify: ``tools/verify_lottery.py``'s check of those files (ranking and selection order).

Not a timed test; the figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from services.allocation import commands, queries
from services.allocation.context import AllocationContext
from services.allocation.schemas import DrawIn, FreezeIn, QuotaIn, RoundIn
from services.allocation.settings import AllocationSettings, load_clauses, load_rules
from services.allocation.tables import buildings, projects, units, waiting_entries
from shared.auth import Principal
from shared.city import city_config
from shared.clock import clock
from shared.db import UnitOfWork, create_engine
from shared.migrations import upgrade
from shared.settings import settings_for
from shared.workdays import default_calendar
from tools import verify_lottery

VERIFIER = Path(__file__).resolve().parents[1] / "tools" / "verify_lottery.py"
OFFICER = Principal(
    sub="officer-a", name="经办", roles=frozenset({"housing_officer"}), org="350200"
)
LEADER = Principal(sub="leader-1", name="领导", roles=frozenset({"city_leader"}), org="350200")
NOTARY = Principal(sub="notary-1", name="公证员", roles=frozenset({"notary"}), org="350200")


async def load(
    engine: sa.ext.asyncio.AsyncEngine, households: int, n_units: int
) -> list[uuid.UUID]:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    groups = ["subsistence", "disability", "veteran_martyr", "model_worker", "elderly"]
    project_id, building_id = uuid.uuid4(), uuid.uuid4()
    unit_ids = [uuid.uuid4() for _ in range(n_units)]
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(projects).values(
                id=project_id, code="P1", name="湖里保障房", district="350206", created_at=at
            )
        )
        await conn.execute(
            sa.insert(buildings).values(id=building_id, project_id=project_id, code="1")
        )
        await conn.execute(
            sa.insert(units),
            [
                {
                    "id": uid,
                    "building_id": building_id,
                    "code": f"P1-1-{i:05d}",
                    "address": f"湖里区保障路1号{i}室",
                    "area_m2": 38,
                    "rooms": 1,
                    "floor": 1 + i // 20,
                    "accessible": False,
                    "base_rent_per_m2": 12.5,
                    "status": "vacant",
                    "updated_at": at,
                }
                for i, uid in enumerate(unit_ids)
            ],
        )
        await conn.execute(
            sa.insert(waiting_entries),
            [
                {
                    "id": uuid.uuid4(),
                    "application_id": uuid.uuid4(),
                    "household_reference": f"XM-2026-{i:06d}",
                    "category": "low_income_family",
                    "district": "350206",
                    "member_count": 2,
                    "name_masked": "张*丰",
                    "priority_group": groups[i % 5] if i % 7 == 0 else "general",
                    "priority_reason": "bench",
                    "qualified_at": at + timedelta(minutes=i),
                    "status": "waiting",
                }
                for i in range(households)
            ],
        )
    return unit_ids


async def main(households: int, n_units: int, quota: int = 20) -> None:
    base = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    url = make_url(base).set(database=f"bench_allocation_{secrets.token_hex(3)}")
    database_url = url.render_as_string(hide_password=False)
    await upgrade("allocation", database_url)
    engine = create_engine(database_url)
    try:
        own = AllocationSettings()
        common = settings_for("allocation", database_url=database_url)
        ctx = AllocationContext(
            common=common,
            city=city_config(common.city_config),
            calendar=default_calendar(),
            uow=lambda: UnitOfWork(engine, producer="allocation"),
            settings=own,
            rules=load_rules(own.rules_file),
            contract_template=own.contract_template.read_text(encoding="utf-8"),
            clauses=load_clauses(own.recovery_clauses_file),
        )
        t0 = time.perf_counter()
        unit_ids = await load(engine, households, n_units)
        loaded = time.perf_counter() - t0
        print(f"loaded {households:,} households and {n_units:,} units in {loaded:.1f} s")

        async def step(label: str, fn):  # type: ignore[no-untyped-def]
            async with ctx.uow() as uow:
                t = time.perf_counter()
                out = await fn(uow)
                await uow.commit()
                elapsed = time.perf_counter() - t
            print(f"{label:<8} {elapsed * 1000:8.0f} ms")
            return out, elapsed

        body = RoundIn(
            category="low_income_family",
            title="基准批次",
            unit_ids=unit_ids,
            quotas=[QuotaIn(tier=1, percent=quota)] if quota else [],
        )
        opened, _ = await step("open", lambda uow: commands.open_round(ctx, uow, OFFICER, body))
        round_id = uuid.UUID(opened["id"])
        await step("approve", lambda uow: commands.approve_round(ctx, uow, LEADER, round_id))
        await step(
            "freeze", lambda uow: commands.freeze_pool(ctx, uow, OFFICER, round_id, FreezeIn())
        )
        await step("commit", lambda uow: commands.publish_commitment(ctx, uow, OFFICER, round_id))
        drawn = DrawIn(public_input="2026-12-01 福彩3D 417 / 体彩排列五 90316")
        clock.set(datetime.now(UTC) + timedelta(days=30))  # past the objection period
        timings: dict[str, float] = {}

        async def draw_as_the_api_does(uow: UnitOfWork) -> None:
            t = time.perf_counter()
            await commands.draw(ctx, uow, NOTARY, round_id, drawn)
            timings["draw"] = time.perf_counter() - t
            t = time.perf_counter()
            await commands.schedule_selection(ctx, uow, round_id)
            timings["schedule"] = time.perf_counter() - t

        await step("draw+", draw_as_the_api_does)
        clock.reset()
        for label, elapsed in timings.items():
            print(f"  {label:<8} {elapsed * 1000:6.0f} ms  (inside draw+, before the commit)")
        t = time.perf_counter()
        files = {
            name: (await queries.round_file(ctx, round_id, name)).body
            for name in (*verify_lottery.FILES, *verify_lottery.SELECTION_FILES)
        }
        size = sum(map(len, files.values()))
        print(f"{'publish':<8} {(time.perf_counter() - t) * 1000:8.0f} ms  ({size:,} bytes)")
        t = time.perf_counter()
        failures = verify_lottery.verify(files)
        verdict = "OK" if not failures else failures
        print(f"{'verify':<8} {(time.perf_counter() - t) * 1000:8.0f} ms  {verdict} (in process)")
        with tempfile.TemporaryDirectory() as tmp:
            for name, content in files.items():
                (Path(tmp) / name).write_bytes(content)
            t = time.perf_counter()
            # A separate interpreter, as a member of the public would run it (bench only).
            done = subprocess.run(  # noqa: ASYNC221, S603
                [sys.executable, "-I", str(VERIFIER), tmp], capture_output=True, text=True
            )
            cli = time.perf_counter() - t
        print(f"{'verify':<8} {cli * 1000:8.0f} ms  {done.stdout.strip()} (standalone process)")
    finally:
        await engine.dispose()
        admin = url.set(drivername="postgresql", database="postgres")
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        finally:
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument(
        "--quota", type=int, default=20, help="percent of the units for tier 1 (0: no quota)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.households, args.units, args.quota))
