"""SQL shared by the credit commands and queries: loading records, candidates and bans."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from services.credit import domain
from services.credit.domain import Stage
from services.credit.tables import bans, candidates, notice_steps, records
from shared.clock import today_shanghai
from shared.db import UnitOfWork
from shared.problems import Conflict, NotFound


async def load_record(uow: UnitOfWork, record_id: uuid.UUID, *, lock: bool = False) -> Row[Any]:
    query = sa.select(records).where(records.c.id == record_id)
    if lock:
        query = query.with_for_update()
    row = (await uow.conn.execute(query)).first()
    if row is None:
        raise NotFound("未找到该失信记录", field="record_id")
    return row


async def record_steps(uow: UnitOfWork, record_id: uuid.UUID) -> list[Row[Any]]:
    return list(
        (
            await uow.conn.execute(
                sa.select(notice_steps)
                .where(notice_steps.c.record_id == record_id)
                .order_by(notice_steps.c.id)
            )
        ).all()
    )


async def record_ban(uow: UnitOfWork, record_id: uuid.UUID) -> Row[Any] | None:
    return (await uow.conn.execute(sa.select(bans).where(bans.c.record_id == record_id))).first()


async def log_step(
    uow: UnitOfWork,
    row: Row[Any],
    current: Stage,
    target: Stage,
    taken_by: str,
    at: Any,
    *,
    document_no: str | None = None,
    note: str | None = None,
    correction_deadline: date | None = None,
) -> None:
    await uow.conn.execute(
        notice_steps.insert().values(
            record_id=row.id,
            from_stage=current.value,
            stage=target.value,
            taken_by=taken_by,
            taken_at=at,
            document_no=document_no,
            note=note,
            correction_deadline=correction_deadline,
        )
    )


async def active_ban(uow: UnitOfWork, record_id: uuid.UUID) -> Row[Any]:
    """The record's ban, locked, when it is still in force; else 409."""
    ban = (
        await uow.conn.execute(
            sa.select(bans).where(bans.c.record_id == record_id).with_for_update()
        )
    ).first()
    if ban is None:
        raise Conflict("该记录尚未记入诚信档案，没有禁入可解除", field="record_id")
    if ban.status != "active" or not domain.ban_in_force(ban.ends_on, False, today_shanghai()):
        raise Conflict("该禁入已解除或已到期", field="record_id")
    return ban


async def open_candidate(uow: UnitOfWork, candidate_id: uuid.UUID) -> Row[Any]:
    """The candidate, locked, when it still awaits a decision; else 404 or 409."""
    row = (
        await uow.conn.execute(
            sa.select(candidates).where(candidates.c.id == candidate_id).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("未找到该失信线索", field="candidate_id")
    if row.status != "open":
        raise Conflict(f"该线索已处理（{row.status}）", field="candidate_id")
    return row


def display(row: Row[Any]) -> str | None:
    """How a record's subject is named in public texts: organisation name or masked name."""
    return row.org_name if row.category in ("employer", "agency") else row.subject_name_masked
