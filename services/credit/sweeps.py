"""Periodic jobs of the credit service: bans that have run their course, pushes that are due.

Both are set-based and idempotent: a tick that finds nothing to do changes nothing, and the
scheduler's advisory lock keeps two replicas from running the same tick.
"""

from __future__ import annotations

import sqlalchemy as sa
import structlog

from services.credit.context import CreditContext
from services.credit.tables import bans, credit_shares
from shared.audit import record_many
from shared.clock import now, today_shanghai
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
