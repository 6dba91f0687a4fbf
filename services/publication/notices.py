"""Notices (公示 / 公告): creation with their entries, opening, closing, and the sweep that does
both on time.

Where qualification entries come from: review publishes ``application.qualified`` when the city
confirmed a family's qualification; the read model marks the application ``qualified``. A clerk
then creates a qualification notice for a unit and batch (``POST /notices``); without an
explicit list it gathers every qualified application of that unit not yet on a qualification
notice. Acceptance and objection-conclusion notices gather the same way (accepted applications;
concluded objections not yet published); lottery shortlists, allocation results and exits list
the applications the clerk names (their sources, the allocation service, do not exist yet).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.publication import domain
from services.publication.config import PublicationConfig
from services.publication.handlers import set_stage
from services.publication.pushlog import record_pushes
from services.publication.tables import applications, notice_entries, notices, objections
from shared.clock import SHANGHAI, now
from shared.db import UnitOfWork
from shared.events.catalogue import PublicityClosed, PublicityOpened
from shared.scheduler import Sweep


def notice_no(kind: str, at: datetime) -> str:
    prefix = {"qualification": "GS", "lottery_shortlist": "YH", "allocation": "FP"}.get(kind, "GG")
    return f"{prefix}{at.astimezone(SHANGHAI):%Y%m%d}-{secrets.token_hex(3).upper()}"


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
                **_entry(row),
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
    return [_entry(row) for row in rows], unknown


def _entry(row: Any) -> dict[str, Any]:
    return {
        "application_id": row.application_id,
        "tracking_no": row.tracking_no,
        "name_masked": row.name_masked,
        "id_masked": row.id_masked,
        "street": row.street,
        "category": row.category,
        "member_count": row.member_count,
    }


async def insert_notice(
    uow: UnitOfWork,
    config: PublicationConfig,
    *,
    kind: str,
    city: str,
    unit: str,
    batch: str | None,
    opens_at: datetime,
    days: int,
    entries: list[dict[str, Any]],
    created_by: str,
) -> dict[str, Any]:
    at = now()
    notice_id = uuid.uuid4()
    status = domain.initial_status(opens_at, at)
    row = {
        "id": notice_id,
        "notice_no": notice_no(kind, at),
        "kind": kind,
        "title": domain.KIND_TITLES[kind] + (f"（{batch}）" if batch else ""),
        "city": city,
        "unit": unit,
        "batch": batch,
        "status": "scheduled",
        "opens_at": opens_at,
        "closes_at": opens_at + timedelta(days=days),
        "planned_days": days,
        "entry_count": len(entries),
        "created_by": created_by,
        "created_at": at,
    }
    await uow.conn.execute(notices.insert().values(**row))
    await uow.conn.execute(
        notice_entries.insert(),
        [
            {
                "id": uuid.uuid4(),
                "notice_id": notice_id,
                "seq": i,
                "objection_id": None,
                "remark": None,
                **entry,
            }
            for i, entry in enumerate(entries, start=1)
        ],
    )
    if kind == "objection_conclusion":
        await uow.conn.execute(
            objections.update()
            .where(objections.c.id.in_([e["objection_id"] for e in entries]))
            .values(published_notice_id=notice_id)
        )
    if status == "open":
        await open_notice(uow, config, row, at)
        row["status"] = "open"
        row["opened_at"] = at
    return row


async def _application_ids(conn: AsyncConnection, notice_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.scalars(
        sa.select(notice_entries.c.application_id)
        .where(notice_entries.c.notice_id == notice_id)
        .order_by(notice_entries.c.seq)
    )
    return list(dict.fromkeys(rows))


async def open_notice(
    uow: UnitOfWork, config: PublicationConfig, notice: Any, at: datetime
) -> None:
    n = notice if isinstance(notice, dict) else notice._mapping
    ids = await _application_ids(uow.conn, n["id"])
    # Opened later than planned (the sweep's tick): the public still gets the full period.
    closes_at = max(n["closes_at"], at + timedelta(days=n["planned_days"]))
    await uow.conn.execute(
        notices.update()
        .where(notices.c.id == n["id"])
        .values(status="open", opened_at=at, closes_at=closes_at)
    )
    event = PublicityOpened(
        notice_id=n["id"],
        kind=n["kind"],
        city=n["city"],
        unit=n["unit"],
        batch=n["batch"],
        application_ids=ids,
        opened_at=at,
        closes_at=closes_at,
        planned_days=n["planned_days"],
    )
    envelope = uow.emit(event, subject=str(n["id"]))
    if n["kind"] == "qualification":
        await set_stage(uow.conn, ids, "publicity", at)
    await _push(uow, config, envelope, ids)


async def close_notice(
    uow: UnitOfWork,
    config: PublicationConfig,
    notice: Any,
    at: datetime,
    *,
    early: bool = False,
    override_by: str | None = None,
    reason: str | None = None,
) -> None:
    n = notice if isinstance(notice, dict) else notice._mapping
    ids = await _application_ids(uow.conn, n["id"])
    opened_at = n["opened_at"] or at
    await uow.conn.execute(
        notices.update()
        .where(notices.c.id == n["id"])
        .values(
            status="closed",
            closed_at=at,
            opened_at=opened_at,
            closed_early=early,
            override_by=override_by,
            override_reason=reason,
        )
    )
    event = PublicityClosed(
        notice_id=n["id"],
        kind=n["kind"],
        application_ids=ids,
        opened_at=opened_at,
        closed_at=at,
        closed_early=early,
        override_by=override_by,
        reason=reason,
    )
    envelope = uow.emit(event, subject=str(n["id"]))
    if n["kind"] == "qualification":
        await set_stage(uow.conn, ids, "publicity_closed", at)
    await _push(uow, config, envelope, ids)


async def _push(
    uow: UnitOfWork, config: PublicationConfig, envelope: Any, ids: list[uuid.UUID]
) -> None:
    # One push per listed application, so each application's stream at the province shows
    # its publicity in order with the rest of its history.
    await record_pushes(
        uow.conn,
        config.province_endpoints,
        event_id=envelope.id,
        event_type=envelope.type,
        occurred_at=envelope.occurred_at,
        items=[{**envelope.data, "application_id": str(a)} for a in ids],
    )


def make_notice_sweep(config: PublicationConfig) -> Sweep:
    """Open scheduled notices whose time came and close open ones whose period ended."""

    async def sweep(uow: UnitOfWork) -> None:
        at = now()
        due_open = (
            await uow.conn.execute(
                sa.select(notices)
                .where(notices.c.status == "scheduled", notices.c.opens_at <= at)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for notice in due_open:
            await open_notice(uow, config, notice, at)
        due_close = (
            await uow.conn.execute(
                sa.select(notices)
                .where(notices.c.status == "open", notices.c.closes_at <= at)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for notice in due_close:
            # Closed when it actually left the list (this tick), never before its planned end.
            await close_notice(uow, config, notice, at)

    return sweep
