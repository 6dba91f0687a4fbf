"""Periodic jobs of allocation: contracts not signed by their deadline, unconfirmed entries,
households that let their selection deadline pass (no-shows)."""

from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy as sa

from services.allocation import commands, store
from services.allocation.context import AllocationContext
from services.allocation.tables import allocations, contracts, round_pool, rounds, waiting_entries
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


async def selection_deadlines(ctx: AllocationContext, uow: UnitOfWork) -> None:
    """A household of a drawn round still without an outcome after its slot's deadline did
    not show: counted against the decline limit like an officer's no-show (suspended at the
    limit). Rows are locked and skipped by a concurrent sweep; the outcome makes it once."""
    due = (
        await uow.conn.execute(
            sa.select(
                round_pool.c.round_id,
                round_pool.c.household_reference,
                round_pool.c.entry_id,
                waiting_entries.c.declines,
            )
            .join(waiting_entries, waiting_entries.c.id == round_pool.c.entry_id)
            .join(rounds, rounds.c.id == round_pool.c.round_id)
            .where(
                rounds.c.status == "drawn",
                round_pool.c.outcome.is_(None),
                round_pool.c.rank.is_not(None),
                store.slot_deadline_sql() < now(),
                waiting_entries.c.status == "waiting",
            )
            .order_by(
                round_pool.c.round_id,
                sa.func.coalesce(round_pool.c.selection_order, round_pool.c.rank),
            )
            .limit(500)
            .with_for_update(of=round_pool, skip_locked=True)
        )
    ).all()
    for row in due:
        # Re-read the count: one entry may lapse in two rounds in one sweep.
        declines = await uow.conn.scalar(
            sa.select(waiting_entries.c.declines).where(waiting_entries.c.id == row.entry_id)
        )
        await commands.record_decline(
            ctx,
            uow,
            commands.SYSTEM,
            row.round_id,
            SimpleNamespace(
                household_reference=row.household_reference,
                entry_id=row.entry_id,
                declines=declines,
            ),
            no_show=True,
        )
