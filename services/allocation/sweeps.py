"""Periodic jobs of allocation: contracts not signed by their deadline, unconfirmed entries."""

from __future__ import annotations

import sqlalchemy as sa

from services.allocation.context import AllocationContext
from services.allocation.tables import allocations, contracts, waiting_entries
from shared import audit
from shared.clock import now
from shared.db import UnitOfWork
from shared.events.catalogue import AllocationContractOverdue, AllocationEntrySuspended


async def contract_deadlines(ctx: AllocationContext, uow: UnitOfWork) -> None:
    """Announce each unsigned contract past its signing day once (set-based, idempotent)."""
    today = now().date()
    rows = (
        await uow.conn.execute(
            sa.update(contracts)
            .where(
                contracts.c.signed_at.is_(None),
                contracts.c.overdue_at.is_(None),
                contracts.c.sign_by < today,
                contracts.c.allocation_id == allocations.c.id,
            )
            .values(overdue_at=now())
            .returning(
                contracts.c.id,
                contracts.c.allocation_id,
                contracts.c.sign_by,
                allocations.c.household_reference,
            )
        )
    ).all()
    for row in rows:
        await audit.record(
            uow.conn,
            actor="system:allocation",
            actor_roles=["service"],
            action="contract.overdue",
            subject_type="contract",
            subject_id=row.id,
            details={"sign_by": row.sign_by.isoformat()},
        )
        uow.emit(
            AllocationContractOverdue(
                contract_id=row.id,
                allocation_id=row.allocation_id,
                household_reference=row.household_reference,
                sign_by=row.sign_by,
            ),
            subject=str(row.id),
        )


async def unconfirmed_entries(ctx: AllocationContext, uow: UnitOfWork) -> None:
    """A household that did not confirm its need by the deadline stops waiting (suspended)."""
    rows = (
        await uow.conn.execute(
            sa.update(waiting_entries)
            .where(
                waiting_entries.c.status == "waiting",
                waiting_entries.c.confirm_by < now().date(),
            )
            .values(status="suspended", suspended_reason="unconfirmed", suspended_until=None)
            .returning(waiting_entries.c.id, waiting_entries.c.household_reference)
        )
    ).all()
    for row in rows:
        await audit.record(
            uow.conn,
            actor="system:allocation",
            actor_roles=["service"],
            action="waiting.suspended",
            subject_type="waiting_entry",
            subject_id=row.id,
            details={"reason": "unconfirmed"},
        )
        uow.emit(
            AllocationEntrySuspended(
                entry_id=row.id, household_reference=row.household_reference, reason="unconfirmed"
            ),
            subject=str(row.id),
        )
