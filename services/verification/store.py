"""SQL of verification's admission parameters (准入参数): versions, proposals and four-eyes
approval (the case SQL, set-based, sits with its use cases in ``commands.py``).

Version 1 of every category comes from the city configuration, inserted when the service
starts (idempotently; later starts with an edited city file change nothing: once running,
parameters change only here). A change is a proposal; it takes effect only when a different
person with an approving role approves it, and then only from its ``effective_from`` date.
The check on an application uses the version in force on its acceptance date. Approved rows
are immutable (a trigger refuses UPDATE and DELETE), so the history is kept forever.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.verification.tables import SEED_ACTOR, admission_parameter_sets
from shared.city import AdmissionParameters, CityConfig
from shared.clock import now

# Before any real acceptance date: version 1 applies to everything not covered by a later one.
SEED_EFFECTIVE_FROM = date(2000, 1, 1)


@dataclass(frozen=True)
class ParameterSet:
    id: uuid.UUID
    city: str
    category: str
    version: int | None
    parameters: AdmissionParameters
    effective_from: date
    status: str
    reason: str | None
    proposed_by: str
    proposed_at: datetime
    decided_by: str | None
    decided_at: datetime | None


def _row(row: sa.Row) -> ParameterSet:
    return ParameterSet(
        id=row.id,
        city=row.city,
        category=row.category,
        version=row.version,
        parameters=AdmissionParameters.model_validate(row.parameters),
        effective_from=row.effective_from,
        status=row.status,
        reason=row.reason,
        proposed_by=row.proposed_by,
        proposed_at=row.proposed_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


async def seed_from_city(conn: AsyncConnection, city: CityConfig) -> int:
    """Insert version 1 of each category from the city file; returns how many were new."""
    stamp = now()
    rows = [
        {
            "id": uuid.uuid5(uuid.NAMESPACE_URL, f"admission:{city.city.code}:{c.code}:1"),
            "city": city.city.code,
            "category": c.code,
            "version": 1,
            "parameters": c.admission.model_dump(mode="json"),
            "effective_from": SEED_EFFECTIVE_FROM,
            "status": "approved",
            "reason": "城市配置文件初始准入参数",
            "proposed_by": SEED_ACTOR,
            "proposed_at": stamp,
            "decided_by": SEED_ACTOR,
            "decided_at": stamp,
        }
        for c in city.categories
    ]
    result = await conn.execute(
        insert(admission_parameter_sets)
        .values(rows)
        .on_conflict_do_nothing(constraint="admission_parameters_version")
        .returning(admission_parameter_sets.c.id)
    )
    return len(result.all())


async def in_force(
    conn: AsyncConnection, city: str, category: str, on: date
) -> ParameterSet | None:
    """The approved version in force on ``on``: the latest effective date not after it, and of
    several on the same date the highest version."""
    t = admission_parameter_sets
    row = (
        await conn.execute(
            sa.select(t)
            .where(
                t.c.city == city,
                t.c.category == category,
                t.c.status == "approved",
                t.c.effective_from <= on,
            )
            .order_by(t.c.effective_from.desc(), t.c.version.desc())
            .limit(1)
        )
    ).first()
    return _row(row) if row is not None else None


async def get(
    conn: AsyncConnection, set_id: uuid.UUID, *, lock: bool = False
) -> ParameterSet | None:
    stmt = sa.select(admission_parameter_sets).where(admission_parameter_sets.c.id == set_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).first()
    return _row(row) if row is not None else None


async def listing(
    conn: AsyncConnection,
    *,
    city: str,
    category: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[ParameterSet], int]:
    t = admission_parameter_sets
    where = [t.c.city == city]
    if category is not None:
        where.append(t.c.category == category)
    if status is not None:
        where.append(t.c.status == status)
    total = await conn.scalar(sa.select(sa.func.count()).select_from(t).where(*where))
    rows = (
        await conn.execute(
            sa.select(t)
            .where(*where)
            .order_by(t.c.category, t.c.proposed_at.desc(), t.c.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [_row(r) for r in rows], int(total or 0)


async def propose(
    conn: AsyncConnection,
    *,
    city: str,
    category: str,
    parameters: AdmissionParameters,
    effective_from: date,
    reason: str,
    proposed_by: str,
) -> ParameterSet:
    row = (
        await conn.execute(
            admission_parameter_sets.insert()
            .values(
                id=uuid.uuid4(),
                city=city,
                category=category,
                version=None,
                parameters=parameters.model_dump(mode="json"),
                effective_from=effective_from,
                status="proposed",
                reason=reason,
                proposed_by=proposed_by,
                proposed_at=now(),
            )
            .returning(admission_parameter_sets)
        )
    ).one()
    return _row(row)


async def approve(
    conn: AsyncConnection, proposal: ParameterSet, *, approved_by: str
) -> ParameterSet:
    """Give the proposal the next version of its category. The caller has checked four-eyes;
    the table's check constraint refuses a self-approval anyway."""
    t = admission_parameter_sets
    # Serialise version numbering per category (two approvals at once must not both take N+1).
    await conn.execute(
        sa.select(
            sa.func.pg_advisory_xact_lock(
                sa.func.hashtextextended(f"admission:{proposal.city}:{proposal.category}", 0)
            )
        )
    )
    latest = await conn.scalar(
        sa.select(sa.func.max(t.c.version)).where(
            t.c.city == proposal.city, t.c.category == proposal.category
        )
    )
    row = (
        await conn.execute(
            t.update()
            .where(t.c.id == proposal.id, t.c.status == "proposed")
            .values(
                status="approved",
                version=int(latest or 0) + 1,
                decided_by=approved_by,
                decided_at=now(),
            )
            .returning(t)
        )
    ).one()
    return _row(row)


async def reject(
    conn: AsyncConnection, proposal: ParameterSet, *, rejected_by: str
) -> ParameterSet:
    t = admission_parameter_sets
    row = (
        await conn.execute(
            t.update()
            .where(t.c.id == proposal.id, t.c.status == "proposed")
            .values(status="rejected", decided_by=rejected_by, decided_at=now())
            .returning(t)
        )
    ).one()
    return _row(row)
