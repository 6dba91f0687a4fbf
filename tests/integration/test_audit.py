"""The audit log on a real PostgreSQL: chaining, refusals, tamper detection, concurrency."""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from shared import correlation
from shared.audit import (
    ANCHOR_MISMATCH,
    ANCHOR_MISSING,
    AUDIT_DDL,
    GAP,
    GENESIS_HASH,
    HASH_MISMATCH,
    AuditEntry,
    audit_log,
    entry_hash,
    record,
    record_many,
    verify,
)
from shared.tables import platform_metadata
from tests.audit_support import (
    as_superuser_without_triggers,
    audit_verify,
    entry,
    rehashed_rewrite,
    rows_of,
)

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
BASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="module")
async def database_url() -> AsyncIterator[str]:
    name = f"test_audit_{secrets.token_hex(6)}"
    admin = create_async_engine(BASE_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    async with admin.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(BASE_URL).set(database=name).render_as_string(hide_password=False)
    try:
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.run_sync(platform_metadata.create_all)
            for statement in AUDIT_DDL:
                await conn.exec_driver_sql(statement)
        await engine.dispose()
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=25, max_overflow=0)
    # Each test starts from an empty log. Only a superuser with the triggers switched off can
    # empty it; re-running AUDIT_DDL afterwards also proves the DDL is idempotent and restores
    # the ALWAYS mode that a test's "ENABLE TRIGGER USER" downgrades.
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.exec_driver_sql("TRUNCATE audit_log")
        for statement in AUDIT_DDL:
            await conn.exec_driver_sql(statement)
    yield engine
    await engine.dispose()


async def _record_five(engine: AsyncEngine) -> list[AuditEntry]:
    async with engine.begin() as conn:
        first = await record(conn, **entry(1))
        second = await record(conn, **entry(2))
    async with engine.begin() as conn:
        rest = await record_many(conn, [entry(3), entry(4), entry(5)])
    return [first, second, *rest]


async def _verify(engine: AsyncEngine, **kwargs: Any) -> Any:
    async with engine.connect() as conn:
        return await verify(conn, **kwargs)


