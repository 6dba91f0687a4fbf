"""SQL of the intake service (SQLAlchemy Core): the statements commands, queries and sweeps share.

Each function runs on the caller's connection, inside the caller's unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.domain import ACTIVE_STATUSES
from services.intake.tables import (
    applications,
    credit_bans,
    materials,
    members,
    portal_drafts,
    supplement_notices,
)

# Class id of intake's two-key advisory locks on people (the two-int4 key space does not
# overlap the bigint one that idempotency, scheduler and audit locks use).
PERSON_LOCK_CLASS = 3_502_001


async def lock_people(conn: AsyncConnection, id_hashes: Sequence[str]) -> None:
    """Serialise submissions naming the same person until this transaction ends.

    One statement for the whole household; the locks are taken in a fixed order (sorted keys,
    ``OFFSET 0`` keeps the planner from reordering) so that two households sharing two members
    cannot deadlock.
    """
    await conn.execute(
        sa.text(
            "SELECT count(pg_advisory_xact_lock(:cls, k)) FROM ("
            " SELECT DISTINCT hashtext(h) AS k FROM unnest(CAST(:hashes AS text[])) AS h"
            " ORDER BY k OFFSET 0) AS keys"
        ),
        {"cls": PERSON_LOCK_CLASS, "hashes": list(id_hashes)},
    )


async def active_memberships(conn: AsyncConnection, id_hashes: Sequence[str]) -> set[str]:
    """Which of these people are already on a live application."""
    rows = await conn.execute(
        sa.select(members.c.id_hash).where(
            members.c.id_hash.in_(list(id_hashes)), members.c.active.is_(True)
        )
    )
    return {row.id_hash for row in rows}


async def bans_of(conn: AsyncConnection, id_hashes: Sequence[str]) -> list[sa.Row[Any]]:
    """Every projected ban of these people (a household has a handful at most)."""
    rows = await conn.execute(
        sa.select(
            credit_bans.c.id_hash,
            credit_bans.c.starts_on,
            credit_bans.c.ends_on,
            credit_bans.c.lifted_on,
        ).where(credit_bans.c.id_hash.in_(list(id_hashes)))
    )
    return list(rows)


async def next_value(conn: AsyncConnection, sequence: sa.Sequence) -> int:
    return int(await conn.scalar(sa.select(sequence.next_value())))


async def load_application(
    conn: AsyncConnection, application_id: uuid.UUID, *, for_update: bool = False
) -> sa.Row[Any] | None:
    query = sa.select(applications).where(applications.c.id == application_id)
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def load_members(conn: AsyncConnection, application_id: uuid.UUID) -> list[sa.Row[Any]]:
    rows = await conn.execute(
        sa.select(members)
        .where(members.c.application_id == application_id)
        .order_by(members.c.position)
    )
    return list(rows)


async def load_materials(conn: AsyncConnection, application_id: uuid.UUID) -> list[sa.Row[Any]]:
    rows = await conn.execute(
        sa.select(materials)
        .where(materials.c.application_id == application_id)
        .order_by(materials.c.uploaded_at, materials.c.material_type)
    )
    return list(rows)


async def load_material(
    conn: AsyncConnection, application_id: uuid.UUID, material_id: uuid.UUID
) -> sa.Row[Any] | None:
    return (
        await conn.execute(
            sa.select(materials).where(
                materials.c.id == material_id, materials.c.application_id == application_id
            )
        )
    ).first()


async def load_notices(conn: AsyncConnection, application_id: uuid.UUID) -> list[sa.Row[Any]]:
    rows = await conn.execute(
        sa.select(supplement_notices)
        .where(supplement_notices.c.application_id == application_id)
        .order_by(supplement_notices.c.n)
    )
    return list(rows)


async def material_by_digest(
    conn: AsyncConnection, application_id: uuid.UUID, material_type: str, sha256: str
) -> sa.Row[Any] | None:
    """The stored material with this content (its metadata; the file is a large object)."""
    return (
        await conn.execute(
            sa.select(materials).where(
                materials.c.application_id == application_id,
                materials.c.material_type == material_type,
                materials.c.sha256 == sha256,
            )
        )
    ).first()


async def last_notice_n(conn: AsyncConnection, application_id: uuid.UUID) -> int:
    """The number of the application's latest supplement notice; 0 before the first."""
    return int(
        await conn.scalar(
            sa.select(sa.func.coalesce(sa.func.max(supplement_notices.c.n), 0)).where(
                supplement_notices.c.application_id == application_id
            )
        )
    )


