"""Event entrypoints of the credit service: pledges from intake, candidates from verification,
records awaiting approval from tenancy's referrals and from the complaints ledger.

Both reactions are idempotent by effect (ON CONFLICT DO NOTHING on natural keys), on top of the
inbox's deduplication of redelivered event ids; the logic is in :mod:`services.credit.commands`.
"""

from __future__ import annotations

from services.credit import commands
from services.credit.context import CreditContext
from shared.auth import SERVICE, Principal
from shared.db import UnitOfWork
from shared.events.catalogue import (
    ApplicationSubmitted,
    ComplaintAgencyReferred,
    TenancyCreditReferred,
    VerificationCompleted,
)
from shared.events.envelope import Envelope
from shared.handlers import handler_map, handles


@handles(ApplicationSubmitted)
async def on_application_submitted(
    ctx: CreditContext, uow: UnitOfWork, submitted: ApplicationSubmitted, envelope: Envelope
) -> None:
    await commands.register_pledge(ctx, uow, submitted)


@handles(VerificationCompleted)
async def on_verification_completed(
    ctx: CreditContext, uow: UnitOfWork, completed: VerificationCompleted, envelope: Envelope
) -> None:
    """Discrepancies become candidates for an officer to confirm or dismiss, never a record."""
    await commands.open_candidates(ctx, uow, completed)


# Sublet and lending take a home meant for a family in need (较重); vacancy and arrears are
# the general grade until an officer decides otherwise at approval.
TENANCY_SEVERITY = {
    "tenancy_sublet": "serious",
    "tenancy_lending": "serious",
    "tenancy_vacancy": "general",
    "tenancy_rent_arrears": "general",
}


@handles(TenancyCreditReferred)
async def on_tenancy_credit_referred(
    ctx: CreditContext, uow: UnitOfWork, referred: TenancyCreditReferred, envelope: Envelope
) -> None:
    """A tenancy violation becomes a record awaiting a second officer's approval: the same
    four-eyes rule and notice procedure as any record, never a ban by itself."""
    tenancy = Principal(
        sub="system:tenancy", name="租后管理", roles=frozenset({SERVICE}), org=ctx.city.city.code
    )
    await commands._enter_record(
        ctx,
        uow,
        tenancy,
        category="tenancy",
        kind=referred.kind,
        severity=TENANCY_SEVERITY[referred.kind],
        origin="inspection",
        facts=referred.facts,
        evidence=[{"title": "租后管理移送", "reference": f"tenancy/{referred.referral_id}"}],
        subject=commands.Subject(
            id_hash=referred.id_hash,
            id_masked=referred.subject_id_masked,
            name_masked=referred.subject_name_masked,
        ),
        application_id=referred.application_id,
    )


@handles(ComplaintAgencyReferred)
async def on_complaint_agency_referred(
    ctx: CreditContext, uow: UnitOfWork, referred: ComplaintAgencyReferred, envelope: Envelope
) -> None:
    """An agency complaint becomes a record awaiting approval, not a sanction."""
    await commands.record_from_complaint(ctx, uow, referred)


HANDLERS = handler_map(
    on_application_submitted,
    on_verification_completed,
    on_tenancy_credit_referred,
    on_complaint_agency_referred,
)
