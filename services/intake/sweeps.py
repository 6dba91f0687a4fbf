"""Periodic jobs of intake, scheduled in ``bootstrap.py``: the one clock rule, a
supplementary-materials notice past its deadline (补件逾期), and the dispatcher of the
applicant's SMS (``send_messages``).

The sweep marks every open notice whose deadline (inclusive, Asia/Shanghai) has passed as
overdue and announces it with ``application.supplement_overdue``; alerting and review take it
from there. It is idempotent: a notice leaves the ``open`` status in the same transaction that
announces it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from services.intake.adapters.notifier import Sms
from services.intake.context import IntakeContext
from services.intake.domain import Status
from services.intake.tables import applicant_messages, applications, materials, supplement_notices
from shared import audit
from shared.clock import now, today_shanghai
from shared.db import UnitOfWork
from shared.events.catalogue import ApplicationSupplementOverdue


async def overdue_notices(ctx: IntakeContext, uow: UnitOfWork) -> None:
    """Mark and announce up to ``overdue_sweep_batch`` overdue notices (the rest next tick)."""
    conn = uow.conn
    at = now()
    today = today_shanghai()
    rows = (
        await conn.execute(
            sa.select(
                supplement_notices.c.application_id,
                supplement_notices.c.n,
                supplement_notices.c.notice_no,
                supplement_notices.c["items"],
                supplement_notices.c.deadline,
                supplement_notices.c.requested_at,
                applications.c.tracking_no,
                applications.c.street,
            )
            .join(applications, applications.c.id == supplement_notices.c.application_id)
            .where(
                supplement_notices.c.status == "open",
                supplement_notices.c.deadline < today,
                applications.c.status == Status.SUPPLEMENT_REQUESTED,
            )
            .order_by(supplement_notices.c.deadline)
            .limit(ctx.settings.overdue_sweep_batch)
            .with_for_update(of=supplement_notices, skip_locked=True)
        )
    ).all()
    if not rows:
        return
    ids = [r.application_id for r in rows]
    arrived: dict[object, set[tuple[str, datetime]]] = {}
    for m in await conn.execute(
        sa.select(
            materials.c.application_id, materials.c.material_type, materials.c.uploaded_at
        ).where(materials.c.application_id.in_(ids))
    ):
        arrived.setdefault(m.application_id, set()).add((m.material_type, m.uploaded_at))
    await conn.execute(
        supplement_notices.update()
        .where(
            sa.tuple_(supplement_notices.c.application_id, supplement_notices.c.n).in_(
                [(r.application_id, r.n) for r in rows]
            )
        )
        .values(status="overdue", overdue_at=at)
    )
    entries = []
    for r in rows:
        got = {t for t, when in arrived.get(r.application_id, set()) if when >= r.requested_at}
        missing = [i["code"] for i in r.items if i["code"] not in got] or [
            i["code"] for i in r.items
        ]
        uow.emit(
            ApplicationSupplementOverdue(
                application_id=r.application_id,
                tracking_no=r.tracking_no,
                notice_no=r.notice_no,
                street=r.street,
                deadline=r.deadline,
                missing=missing,
                detected_at=at,
            ),
            subject=str(r.application_id),
            correlation_id=str(r.application_id),
        )
        entries.append(
            {
                "actor": "intake",
                "action": "supplement_notice.overdue",
                "subject_type": "application",
                "subject_id": r.application_id,
                "details": {"notice_no": r.notice_no, "deadline": r.deadline, "missing": missing},
                "correlation_id": str(r.application_id),
            }
        )
    await audit.record_many(conn, entries)


async def send_messages(ctx: IntakeContext, uow: UnitOfWork) -> int:
    """Send up to ``notify_batch`` pending applicant SMS and record each outcome (status,
    channel, attempts, provider reference, error); returns how many were tried.

    ``FOR UPDATE SKIP LOCKED`` lets replicas dispatch side by side without sending one message
    twice. The mobile is read from the application at this moment, so a corrected number is
    the one used.
    """
    m = applicant_messages.c
    rows = (
        await uow.conn.execute(
            sa.select(m.id, m.kind, m.text, applications.c.mobile)
            .join(applications, applications.c.id == m.application_id)
            .where(m.sms_status == "pending")
            .order_by(m.created_at)
            .limit(ctx.settings.notify_batch)
            .with_for_update(of=applicant_messages, skip_locked=True)
        )
    ).all()
    for row in rows:
        delivery = await ctx.notifier.send(Sms(str(row.id), row.mobile, row.kind, row.text))
        await uow.conn.execute(
            applicant_messages.update()
            .where(m.id == row.id)
            .values(
                sms_status="sent" if delivery.ok else "failed",
                channel=delivery.channel,
                attempts=m.attempts + delivery.attempts,
                delivered_at=now() if delivery.ok else None,
                provider_ref=delivery.provider_ref,
                error=delivery.error,
            )
        )
    return len(rows)
