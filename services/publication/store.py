"""SQL shared by the commands, queries and sweeps of the publication service: the public
progress read model's stage moves and the gathering of a new notice's entries."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.publication.tables import applications, notice_entries, notices, objections

# The read model's two writes run for almost every event publication consumes. Their
# statements are built once per shape (which columns an event fills in) and then only executed
# with new parameters: building the ``CASE`` expressions and the upsert on every call cost more
# Python time than the database spent on them.

QUALIFIED_STAGE = sa.case(
    (applications.c.stage.in_(("publicity", "publicity_closed")), "confirmed"),
    else_="qualified",
)
"""Review's qualification: the final ``confirmed`` after the family's notice, ``qualified``
(ready for a qualification notice) before any."""


def _param(column: str) -> sa.BindParameter[Any]:
    # Not the column's own name: that one is reserved for the VALUES and SET clauses.
    return sa.bindparam(f"p_{column}", type_=applications.c[column].type)


@functools.cache
def _stage_update(
    many: bool, stage: sa.ColumnElement[str] | None, columns: tuple[str, ...]
) -> sa.Update:
    at = _param("stage_at")
    newer = applications.c.stage_at <= at
    which = (
        applications.c.application_id
        == sa.any_(sa.bindparam("p_ids", type_=pg.ARRAY(applications.c.application_id.type)))
        if many
        else applications.c.application_id == _param("application_id")
    )
    return (
        applications.update()
        .where(which)
        .values(
            stage=sa.case(
                (newer, _param("stage") if stage is None else stage), else_=applications.c.stage
            ),
            level=sa.case((newer, _param("level")), else_=applications.c.level),
            stage_at=sa.func.greatest(applications.c.stage_at, at),
            updated_at=sa.func.greatest(applications.c.updated_at, at),
            **{c: _param(c) for c in columns},
        )
    )


async def set_stage(
    conn: AsyncConnection,
    application_id: uuid.UUID | str | Sequence[uuid.UUID],
    stage: str | sa.ColumnElement[str],
    at: datetime,
    *,
    level: str | None = None,
    **columns: Any,
) -> int:
    """Move one application (or a list, in one statement) to ``stage`` (a stage name or
    :data:`QUALIFIED_STAGE`) unless a newer event already moved it; ``columns`` (dates,
    outcome) are written in any case. Returns the rows touched."""
    many = isinstance(application_id, list | tuple)
    statement = _stage_update(
        many, None if isinstance(stage, str) else stage, tuple(sorted(columns))
    )
    params = {"p_stage_at": at, "p_level": level, **{f"p_{k}": v for k, v in columns.items()}}
    if many:
        params["p_ids"] = list(application_id)
    else:
        params["p_application_id"] = application_id
    if isinstance(stage, str):
        params["p_stage"] = stage
    result = await conn.execute(statement, params)
    return result.rowcount


@functools.cache
def _upsert(columns: tuple[str, ...]) -> sa.Insert:
    at = _param("stage_at")
    statement = insert(applications).values(
        **{c: _param(c) for c in columns}, stage=_param("stage"), stage_at=at, updated_at=at
    )
    fill: dict[str, Any] = {k: statement.excluded[k] for k in columns if k != "application_id"}
    newer = applications.c.stage_at <= at
    fill["stage"] = sa.case((newer, statement.excluded.stage), else_=applications.c.stage)
    fill["stage_at"] = sa.func.greatest(applications.c.stage_at, at)
    fill["updated_at"] = sa.func.greatest(applications.c.updated_at, at)
    return statement.on_conflict_do_update(
        index_elements=[applications.c.application_id], set_=fill
    )


async def upsert_application(
    conn: AsyncConnection, values: dict[str, Any], stage: str, at: datetime
) -> None:
    """Insert the read-model row or fill in what this event knows (masked data, dates)."""
    params = {f"p_{k}": v for k, v in values.items()}
    await conn.execute(
        _upsert(tuple(sorted(values))), {**params, "p_stage": stage, "p_stage_at": at}
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
