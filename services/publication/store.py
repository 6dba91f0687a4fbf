"""SQL shared by the commands, queries and sweeps of the publication service: the public
progress read model's stage moves and the gathering of a new notice's entries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.publication.tables import applications, notice_entries, notices, objections


async def set_stage(
    conn: AsyncConnection,
    application_id: uuid.UUID | str | Sequence[uuid.UUID],
    stage: str | sa.ColumnElement[str],
    at: datetime,
    *,
    level: str | None = None,
    **columns: Any,
) -> int:
    """Move one application (or a list, in one statement) to ``stage`` unless a newer event
    already moved it; ``columns`` (dates, outcome) are written in any case. Returns the rows
    touched."""
    newer = applications.c.stage_at <= at
    which = (
        applications.c.application_id.in_(list(application_id))
        if isinstance(application_id, list | tuple)
        else applications.c.application_id == application_id
    )
    result = await conn.execute(
        applications.update()
        .where(which)
        .values(
            stage=sa.case((newer, stage), else_=applications.c.stage),
            level=sa.case((newer, level), else_=applications.c.level),
            stage_at=sa.func.greatest(applications.c.stage_at, at),
            updated_at=sa.func.greatest(applications.c.updated_at, at),
            **columns,
        )
    )
    return result.rowcount


async def upsert_application(
    conn: AsyncConnection, values: dict[str, Any], stage: str, at: datetime
) -> None:
    """Insert the read-model row or fill in what this event knows (masked data, dates)."""
    statement = insert(applications).values(**values, stage=stage, stage_at=at, updated_at=at)
    fill = {k: statement.excluded[k] for k in values if k != "application_id"}
    newer = applications.c.stage_at <= at
    fill["stage"] = sa.case((newer, statement.excluded.stage), else_=applications.c.stage)
    fill["stage_at"] = sa.func.greatest(applications.c.stage_at, at)
    fill["updated_at"] = sa.func.greatest(applications.c.updated_at, at)
    await conn.execute(
        statement.on_conflict_do_update(index_elements=[applications.c.application_id], set_=fill)
    )


async def gather_entries(
    conn: AsyncConnection,
    *,
    kind: str,
    unit: str,
    application_ids: list[uuid.UUID] | None,
) -> tuple[list[dict[str, Any]], list[uuid.UUID]]:
    """The entries of a new notice and the application ids that are unknown (if a list was
    given). Each entry copies the masked data from the read model."""
    cols = [
        applications.c.application_id,
        applications.c.tracking_no,
        applications.c.name_masked,
        applications.c.id_masked,
        applications.c.street,
        applications.c.category,
        applications.c.member_count,
    ]
    in_unit = sa.or_(
        applications.c.street == unit,
        applications.c.district == unit,
        applications.c.city == unit,
    )
    if kind == "objection_conclusion":
        query = (
            sa.select(
                *cols,
                objections.c.id.label("objection_id"),
                objections.c.outcome,
                objections.c.conclusion,
            )
            .join(objections, objections.c.application_id == applications.c.application_id)
            .where(objections.c.status == "concluded", objections.c.published_notice_id.is_(None))
            .order_by(objections.c.concluded_at, objections.c.id)
        )
        query = query.where(in_unit)
        if application_ids:
            query = query.where(applications.c.application_id.in_(application_ids))
        rows = (await conn.execute(query)).all()
        entries = [
            {
                **entry_of(row),
                "objection_id": row.objection_id,
                "remark": ("异议成立：" if row.outcome == "sustained" else "异议不成立：")
                + row.conclusion,
            }
            for row in rows
        ]
        return entries, []
    query = (
        sa.select(*cols).where(in_unit).order_by(applications.c.street, applications.c.tracking_no)
    )
    if kind in ("qualification", "acceptance"):
        # Only what is ready for this kind and not yet on a notice of it, whether the clerk
        # lists the applications or lets them be gathered.
        already = (
            sa.select(notice_entries.c.application_id)
            .join(notices, notices.c.id == notice_entries.c.notice_id)
            .where(notices.c.kind == kind)
        )
        ready = (
            applications.c.stage == "qualified"
            if kind == "qualification"
            else applications.c.accepted_at.is_not(None)
        )
        query = query.where(ready, applications.c.application_id.not_in(already))
    elif not application_ids:
        return [], []
    if application_ids:
        query = query.where(applications.c.application_id.in_(application_ids))
    rows = (await conn.execute(query)).all()
    found = {row.application_id for row in rows}
    unknown = [a for a in (application_ids or []) if a not in found]
    return [entry_of(row) for row in rows], unknown


def entry_of(row: Any) -> dict[str, Any]:
    return {
        "application_id": row.application_id,
        "tracking_no": row.tracking_no,
        "name_masked": row.name_masked,
        "id_masked": row.id_masked,
        "street": row.street,
        "category": row.category,
        "member_count": row.member_count,
    }


async def application_ids(conn: AsyncConnection, notice_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.scalars(
        sa.select(notice_entries.c.application_id)
        .where(notice_entries.c.notice_id == notice_id)
        .order_by(notice_entries.c.seq)
    )
    return list(dict.fromkeys(rows))
