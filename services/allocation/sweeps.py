"""Periodic jobs of allocation: contracts not signed by their deadline."""

from __future__ import annotations

import sqlalchemy as sa

from services.allocation.context import AllocationContext
from services.allocation.tables import allocations, contracts
from shared import audit
from shared.clock import now
from shared.db import UnitOfWork
from shared.events.catalogue import AllocationContractOverdue


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
