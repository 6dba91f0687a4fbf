"""For the audit tests: what an administrator who controls a service's database can do to its
audit log (switch the append-only triggers off, edit, re-hash, cut), and the verify command."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.audit import AuditEntry, audit_log


def entry(n: int, **overrides: Any) -> dict[str, Any]:
    """The keyword arguments of ``record`` for the n-th entry of a test chain."""
    return {
        "actor": f"clerk-{n}",
        "action": "application.accepted",
        "subject_type": "application",
        "subject_id": f"app-{n}",
        "actor_roles": ("street_handler",),
        "actor_org": "350203001",
        "details": {"step": n},
        **overrides,
    }


async def rows_of(engine: AsyncEngine) -> list[AuditEntry]:
    async with engine.connect() as conn:
        result = await conn.execute(sa.select(audit_log).order_by(audit_log.c.seq))
        return [AuditEntry.from_row(row) for row in result]


async def as_superuser_without_triggers(engine: AsyncEngine, *statements: str) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        for statement in statements:
            await conn.exec_driver_sql(statement)
        await conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER USER")


def rehashed_rewrite(rows: Sequence[AuditEntry], seq: int, details: dict[str, Any]) -> list[str]:
    """Statements that give row ``seq`` new ``details`` and recompute every later hash, so the
    chain alone is consistent again; from the tail first, so the unique prev_hash never
    collides mid-way."""
    statements = []
    prev_hash = rows[seq - 2].hash if seq > 1 else rows[0].prev_hash
    for row in rows[seq - 1 :]:
        forged = AuditEntry(
            **{
                **row.hashed_fields(),
                "id": row.id,
                "at": row.at,
                "details": details if row.seq == seq else row.details,
                "prev_hash": prev_hash,
                "hash": "",
            }
        )
        prev_hash = forged.computed_hash()
        statements.append(
            f"UPDATE audit_log SET details = '{json.dumps(forged.details)}', "
            f"prev_hash = '{forged.prev_hash}', "
            f"hash = '{prev_hash}' WHERE seq = {row.seq}"
        )
    return list(reversed(statements))


async def restore(engine: AsyncEngine, rows: Sequence[AuditEntry]) -> None:
    """Put the chain back as it was (the tests' undo of a tampering)."""
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute(audit_log.delete())
        await conn.execute(
            audit_log.insert(), [{f.name: getattr(r, f.name) for f in audit_log.c} for r in rows]
        )
        await conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER USER")


REPO_ROOT = Path(__file__).resolve().parents[1]


async def audit_verify(database_url: str, *extra: str) -> tuple[int, str]:
    """``python -m shared.audit verify --database-url URL *extra`` in a process of its own:
    exit status and what it printed (stdout and stderr together)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.audit",
        "verify",
        "--database-url",
        database_url,
        *extra,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()