async def load_notice(
    conn: AsyncConnection, application_id: uuid.UUID, n: int
) -> sa.Row[Any] | None:
    return (
        await conn.execute(
            sa.select(supplement_notices).where(
                supplement_notices.c.application_id == application_id,
                supplement_notices.c.n == n,
            )
        )
    ).first()


async def latest_notice(
    conn: AsyncConnection, application_id: uuid.UUID, statuses: Sequence[str]
) -> sa.Row[Any] | None:
    return (
        await conn.execute(
            sa.select(supplement_notices)
            .where(
                supplement_notices.c.application_id == application_id,
                supplement_notices.c.status.in_(list(statuses)),
            )
            .order_by(supplement_notices.c.n.desc())
            .limit(1)
        )
    ).first()


async def material_types_since(
    conn: AsyncConnection, application_id: uuid.UUID, since: datetime
) -> set[str]:
    rows = await conn.execute(
        sa.select(materials.c.material_type)
        .where(materials.c.application_id == application_id, materials.c.uploaded_at >= since)
        .distinct()
    )
    return {row.material_type for row in rows}


async def close_application(
    conn: AsyncConnection,
    application_id: uuid.UUID,
    *,
    status: str,
    by: str,
    at: datetime,
    reason: str,
) -> None:
    """End a live application: its members become free to apply again, open notices close."""
    await conn.execute(
        applications.update()
        .where(applications.c.id == application_id)
        .values(
            status=status,
            resume_status=None,
            closed_by=by,
            closed_at=at,
            closed_reason=reason,
            updated_at=at,
        )
    )
    await conn.execute(
        members.update()
        .where(members.c.application_id == application_id, members.c.active.is_(True))
        .values(active=False)
    )
    await conn.execute(
        supplement_notices.update()
        .where(
            supplement_notices.c.application_id == application_id,
            supplement_notices.c.status.in_(["open", "overdue"]),
        )
        .values(status="superseded")
    )


async def upsert_ban(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Project a ban or its lift; a lift that came first keeps its ``lifted_on``."""
    statement = insert(credit_bans).values(**values)
    update = {k: statement.excluded[k] for k in values if k != "record_id"}
    await conn.execute(
        statement.on_conflict_do_update(index_elements=[credit_bans.c.record_id], set_=update)
    )


async def load_draft(conn: AsyncConnection, account: str) -> sa.Row[Any] | None:
    return (
        await conn.execute(sa.select(portal_drafts).where(portal_drafts.c.account == account))
    ).first()


async def save_draft(conn: AsyncConnection, account: str, payload: str, at: datetime) -> Any:
    """Insert or replace the account's draft; answers the row as stored."""
    statement = insert(portal_drafts).values(
        account=account, payload=payload, created_at=at, updated_at=at
    )
    return (
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[portal_drafts.c.account],
                set_={"payload": statement.excluded.payload, "updated_at": at},
            ).returning(portal_drafts.c.created_at, portal_drafts.c.updated_at)
        )
    ).one()


async def delete_draft(conn: AsyncConnection, account: str) -> bool:
    result = await conn.execute(portal_drafts.delete().where(portal_drafts.c.account == account))
    return bool(result.rowcount)


async def purge_drafts(conn: AsyncConnection, before: datetime) -> None:
    """Drafts nobody saved since ``before``: personal data kept no longer than it serves."""
    await conn.execute(portal_drafts.delete().where(portal_drafts.c.updated_at < before))


def live_statuses() -> list[str]:
    return [str(s) for s in ACTIVE_STATUSES]