def _resident_id(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


async def test_entries_chain_and_verify(engine: AsyncEngine, database_url: str) -> None:
    code, out = await audit_verify(database_url)
    assert (code, out.strip()) == (0, "audit log intact: empty")

    written = await _record_five(engine)
    rows = await rows_of(engine)

    assert rows == written
    assert [row.seq for row in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS_HASH
    for previous, row in itertools.pairwise(rows):
        assert row.prev_hash == previous.hash
    for row in rows:
        assert row.hash == entry_hash(row.prev_hash, row.hashed_fields())
        assert len(row.hash) == 64
    # One batch, one timestamp; the chain's timestamps never go backwards.
    assert rows[2].at == rows[3].at == rows[4].at
    assert [row.at for row in rows] == sorted(row.at for row in rows)

    result = await _verify(engine)
    assert result.ok is True
    assert result.checked == 5
    assert result.first_broken_seq is None
    assert result.reason is None
    assert (result.head_seq, result.head_hash) == (5, rows[4].hash)

    code, out = await audit_verify(database_url)
    assert code == 0
    assert out.strip() == f"audit log intact: 5 entries checked, head seq 5 hash {rows[4].hash}"


async def test_stored_fields_round_trip(engine: AsyncEngine) -> None:
    details = {
        "姓名": "张*三",
        "id_number": "3502**********1234",
        "amount": Decimal("1234.50"),
        "decided_on": date(2026, 10, 9),
        "signed_at": datetime(2026, 10, 9, 17, 0, 0, 5, tzinfo=UTC),
        "big": 2**70,
        "nested": {"z": [1, True, None, "末"], "a": {}},
    }
    correlation.bind("corr-from-context")
    try:
        async with engine.begin() as conn:
            written = await record(
                conn,
                actor="user-7",
                action="personal_data.read",
                subject_type="household",
                subject_id="hh-1",
                details=details,
                actor_roles=["district_reviewer", "city_leader", "district_reviewer"],
            )
    finally:
        correlation.clear()

    (stored,) = await rows_of(engine)
    assert stored == written
    assert stored.correlation_id == "corr-from-context"
    assert stored.actor_roles == "city_leader,district_reviewer"
    assert stored.roles == ("city_leader", "district_reviewer")
    assert stored.actor_org is None
    assert stored.details == {
        "姓名": "张*三",
        "id_number": "3502**********1234",
        "amount": "1234.50",
        "decided_on": "2026-10-09",
        "signed_at": "2026-10-09T17:00:00.000005+00:00",
        "big": 2**70,
        "nested": {"z": [1, True, None, "末"], "a": {}},
    }
    assert (await _verify(engine)).ok is True


async def test_rolled_back_entries_leave_no_gap(engine: AsyncEngine) -> None:
    conn = await engine.connect()
    try:
        await record(conn, **entry(1))
        await conn.rollback()
    finally:
        await conn.close()
    async with engine.begin() as conn:
        kept = await record(conn, **entry(2))
        assert await record_many(conn, []) == []

    assert kept.seq == 1
    assert kept.prev_hash == GENESIS_HASH
    result = await _verify(engine)
    assert (result.ok, result.checked) == (True, 1)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'application.rejected' WHERE seq = 3",
        "DELETE FROM audit_log WHERE seq = 3",
        "TRUNCATE audit_log",
    ],
    ids=["update", "delete", "truncate"],
)
@pytest.mark.parametrize("replica", [False, True], ids=["origin", "replica"])
async def test_database_refuses_changes(engine: AsyncEngine, statement: str, replica: bool) -> None:
    await _record_five(engine)
    before = await rows_of(engine)

    with pytest.raises(DBAPIError) as raised:
        async with engine.begin() as conn:
            if replica:
                # A superuser's way round ordinary triggers; ALWAYS triggers still fire.
                await conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            await conn.exec_driver_sql(statement)

    assert isinstance(raised.value.orig.__cause__, asyncpg.RaiseError)
    operation = statement.split()[0]
    assert f"audit_log is append-only; {operation} refused" in str(raised.value)
    assert await rows_of(engine) == before
    assert (await _verify(engine)).ok is True


@pytest.mark.parametrize(
    "change",
    [
        """UPDATE audit_log SET details = '{"step": 33}' WHERE seq = 3""",
        "UPDATE audit_log SET action = 'application.rejected' WHERE seq = 3",
    ],
    ids=["details", "action"],
)
async def test_edited_row_is_named(engine: AsyncEngine, database_url: str, change: str) -> None:
    rows = await _record_five(engine)
    await as_superuser_without_triggers(engine, change)

    result = await _verify(engine)
    assert result.ok is False
    assert result.first_broken_seq == 3
    assert result.first_broken_id == rows[2].id
    assert result.reason == HASH_MISMATCH
    assert result.checked == 3

    code, out = await audit_verify(database_url)
    assert code == 1
    assert out.strip() == (
        f"audit log BROKEN at seq 3 (id {rows[2].id}): hash mismatch; 3 entries checked"
    )


async def test_deleted_row_breaks_the_next_link(engine: AsyncEngine, database_url: str) -> None:
    rows = await _record_five(engine)
    await as_superuser_without_triggers(engine, "DELETE FROM audit_log WHERE seq = 4")

    result = await _verify(engine)
    assert result.ok is False
    assert result.first_broken_seq == 5
    assert result.first_broken_id == rows[4].id
    assert result.reason == GAP
    assert result.checked == 4

    code, out = await audit_verify(database_url)
    assert code == 1
    assert out.strip() == (
        f"audit log BROKEN at seq 5 (id {rows[4].id}): gap in sequence; 4 entries checked"
    )


