"""Periodic jobs of the credit service: bans that have run their course, pushes that are due.

Both are set-based and idempotent: a tick that finds nothing to do changes nothing, and the
scheduler's advisory lock keeps two replicas from running the same tick.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, time, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert

from services.credit import domain
from services.credit.context import CreditContext
from services.credit.tables import bans, credit_shares, notice_steps, pboc_exports, records
from shared.audit import record, record_many
from shared.clock import SHANGHAI, now, today_shanghai
from shared.db import UnitOfWork
from shared.events.catalogue import CreditBanLifted

log = structlog.get_logger(__name__)

SYSTEM_ACTOR = "system:credit"
# Share rows pushed per tick.
BATCH = 20


async def expire_bans(ctx: CreditContext, uow: UnitOfWork) -> None:
    """Lift every ban whose end date has come (惩戒期届满自动解除).

    One UPDATE for all of them; re-running it finds nothing left to lift, so it is idempotent.
    """
    today = today_shanghai()
    lifted = (
        await uow.conn.execute(
            bans.update()
            .where(bans.c.status == "active", bans.c.ends_on <= today)
            .values(status="lifted", lifted_on=bans.c.ends_on, early=False, lifted_at=now())
            .returning(bans.c.record_id, bans.c.id_hash, bans.c.ends_on)
        )
    ).all()
    for ban in lifted:
        uow.emit(
            CreditBanLifted(
                record_id=ban.record_id, id_hash=ban.id_hash, lifted_on=ban.ends_on, early=False
            ),
            subject=str(ban.record_id),
        )
    await record_many(
        uow.conn,
        [
            {
                "actor": SYSTEM_ACTOR,
                "action": "credit.ban.expired",
                "subject_type": "credit_record",
                "subject_id": ban.record_id,
                "details": {"ends_on": ban.ends_on},
            }
            for ban in lifted
        ],
    )


async def push_shares(ctx: CreditContext, uow: UnitOfWork) -> None:
    """Push filed records to the city credit system, one attempt per due row per tick.

    The share row is written in the same transaction that files the record, so a record is
    never filed without being queued, and the city system being down never blocks the officer.
    Between attempts the row backs off; after ``max_attempts`` it is marked ``failed`` for an
    operator (it stays visible in the table).
    """
    city = ctx.city_credit
    if not city.configured:
        return  # not configured: rows wait, visible as pending
    due = (
        await uow.conn.execute(
            sa.select(credit_shares.c.id, credit_shares.c.payload, credit_shares.c.attempts)
            .where(credit_shares.c.status == "pending", credit_shares.c.next_attempt_at <= now())
            .order_by(credit_shares.c.next_attempt_at)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not due:
        return
    async with city.client() as client:
        for row in due:
            error = await city.push(client, row.id, row.payload)
            attempts = row.attempts + 1
            if error is None:
                values = {
                    "status": "sent",
                    "attempts": attempts,
                    "sent_at": now(),
                    "last_error": None,
                }
            else:
                log.warning(
                    "city_credit_push_failed", share_id=str(row.id), attempts=attempts, error=error
                )
                values = {
                    "status": "failed" if attempts >= city.max_attempts else "pending",
                    "attempts": attempts,
                    "last_error": error,
                    "next_attempt_at": now() + city.backoff(attempts),
                }
            await uow.conn.execute(
                credit_shares.update().where(credit_shares.c.id == row.id).values(**values)
            )


# A period is exported this long after it ended, so that a transaction that took its time
# before midnight has committed by then.
EXPORT_GRACE = timedelta(minutes=5)


def _subject(row: Any) -> dict[str, Any]:
    # The registry holds no resident ID in clear (tables.py): a person travels as the keyed
    # hash, with the masked ID and name for a clerk to read; an organisation by its public
    # name and unified social credit code.
    if row.category in ("employer", "agency"):
        return {"org_name": row.org_name, "org_credit_code": row.org_credit_code}
    return {
        "id_hash": row.id_hash,
        "id_masked": row.subject_id_masked,
        "name_masked": row.subject_name_masked,
    }


async def export_pboc(ctx: CreditContext, uow: UnitOfWork) -> None:
    """Write the file of the last complete period for the central bank branch (人行征信): the
    records filed and the bans imposed or lifted since the previous file. A period already
    exported is left alone (unique period), so the sweep is idempotent however often it runs."""
    at = now()
    day = (at - EXPORT_GRACE).astimezone(SHANGHAI).date()
    start, end = domain.export_period(day, ctx.config.pboc_export.period)
    done = await uow.conn.scalar(
        sa.select(pboc_exports.c.id).where(pboc_exports.c.period_start == start)
    )
    if done is not None:
        return
    covers_from = await uow.conn.scalar(sa.select(sa.func.max(pboc_exports.c.covers_to)))
    covers_to = datetime.combine(end, time(0), SHANGHAI)

    def window(column: sa.ColumnElement[Any]) -> list[sa.ColumnElement[bool]]:
        where = [column < covers_to]
        if covers_from is not None:
            where.append(column >= covers_from)
        return where

    filed = (
        await uow.conn.execute(
            sa.select(records, notice_steps.c.taken_at.label("filed_at"), bans.c.ends_on)
            .select_from(
                records.join(notice_steps, notice_steps.c.record_id == records.c.id).join(
                    bans, bans.c.record_id == records.c.id
                )
            )
            .where(notice_steps.c.stage == "recorded", *window(notice_steps.c.taken_at))
            .order_by(notice_steps.c.taken_at, records.c.id)
        )
    ).all()
    lifted = (
        await uow.conn.execute(
            sa.select(bans, records.c.record_no)
            .select_from(bans.join(records, records.c.id == bans.c.record_id))
            .where(bans.c.status == "lifted", *window(bans.c.lifted_at))
            .order_by(bans.c.lifted_at, bans.c.record_id)
        )
    ).all()
    record_items = [
        {
            "record_id": str(r.id),
            "record_no": r.record_no,
            "subject_kind": domain.event_subject_kind(r.category),
            "category": r.category,
            "kind": r.kind,
            "kind_title": ctx.kind_of(r.kind, r.category).title,
            "behaviour": ctx.kind_of(r.kind, r.category).behaviour,
            "severity": r.severity,
            "filed_on": r.filed_on.isoformat(),
            "subject": _subject(r),
        }
        for r in filed
    ]
    ban_items = [
        {
            "change": "imposed",
            "record_no": r.record_no,
            "id_hash": r.id_hash,
            "severity": r.severity,
            "starts_on": r.filed_on.isoformat(),
            "ends_on": r.ends_on.isoformat(),
        }
        for r in filed
    ] + [
        {
            "change": "lifted",
            "record_no": b.record_no,
            "id_hash": b.id_hash,
            "severity": b.severity,
            "starts_on": b.starts_on.isoformat(),
            "ends_on": b.ends_on.isoformat(),
            "lifted_on": b.lifted_on.isoformat(),
            "early": bool(b.early),
        }
        for b in lifted
    ]
    content = {
        "format": domain.PBOC_FORMAT,
        "city": ctx.city.city.code,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        # Instants in China time (+08:00), as the receiving branch reads them.
        "covers_from": covers_from.astimezone(SHANGHAI).isoformat() if covers_from else None,
        "covers_to": covers_to.isoformat(),
        "generated_at": at.astimezone(SHANGHAI).isoformat(),
        "records": record_items,
        "bans": ban_items,
    }
    digest = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
    export_id = uuid.uuid4()
    inserted = await uow.conn.scalar(
        insert(pboc_exports)
        .values(
            id=export_id,
            period_start=start,
            period_end=end,
            covers_from=covers_from,
            covers_to=covers_to,
            record_count=len(record_items),
            ban_count=len(ban_items),
            content=content,
            sha256=digest,
            created_at=at,
        )
        .on_conflict_do_nothing(constraint="pboc_exports_period")
        .returning(pboc_exports.c.id)
    )
    if inserted is None:
        return
    await record(
        uow.conn,
        actor=SYSTEM_ACTOR,
        action="credit.pboc_export.created",
        subject_type="pboc_export",
        subject_id=export_id,
        details={
            "period_start": start,
            "records": len(record_items),
            "bans": len(ban_items),
            "sha256": digest,
        },
    )
    log.info("pboc_export_created", period_start=str(start), records=len(record_items))