async def test_rewritten_chain_and_cut_tail_are_caught_by_anchor(
    engine: AsyncEngine, database_url: str
) -> None:
    rows = await _record_five(engine)
    anchor = f"5:{rows[4].hash}"
    code, _ = await audit_verify(database_url, "--anchor", anchor)
    assert code == 0

    # The attacker edits row 3 and recomputes every later hash: the chain alone is consistent.
    await as_superuser_without_triggers(engine, *rehashed_rewrite(rows, 3, {"step": 33}))
    assert (await _verify(engine)).ok is True

    result = await _verify(engine, anchors={5: rows[4].hash})
    assert (result.ok, result.first_broken_seq, result.reason) == (False, 5, ANCHOR_MISMATCH)
    code, out = await audit_verify(database_url, "--anchor", anchor)
    assert (code, out.strip()) == (
        1,
        f"audit log BROKEN at seq 5 (id {rows[4].id}): hash does not match anchor; "
        "rewritten between seq 1 and seq 5, re-hashed to the end; 5 entries checked",
    )

    await as_superuser_without_triggers(engine, "DELETE FROM audit_log WHERE seq = 5")
    assert (await _verify(engine)).ok is True
    result = await _verify(engine, anchors={5: rows[4].hash})
    assert (result.ok, result.first_broken_seq, result.first_broken_id) == (False, 5, None)
    assert result.reason == ANCHOR_MISSING
    code, out = await audit_verify(database_url, "--anchor", anchor)
    assert (code, out.strip()) == (
        1,
        "audit log BROKEN at seq 5 (no such row): anchored entry is missing; "
        "the chain ends at seq 4, row 5 was cut off; 4 entries checked",
    )


async def test_concurrent_writers_do_not_fork(engine: AsyncEngine) -> None:
    async def one_transaction(n: int) -> None:
        async with engine.begin() as conn:
            await record(conn, **entry(n * 10))
            await asyncio.sleep(0)
            await record_many(conn, [entry(n * 10 + 1), entry(n * 10 + 2)])
            await asyncio.sleep(0)
            await record(conn, **entry(n * 10 + 3))
            await record(conn, **entry(n * 10 + 4))

    await asyncio.gather(*(one_transaction(n) for n in range(20)))

    rows = await rows_of(engine)
    assert len(rows) == 100
    assert [row.seq for row in rows] == list(range(1, 101))
    assert len({row.prev_hash for row in rows}) == 100
    # Each transaction held the lock from its first entry to its commit: its five are adjacent.
    for start in range(0, 100, 5):
        assert len({row.actor[:-1] for row in rows[start : start + 5]}) == 1
    result = await _verify(engine)
    assert (result.ok, result.checked) == (True, 100)


async def test_stale_snapshot_fails_instead_of_forking(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await record(conn, **entry(1))

    stale = await engine.connect()
    try:
        await stale.execution_options(isolation_level="REPEATABLE READ")
        await stale.execute(sa.select(sa.func.count()).select_from(audit_log))
        async with engine.begin() as conn:
            await record(conn, **entry(2))
        with pytest.raises(DBAPIError):
            await record(stale, **entry(3))
        await stale.rollback()
    finally:
        await stale.close()

    result = await _verify(engine)
    assert (result.ok, result.checked) == (True, 2)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        (
            {"details": {"applicant": _resident_id("35020319900101123")}},
            ValueError,
            "audit details.applicant contains what looks like a full resident ID number",
        ),
        (
            {"details": {"members": [{"id": f"证件 {_resident_id('11010520000229001')}"}]}},
            ValueError,
            "audit details.members[0].id contains what looks like a full resident ID number",
        ),
        (
            {"subject_id": _resident_id("35020319900101123")},
            ValueError,
            "audit subject_id contains what looks like a full resident ID number",
        ),
        ({"details": {"income": 1234.5}}, TypeError, "audit details.income is a float"),
        ({"details": {1: "x"}}, TypeError, "audit details has a non-string key"),
        ({"actor": ""}, TypeError, "audit actor must be a non-empty string"),
        ({"actor_roles": ("a,b",)}, ValueError, "audit actor_roles must be non-empty names"),
    ],
    ids=["id-number", "nested-id-number", "id-as-subject", "float", "int-key", "no-actor", "comma"],
)
async def test_refused_entries_write_nothing(
    engine: AsyncEngine, fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    async with engine.begin() as conn:
        with pytest.raises(error) as raised:
            await record_many(conn, [entry(1), entry(2, **fields)])
    assert str(raised.value).startswith(message)
    assert "35020319900101123" not in str(raised.value)
    assert await rows_of(engine) == []
