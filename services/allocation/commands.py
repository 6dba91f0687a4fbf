"""Every change of allocation state: stock, waiting list, rounds, lottery, selection, contracts.

Each function runs in the unit of work it is given, writes audit and emits its events there.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert

from services.allocation import domain, lottery, store
from services.allocation.context import AllocationContext
from services.allocation.schemas import (
    AllocationOut,
    ConfirmationNoticeIn,
    ContractOut,
    DeclineIn,
    DeclineOut,
    DrawIn,
    FreezeIn,
    ImportReport,
    PriorityIn,
    RoundIn,
    RowErrorOut,
    SelectIn,
    SubsidyChoiceIn,
    SubsidyOut,
    UnitIn,
    UnitOut,
    UnitPatch,
)
from services.allocation.store import ensure_household_account
from services.allocation.tables import (
    allocations,
    buildings,
    contracts,
    household_links,
    projects,
    public_inputs,
    round_pool,
    rounds,
    units,
    waiting_entries,
)
from shared import audit
from shared.auth import Principal
from shared.clock import now
from shared.db import UnitOfWork
from shared.events.catalogue import (
    AllocationCommitmentPublished,
    AllocationConfirmationRequested,
    AllocationContractIssued,
    AllocationContractSigned,
    AllocationEntrySuspended,
    AllocationNeedConfirmed,
    AllocationOrderOverridden,
    AllocationPoolFrozen,
    AllocationRoundDrawn,
    AllocationSubsidyChosen,
    AllocationUnitAllocated,
    AllocationUnitsChanged,
    AllocationWaitingEntered,
    ApplicationQualified,
    ApplicationSubmitted,
    CreditBanImposed,
    DisclosedUnit,
    TenancyUnitVacated,
)
from shared.problems import Forbidden, NotFound, ValidationProblem

SYSTEM = {"actor": "system:allocation", "actor_roles": ["service"], "actor_org": None}


# -- housing stock -------------------------------------------------------------------------


async def _announce_units(uow: UnitOfWork, reason: str, where: Any) -> None:
    """The units' public state (六公开: 房源) for publication, in the transaction that changed
    them; publication keeps the newest per unit."""
    rows = (await uow.conn.execute(store.UNIT_VIEW.where(where))).all()
    if not rows:
        return
    uow.emit(
        AllocationUnitsChanged(
            reason=reason,
            units=[
                DisclosedUnit(
                    unit_id=r.id,
                    project_code=r.project_code,
                    project_name=r.project_name,
                    building_code=r.building_code,
                    unit_code=r.code,
                    district=r.district,
                    address=r.address,
                    area_m2=r.area_m2,
                    rooms=r.rooms,
                    floor=r.floor,
                    accessible=r.accessible,
                    base_rent_per_m2=r.base_rent_per_m2,
                    status=r.status,
                )
                for r in rows
            ],
        ),
        subject=str(rows[0].id) if len(rows) == 1 else "stock",
    )


async def _upsert_unit(uow: UnitOfWork, row: domain.StockRow | UnitIn, status: str) -> uuid.UUID:
    conn, at = uow.conn, now()
    project_id = await conn.scalar(
        insert(projects)
        .values(
            id=uuid.uuid4(),
            code=row.project_code,
            name=row.project_name,
            district=row.district,
            created_at=at,
        )
        .on_conflict_do_update(index_elements=["code"], set_={"name": row.project_name})
        .returning(projects.c.id)
    )
    building_id = await conn.scalar(
        insert(buildings)
        .values(id=uuid.uuid4(), project_id=project_id, code=row.building_code)
        .on_conflict_do_update(
            constraint="buildings_project_code", set_={"code": row.building_code}
        )
        .returning(buildings.c.id)
    )
    existing = await conn.scalar(sa.select(units.c.id).where(units.c.code == row.unit_code))
    if existing is not None:
        raise domain.StockConflict(f"房号 {row.unit_code} 已存在")
    unit_id = uuid.uuid4()
    await conn.execute(
        sa.insert(units).values(
            id=unit_id,
            building_id=building_id,
            code=row.unit_code,
            address=row.address,
            area_m2=row.area_m2,
            rooms=row.rooms,
            floor=row.floor,
            accessible=row.accessible,
            base_rent_per_m2=row.base_rent_per_m2,
            status=status,
            updated_at=at,
        )
    )
    return unit_id


async def import_stock(
    ctx: AllocationContext, uow: UnitOfWork, principal: Principal, text: str
) -> ImportReport:
    """All or nothing: with any bad row nothing is stored and the report names every one."""
    rows, errors = domain.parse_stock_csv(text)
    if not errors:
        existing = set(
            (
                await uow.conn.scalars(
                    sa.select(units.c.code).where(units.c.code.in_([r.unit_code for r in rows]))
                )
            ).all()
        )
        errors = [
            domain.RowError(i, "unit_code", "房号已存在")
            for i, r in enumerate(rows, start=2)
            if r.unit_code in existing
        ]
    if errors:
        raise _import_problem(errors)
    for row in rows:
        await _upsert_unit(uow, row, row.status)
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="stock.imported",
        subject_type="stock",
        subject_id="csv",
        details={"units": len(rows)},
    )
    # One event for the whole file: a city's import is one message, not thousands.
    await _announce_units(
        uow,
        "imported",
        units.c.code
        == sa.any_(sa.bindparam("codes", [r.unit_code for r in rows], type_=ARRAY(sa.Text))),
    )
    return ImportReport(imported=len(rows), errors=[])


def _import_problem(errors: list[domain.RowError]) -> ValidationProblem:
    from services.allocation.problems import StockImportInvalid

    report = [RowErrorOut(row=e.row, field=e.field, message=e.message) for e in errors]
    return StockImportInvalid(
        detail=f"{len(errors)} 处错误，未导入任何房源",
        extra={"errors": [r.model_dump() for r in report]},
    )


async def add_unit(
    ctx: AllocationContext, uow: UnitOfWork, principal: Principal, body: UnitIn
) -> UnitOut:
    unit_id = await _upsert_unit(uow, body, "vacant")
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="unit.added",
        subject_type="unit",
        subject_id=unit_id,
        details={"code": body.unit_code},
    )
    await _announce_units(uow, "added", units.c.id == unit_id)
    return UnitOut.model_validate(dict((await store.unit(uow.conn, unit_id))._mapping))


async def edit_unit(
    ctx: AllocationContext,
    uow: UnitOfWork,
    principal: Principal,
    unit_id: uuid.UUID,
    body: UnitPatch,
) -> UnitOut:
    row = (
        await uow.conn.execute(sa.select(units).where(units.c.id == unit_id).with_for_update())
    ).first()
    if row is None:
        raise NotFound("房源不存在")
    changes: dict[str, Any] = body.model_dump(exclude_none=True)
    if "status" in changes:
        domain.check_status_move(row.status, changes["status"])
    if changes:
        await uow.conn.execute(
            sa.update(units).where(units.c.id == unit_id).values(**changes, updated_at=now())
        )
        await audit.record(
            uow.conn,
            **principal.audit_actor(),
            action="unit.edited",
            subject_type="unit",
            subject_id=unit_id,
            details={k: str(v) for k, v in changes.items()},
        )
        await _announce_units(uow, "edited", units.c.id == unit_id)
    return UnitOut.model_validate(dict((await store.unit(uow.conn, unit_id))._mapping))


# -- waiting list --------------------------------------------------------------------------


async def link_household(uow: UnitOfWork, event: ApplicationSubmitted) -> None:
    await uow.conn.execute(
        insert(household_links)
        .values(
            application_id=event.application_id,
            member_id_hashes=event.member_id_hashes,
            applicant_account=event.applicant_account,
        )
        .on_conflict_do_nothing()
    )


async def enter_waiting_list(
    ctx: AllocationContext, uow: UnitOfWork, event: ApplicationQualified
) -> None:
    """The household waits in its category from its qualification date, in the highest-tier
    priority group that qualification decided from the verified findings (the default group
    when none), keeping every group's reason."""
    entry_id = uuid.uuid4()
    decided = [g.model_dump() for g in event.priority_groups]
    group, reason = domain.priority_of(ctx.rules, decided)
    inserted = await uow.conn.scalar(
        insert(waiting_entries)
        .values(
            id=entry_id,
            application_id=event.application_id,
            household_reference=event.tracking_no,
            category=event.category,
            district=event.district,
            member_count=event.member_count,
            name_masked=event.applicant_name_masked,
            priority_group=group,
            priority_reason=reason,
            priority_groups=decided,
            qualified_at=event.qualified_at,
            status="waiting",
        )
        .on_conflict_do_nothing()
        .returning(waiting_entries.c.id)
    )
    if inserted is None:
        return
    await audit.record(
        uow.conn,
        **SYSTEM,
        action="waiting.entered",
        subject_type="waiting_entry",
        subject_id=entry_id,
        details={
            "reference": event.tracking_no,
            "category": event.category,
            "priority_group": group,
            "priority_groups": [g["code"] for g in decided],
        },
    )
    uow.emit(
        AllocationWaitingEntered(
            entry_id=entry_id,
            application_id=event.application_id,
            household_reference=event.tracking_no,
            category=event.category,
            priority_group=group,
            qualified_at=event.qualified_at,
            priority_tier=ctx.rules.tier(group),
        ),
        subject=str(entry_id),
    )


async def set_priority(
    ctx: AllocationContext, uow: UnitOfWork, principal: Principal, reference: str, body: PriorityIn
) -> dict[str, str]:
    if body.priority_group not in ctx.rules.groups():
        raise ValidationProblem("未知优先配租类别", field="priority_group")
    before = (
        await uow.conn.execute(
            sa.select(waiting_entries.c.id, waiting_entries.c.priority_group)
            .where(waiting_entries.c.household_reference == reference)
            .with_for_update()
        )
    ).first()
    if before is None:
        raise NotFound("轮候家庭不存在")
    entry_id = before.id
    await uow.conn.execute(
        sa.update(waiting_entries)
        .where(waiting_entries.c.id == entry_id)
        .values(priority_group=body.priority_group, priority_reason=body.reason)
    )
    # The officer's override of the group qualification decided: who, from what, why.
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="waiting.priority_set",
        subject_type="waiting_entry",
        subject_id=entry_id,
        details={
            "group": body.priority_group,
            "previous_group": before.priority_group,
            "reason": body.reason,
        },
    )
    return {"household_reference": reference, "priority_group": body.priority_group}


async def suspend_for_ban(ctx: AllocationContext, uow: UnitOfWork, ban: CreditBanImposed) -> None:
    """An integrity ban on any member suspends the household's waiting entry until it ends."""
    linked = sa.select(household_links.c.application_id).where(
        household_links.c.member_id_hashes.any(ban.id_hash)
    )
    rows = (
        await uow.conn.execute(
            sa.update(waiting_entries)
            .where(
                waiting_entries.c.application_id.in_(linked),
                waiting_entries.c.status == "waiting",
            )
            .values(status="suspended", suspended_reason="credit_ban", suspended_until=ban.ends_on)
            .returning(waiting_entries.c.id, waiting_entries.c.household_reference)
        )
    ).all()
    for row in rows:
        await audit.record(
            uow.conn,
            **SYSTEM,
            action="waiting.suspended",
            subject_type="waiting_entry",
            subject_id=row.id,
            details={"reason": "credit_ban", "until": ban.ends_on.isoformat()},
        )
        uow.emit(
            AllocationEntrySuspended(
                entry_id=row.id,
                household_reference=row.household_reference,
                reason="credit_ban",
                until=ban.ends_on,
            ),
            subject=str(row.id),
        )


async def request_confirmations(
    ctx: AllocationContext, uow: UnitOfWork, principal: Principal, body: ConfirmationNoticeIn
) -> dict[str, Any]:
    """Every household waiting in the category is asked to confirm its need by the deadline."""
    if body.confirm_by <= now().date():
        raise ValidationProblem("确认期限须在今天之后", field="confirm_by")
    rows = (
        await uow.conn.execute(
            sa.update(waiting_entries)
            .where(
                waiting_entries.c.category == body.category,
                waiting_entries.c.status == "waiting",
            )
            .values(confirm_by=body.confirm_by, confirmed_at=None)
            .returning(
                waiting_entries.c.id,
                waiting_entries.c.application_id,
                waiting_entries.c.household_reference,
            )
        )
    ).all()
    for row in rows:
        uow.emit(
            AllocationConfirmationRequested(
                entry_id=row.id,
                application_id=row.application_id,
                household_reference=row.household_reference,
                confirm_by=body.confirm_by,
            ),
            subject=str(row.id),
        )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="waiting.confirmation_requested",
        subject_type="waiting_list",
        subject_id=body.category,
        details={"households": len(rows), "confirm_by": body.confirm_by.isoformat()},
    )
    return {"households": len(rows), "confirm_by": body.confirm_by.isoformat()}


async def confirm_need(
    ctx: AllocationContext, uow: UnitOfWork, principal: Principal, reference: str
) -> dict[str, Any]:
    entry_id = await uow.conn.execute(
        sa.update(waiting_entries)
        .where(
            waiting_entries.c.household_reference == reference,
            waiting_entries.c.confirm_by.is_not(None),
        )
        .values(confirm_by=None, confirmed_at=now())
        .returning(waiting_entries.c.id, waiting_entries.c.application_id)
    )
    confirmed = entry_id.first()
    if confirmed is None:
        raise NotFound("该家庭没有待确认的轮候资格")
    entry_id = confirmed.id
    # Ends the deadline reminder (alerting's N4) for this household.
    uow.emit(
        AllocationNeedConfirmed(
            entry_id=entry_id,
            application_id=confirmed.application_id,
            household_reference=reference,
            confirmed_at=now(),
        ),
        subject=str(entry_id),
    )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="waiting.need_confirmed",
        subject_type="waiting_entry",
        subject_id=entry_id,
    )
    return {"household_reference": reference, "confirmed": True}


# -- rounds and the lottery ----------------------------------------------------------------


async def open_round(
    ctx: AllocationContext, uow: UnitOfWork, principal: Principal, body: RoundIn
) -> dict[str, Any]:
    found = (
        await uow.conn.scalars(
            sa.select(units.c.id).where(units.c.id.in_(body.unit_ids), units.c.status == "vacant")
        )
    ).all()
    if len(set(found)) != len(set(body.unit_ids)):
        raise domain.RoundStateError("批次中含有不存在或非空置的房源")
    quotas = [q.model_dump() for q in body.quotas]
    problem = domain.check_quotas(ctx.rules, quotas)
    if problem is not None:
        raise ValidationProblem(problem, field="quotas")
    sizes = [r.max_members for r in body.unit_size_rules or []]
    if sizes != sorted(set(sizes)):
        raise ValidationProblem("户型标准须按家庭人数从少到多排列且不重复", field="unit_size_rules")
    round_id = uuid.uuid4()
    await uow.conn.execute(
        sa.insert(rounds).values(
            id=round_id,
            category=body.category,
            title=body.title,
            unit_ids=list(dict.fromkeys(body.unit_ids)),
            status="opened",
            opened_by=principal.sub,
            created_at=now(),
            quotas=quotas,
            unit_size_rules=(
                [r.model_dump(mode="json") for r in body.unit_size_rules]
                if body.unit_size_rules
                else None
            ),
            selection_starts_at=body.selection_starts_at,
            slot_minutes=body.slot_minutes,
            households_per_slot=body.households_per_slot,
        )
    )
    await _audit_round(
        uow,
        principal,
        round_id,
        "round.opened",
        {
            "units": len(body.unit_ids),
            "quotas": quotas,
            "unit_size_rules": [r.model_dump(mode="json") for r in body.unit_size_rules or []],
            "slot_minutes": body.slot_minutes,
            "households_per_slot": body.households_per_slot,
        },
    )
    return {"id": str(round_id), "status": "opened"}


async def approve_round(
    ctx: AllocationContext, uow: UnitOfWork, principal: Principal, round_id: uuid.UUID
) -> dict[str, Any]:
    row = await _round(uow, round_id, "opened")
    if row.opened_by == principal.sub:
        raise Forbidden("四眼原则：开启批次的经办人不能审批本批次")
    await uow.conn.execute(
        sa.update(rounds)
        .where(rounds.c.id == round_id)
        .values(status="approved", approved_by=principal.sub)
    )
    await _audit_round(uow, principal, round_id, "round.approved", {})
    return {"id": str(round_id), "status": "approved"}


async def freeze_pool(
    ctx: AllocationContext,
    uow: UnitOfWork,
    principal: Principal,
    round_id: uuid.UUID,
    body: FreezeIn,
) -> dict[str, Any]:
    """The households of the category waiting at the cut-off, frozen with their tier; the
    pool file and its digest are published from here on."""
    await _round(uow, round_id, "approved")
    row = await store.round_row(uow.conn, round_id)
    cut_off = body.cut_off or now()
    entries = (
        await uow.conn.execute(
            sa.select(
                waiting_entries.c.id,
                waiting_entries.c.household_reference,
                waiting_entries.c.priority_group,
            ).where(
                waiting_entries.c.category == row.category,
                waiting_entries.c.status == "waiting",
                waiting_entries.c.qualified_at <= cut_off,
            )
        )
    ).all()
    pool = [(e.household_reference, ctx.rules.tier(e.priority_group)) for e in entries]
    data = lottery.pool_file(pool)
    digest = lottery.digest(data)
    if entries:
        # One statement from arrays: 20,000 households in one round trip, not 20,000.
        await uow.conn.execute(
            sa.text(
                "INSERT INTO round_pool (round_id, household_reference, entry_id, priority_tier) "
                "SELECT :round_id, r, e, t FROM unnest("
                "CAST(:refs AS text[]), CAST(:ids AS uuid[]), CAST(:tiers AS int[])) AS v(r, e, t)"
            ),
            {
                "round_id": round_id,
                "refs": [e.household_reference for e in entries],
                "ids": [e.id for e in entries],
                "tiers": [ctx.rules.tier(e.priority_group) for e in entries],
            },
        )
    objection_until = now() + timedelta(days=ctx.rules.pool_objection_days)
    await uow.conn.execute(
        sa.update(rounds)
        .where(rounds.c.id == round_id)
        .values(
            status="frozen",
            cut_off=cut_off,
            pool_file=data,
            pool_digest=digest,
            objection_until=objection_until,
        )
    )
    await _audit_round(
        uow, principal, round_id, "round.pool_frozen", {"households": len(pool), "digest": digest}
    )
    # Publication lists it as the lottery shortlist (摇号入围名单) open to objection.
    uow.emit(
        AllocationPoolFrozen(
            round_id=round_id,
            category=row.category,
            pool_digest=digest,
            households=len(pool),
            household_references=[ref for ref, _ in sorted(pool, key=lambda h: (h[1], h[0]))],
            cut_off=cut_off,
            objection_until=objection_until,
        ),
        subject=str(round_id),
    )
    return {"id": str(round_id), "status": "frozen", "pool_digest": digest, "households": len(pool)}


async def publish_commitment(
    ctx: AllocationContext, uow: UnitOfWork, principal: Principal, round_id: uuid.UUID
) -> dict[str, Any]:
    """The service draws its secret and publishes only its hash, before any public input."""
    row = await _round(uow, round_id, "frozen")
    secret = lottery.new_secret()
    commitment = lottery.commitment(secret)
    at = now()
    await uow.conn.execute(
        sa.update(rounds)
        .where(rounds.c.id == round_id)
        .values(status="committed", secret=secret, commitment=commitment, committed_at=at)
    )
    # Out of allocation's hands before any public input: publication keeps and pushes it.
    uow.emit(
        AllocationCommitmentPublished(
            round_id=round_id,
            category=row.category,
            pool_digest=row.pool_digest,
            commitment=commitment,
            committed_at=at,
        ),
        subject=str(round_id),
    )
    await _audit_round(uow, principal, round_id, "round.committed", {"commitment": commitment})
    return {"id": str(round_id), "status": "committed", "commitment": commitment}


async def draw(
    ctx: AllocationContext, uow: UnitOfWork, principal: Principal, round_id: uuid.UUID, body: DrawIn
) -> dict[str, Any]:
    row = await store.round_row(uow.conn, round_id, lock=True)
    if row is None:
        raise NotFound("批次不存在")
    if row.status == "drawn":
        raise domain.LotteryRefused("本批次已摇号")
    if row.status != "committed" or row.commitment is None:
        raise domain.LotteryRefused("摇号前须先公布承诺值（commitment）")
    if row.objection_until is not None and now() < row.objection_until:
        raise domain.LotteryRefused(
            f"入围名单异议期至 {row.objection_until.isoformat()}，期满方可摇号"
        )
    pool = [
        (p.household_reference, p.priority_tier) for p in await store.pool_rows(uow.conn, round_id)
    ]
    data = lottery.pool_file(pool)
    if data != row.pool_file or lottery.digest(data) != row.pool_digest:
        raise domain.LotteryRefused("入围名单在公布摘要后被改动，拒绝摇号")
    input_hash = hashlib.sha256(body.public_input.encode()).hexdigest()
    used = await uow.conn.scalar(
        insert(public_inputs)
        .values(input_hash=input_hash, round_id=round_id)
        .on_conflict_do_nothing()
        .returning(public_inputs.c.input_hash)
    )
    if used is None:
        raise domain.LotteryRefused("该公开随机数已用于摇号，不能重复使用")
    seed = lottery.seed(row.secret, body.public_input, row.pool_digest)
    ranking = lottery.rank(pool, seed)
    if ranking:
        # Rank and selection order (quota seats first; null without quotas, where the order
        # is the rank) in one pass over the pool rows: a second UPDATE of 20,000 rows cost a
        # quota round as much again as the rank itself.
        quotas = [lottery.Quota(q["tier"], q["percent"]) for q in row.quotas]
        order = {}
        if quotas:
            order = {
                s.reference: s.order
                for s in lottery.selection_order(ranking, len(row.unit_ids), quotas)
            }
        await uow.conn.execute(
            sa.text(
                "UPDATE round_pool SET rank = v.k, selection_order = v.o FROM unnest("
                "CAST(:refs AS text[]), CAST(:ranks AS int[]), CAST(:orders AS int[])) "
                "AS v(r, k, o) "
                "WHERE round_pool.round_id = :round_id AND round_pool.household_reference = v.r"
            ),
            {
                "round_id": round_id,
                "refs": [r.reference for r in ranking],
                "ranks": [r.rank for r in ranking],
                "orders": [order.get(r.reference) for r in ranking],
            },
        )
    drawn_at = now()
    await uow.conn.execute(
        sa.update(rounds)
        .where(rounds.c.id == round_id)
        .values(
            status="drawn",
            public_input=body.public_input,
            notary=principal.sub,
            seed=seed.hex(),
            ranking_file=lottery.ranking_file(ranking),
            drawn_at=drawn_at,
        )
    )
    await _audit_round(
        uow,
        principal,
        round_id,
        "round.drawn",
        {"public_input": body.public_input, "seed": seed.hex()},
    )
    drawn = AllocationRoundDrawn(
        round_id=round_id,
        category=row.category,
        pool_digest=row.pool_digest,
        commitment=row.commitment,
        public_input=body.public_input,
        secret=row.secret,
        seed=seed.hex(),
        households=len(ranking),
        drawn_at=drawn_at,
    )
    # The ranking (for publication's ranking page) joins the validated payload as plain rows:
    # references and tiers come from the frozen pool, and validating 20,000 model instances
    # would cost the draw about a third of its one-second budget.
    uow.emit_raw(
        event_type=drawn.event_type,
        version=drawn.event_version,
        data=drawn.model_dump(mode="json")
        | {
            "ranking": [
                {"household_reference": r.reference, "rank": r.rank, "priority_tier": r.tier}
                for r in ranking
            ]
        },
        subject=str(round_id),
        exchange=drawn.exchange,
        routing_key=drawn.routing_key(),
    )
    return {"id": str(round_id), "status": "drawn", "seed": seed.hex(), "households": len(ranking)}


async def schedule_selection(
    ctx: AllocationContext, uow: UnitOfWork, round_id: uuid.UUID
) -> dict[str, Any]:
    """Right after the draw, in its transaction: the selection order (quota seats first, a
    deterministic function of the published ranking, docs/lottery.md) and each household's
    time slot and deadline; both files are published with the round's."""
    row = await store.round_row(uow.conn, round_id)
    ranking = lottery.parse_ranking(row.ranking_file)
    quotas = [lottery.Quota(q["tier"], q["percent"]) for q in row.quotas]
    # The pool rows got their selection order with their rank in the draw's one update.
    seats = lottery.selection_order(ranking, len(row.unit_ids), quotas)
    await uow.conn.execute(
        sa.update(rounds)
        .where(rounds.c.id == round_id)
        .values(
            selection_file=lottery.selection_file(seats),
            quotas_file=lottery.quotas_file(len(row.unit_ids), quotas),
        )
    )
    starts = row.selection_starts_at or row.drawn_at
    last = domain.slot(starts, len(seats), row.slot_minutes, row.households_per_slot)[1]
    return {
        "quota_seats": sum(1 for s in seats if s.seat == "quota"),
        "selection_starts_at": starts.isoformat(),
        "last_deadline": last.isoformat() if seats else None,
    }


# -- selection -----------------------------------------------------------------------------


async def _current(
    uow: UnitOfWork, round_id: uuid.UUID, reference: str, *, override: bool = False
) -> tuple[Any, Any, str | None]:
    """Lock the round (one selection at a time per round) and check rank order.

    Returns the round, the household and whom the rank order names next; with ``override``
    (a leader's, with a reason) any household of the pool still without an outcome may go.
    """
    row = await store.round_row(uow.conn, round_id, lock=True)
    if row is None:
        raise NotFound("批次不存在")
    if row.status != "drawn":
        raise domain.RoundStateError("批次尚未摇号")
    open_households = (
        sa.select(round_pool, waiting_entries.c.member_count, waiting_entries.c.declines)
        .join(waiting_entries, waiting_entries.c.id == round_pool.c.entry_id)
        .where(
            round_pool.c.round_id == round_id,
            round_pool.c.outcome.is_(None),
            waiting_entries.c.status == "waiting",
        )
    )
    # Rounds drawn before selection orders existed go by rank.
    order = sa.func.coalesce(round_pool.c.selection_order, round_pool.c.rank)
    nxt = (await uow.conn.execute(open_households.order_by(order).limit(1))).first()
    next_ref = nxt.household_reference if nxt is not None else None
    if next_ref == reference:
        return row, nxt, next_ref
    if not override:
        raise domain.OutOfOrder("未轮到该家庭选房（须按摇号顺序）")
    household = (
        await uow.conn.execute(open_households.where(round_pool.c.household_reference == reference))
    ).first()
    if household is None:
        raise domain.OutOfOrder("该家庭不在本批次待选名单中")
    return row, household, next_ref


async def select_unit(
    ctx: AllocationContext,
    uow: UnitOfWork,
    principal: Principal,
    round_id: uuid.UUID,
    body: SelectIn,
    *,
    override_reason: str | None = None,
) -> AllocationOut:
    row, household, next_ref = await _current(
        uow, round_id, body.household_reference, override=override_reason is not None
    )
    if override_reason is None:
        _within_slot(row, household)
    if body.unit_id not in row.unit_ids:
        raise domain.UnitTaken("该房源不在本批次")
    unit = await store.unit(uow.conn, body.unit_id)
    if not domain.unit_fits(ctx.rules, household.member_count, unit.area_m2, row.unit_size_rules):
        raise domain.AllocationError("房源面积超出该家庭人数对应的标准")
    # The conditional update is what makes a unit taken once, even across rounds.
    taken = await uow.conn.scalar(
        sa.update(units)
        .where(units.c.id == body.unit_id, units.c.status == "vacant")
        .values(status="reserved", updated_at=now())
        .returning(units.c.id)
    )
    if taken is None:
        raise domain.UnitTaken("该房源已被选定")
    await _announce_units(uow, "reserved", units.c.id == body.unit_id)
    allocation_id, at = uuid.uuid4(), now()
    await uow.conn.execute(
        sa.insert(allocations).values(
            id=allocation_id,
            round_id=round_id,
            entry_id=household.entry_id,
            household_reference=body.household_reference,
            unit_id=body.unit_id,
            rank=household.rank,
            allocated_at=at,
            status="active",
        )
    )
    await _outcome(uow, round_id, body.household_reference, "selected")
    await uow.conn.execute(
        sa.update(waiting_entries)
        .where(waiting_entries.c.id == household.entry_id)
        .values(status="allocated")
    )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="unit.allocated",
        subject_type="allocation",
        subject_id=allocation_id,
        details={"reference": body.household_reference, "unit": unit.code, "rank": household.rank},
    )
    uow.emit(
        AllocationUnitAllocated(
            allocation_id=allocation_id,
            round_id=round_id,
            household_reference=body.household_reference,
            unit_id=body.unit_id,
            unit_code=unit.code,
            rank=household.rank,
            allocated_at=at,
        ),
        subject=str(allocation_id),
    )
    if override_reason is not None and next_ref != body.household_reference:
        await audit.record(
            uow.conn,
            **principal.audit_actor(),
            action="selection.order_overridden",
            subject_type="allocation",
            subject_id=allocation_id,
            details={"reason": override_reason, "next_in_order": next_ref},
        )
        uow.emit(
            AllocationOrderOverridden(
                allocation_id=allocation_id,
                round_id=round_id,
                household_reference=body.household_reference,
                rank=household.rank,
                next_in_order=next_ref,
                leader=principal.sub,
                reason=override_reason,
            ),
            subject=str(allocation_id),
        )
    return AllocationOut(
        id=allocation_id,
        round_id=round_id,
        household_reference=body.household_reference,
        unit_id=body.unit_id,
        rank=household.rank,
        allocated_at=at,
    )


async def check_household_account(uow: UnitOfWork, principal: Principal, reference: str) -> None:
    """An applicant acts only for the household it applied for itself (its own account)."""
    await ensure_household_account(uow.conn, principal, reference)


def _within_slot(row: Any, household: Any) -> None:
    """Past its deadline a household no longer chooses: the deadline sweep records the
    no-show (a refusal here would roll back anything it wrote)."""
    _, deadline = store.slot_of(row, household)
    if now() > deadline:
        raise domain.SlotMissed(f"选房截止时间 {deadline.isoformat()} 已过，按未到场处理")


async def decline(
    ctx: AllocationContext,
    uow: UnitOfWork,
    principal: Principal,
    round_id: uuid.UUID,
    body: DeclineIn,
) -> DeclineOut:
    """A decline or no-show counts against the limit; at the limit the entry is suspended."""
    _, household, _ = await _current(uow, round_id, body.household_reference)
    declines, until = await record_decline(
        ctx, uow, principal.audit_actor(), round_id, household, no_show=body.no_show
    )
    return DeclineOut(
        household_reference=body.household_reference, declines=declines, suspended_until=until
    )


async def record_decline(
    ctx: AllocationContext,
    uow: UnitOfWork,
    actor: dict[str, Any],
    round_id: uuid.UUID,
    household: Any,
    *,
    no_show: bool,
) -> tuple[int, Any]:
    """Count one decline or no-show of a pool household; at the limit suspend its entry."""
    reference = household.household_reference
    declines = household.declines + 1
    until = domain.after_decline(ctx.rules, declines, now().date())
    values: dict[str, Any] = {"declines": declines}
    if until is not None:
        values |= {"status": "suspended", "suspended_reason": "declines", "suspended_until": until}
    await uow.conn.execute(
        sa.update(waiting_entries)
        .where(waiting_entries.c.id == household.entry_id)
        .values(**values)
    )
    await _outcome(uow, round_id, reference, "no_show" if no_show else "declined")
    await audit.record(
        uow.conn,
        **actor,
        action="selection.declined",
        subject_type="waiting_entry",
        subject_id=household.entry_id,
        details={"no_show": no_show, "declines": declines, "round": str(round_id)},
    )
    if until is not None:
        uow.emit(
            AllocationEntrySuspended(
                entry_id=household.entry_id,
                household_reference=reference,
                reason="declines",
                until=until,
            ),
            subject=str(household.entry_id),
        )
    return declines, until


async def choose_subsidy(
    ctx: AllocationContext,
    uow: UnitOfWork,
    principal: Principal,
    round_id: uuid.UUID,
    body: SubsidyChoiceIn,
) -> SubsidyOut:
    """In its turn, the household takes the rental subsidy instead of a unit."""
    row, household, _ = await _current(uow, round_id, body.household_reference)
    _within_slot(row, household)
    amount = domain.subsidy(ctx.rules, household.member_count, body.income_band)
    await _outcome(uow, round_id, body.household_reference, "subsidy")
    await uow.conn.execute(
        sa.update(waiting_entries)
        .where(waiting_entries.c.id == household.entry_id)
        .values(status="subsidised")
    )
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="selection.subsidy_chosen",
        subject_type="waiting_entry",
        subject_id=household.entry_id,
        details={"income_band": body.income_band, "monthly_amount": str(amount)},
    )
    uow.emit(
        AllocationSubsidyChosen(
            round_id=round_id,
            household_reference=body.household_reference,
            member_count=household.member_count,
            income_band=body.income_band,
            monthly_amount=amount,
            chosen_at=now(),
        ),
        subject=str(household.entry_id),
    )
    return SubsidyOut(monthly_amount=amount)


async def _outcome(uow: UnitOfWork, round_id: uuid.UUID, reference: str, outcome: str) -> None:
    await uow.conn.execute(
        sa.update(round_pool)
        .where(round_pool.c.round_id == round_id, round_pool.c.household_reference == reference)
        .values(outcome=outcome)
    )


# -- contracts -----------------------------------------------------------------------------


async def draft_contract(
    ctx: AllocationContext, uow: UnitOfWork, principal: Principal, allocation_id: uuid.UUID
) -> ContractOut:
    alloc = (
        await uow.conn.execute(sa.select(allocations).where(allocations.c.id == allocation_id))
    ).first()
    if alloc is None:
        raise NotFound("配租结果不存在")
    existing = (
        await uow.conn.execute(
            sa.select(contracts).where(contracts.c.allocation_id == allocation_id)
        )
    ).first()
    if existing is not None:
        return _contract_out(existing)
    unit = await store.unit(uow.conn, alloc.unit_id)
    today = now().date()
    rent = domain.monthly_rent(unit.area_m2, unit.base_rent_per_m2)
    starts_on = today + timedelta(days=ctx.settings.contract_sign_days + 1)
    sign_by = today + timedelta(days=ctx.settings.contract_sign_days)
    text = domain.contract_text(
        ctx.contract_template,
        ctx.clauses,
        lessor=ctx.settings.lessor,
        household_reference=alloc.household_reference,
        unit_address=unit.address,
        unit_code=unit.code,
        area_m2=unit.area_m2,
        monthly_rent=rent,
        base_rent_per_m2=unit.base_rent_per_m2,
        starts_on=starts_on.isoformat(),
        sign_by=sign_by.isoformat(),
    )
    contract_id = uuid.uuid4()
    values = {
        "id": contract_id,
        "allocation_id": allocation_id,
        "text": text,
        "clauses": [c.code for c in ctx.clauses],
        "monthly_rent": rent,
        "starts_on": starts_on,
        "sign_by": sign_by,
        "created_at": now(),
    }
    await uow.conn.execute(sa.insert(contracts).values(**values))
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="contract.drafted",
        subject_type="contract",
        subject_id=contract_id,
        details={"allocation": str(allocation_id)},
    )
    # The signing deadline's clock for alerting (N3 the day before, a light when it passes).
    uow.emit(
        AllocationContractIssued(
            contract_id=contract_id,
            allocation_id=allocation_id,
            household_reference=alloc.household_reference,
            sign_by=sign_by,
        ),
        subject=str(contract_id),
    )
    return ContractOut(**{**values, "signed_at": None})


async def sign_contract(
    ctx: AllocationContext, uow: UnitOfWork, principal: Principal, contract_id: uuid.UUID
) -> ContractOut:
    row = (
        await uow.conn.execute(
            sa.select(contracts).where(contracts.c.id == contract_id).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("合同不存在")
    if row.signed_at is not None:
        return _contract_out(row)
    if now().date() > row.sign_by:
        raise domain.AllocationError("已超过合同签订期限")
    alloc = (
        await uow.conn.execute(sa.select(allocations).where(allocations.c.id == row.allocation_id))
    ).first()
    signed_at = now()
    await uow.conn.execute(
        sa.update(contracts).where(contracts.c.id == contract_id).values(signed_at=signed_at)
    )
    await uow.conn.execute(
        sa.update(units)
        .where(units.c.id == alloc.unit_id)
        .values(status="let", updated_at=signed_at)
    )
    await _announce_units(uow, "let", units.c.id == alloc.unit_id)
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action="contract.signed",
        subject_type="contract",
        subject_id=contract_id,
        details={"allocation": str(alloc.id)},
    )
    uow.emit(
        AllocationContractSigned(
            contract_id=contract_id,
            allocation_id=alloc.id,
            household_reference=alloc.household_reference,
            unit_id=alloc.unit_id,
            monthly_rent=row.monthly_rent,
            starts_on=row.starts_on,
            recovery_clauses=list(row.clauses),
            signed_at=signed_at,
        ),
        subject=str(contract_id),
    )
    return _contract_out({**row._mapping, "signed_at": signed_at})


def _contract_out(row: Any) -> ContractOut:
    data = row if isinstance(row, dict) else dict(row._mapping)
    return ContractOut.model_validate(
        {k: v for k, v in data.items() if k in ContractOut.model_fields}
    )


async def unit_vacated(ctx: AllocationContext, uow: UnitOfWork, event: TenancyUnitVacated) -> None:
    """Back to the stock (轮候补进): the unit is vacant again and the next round offers it."""
    updated = await uow.conn.scalar(
        sa.update(units)
        .where(units.c.id == event.unit_id, units.c.status.in_(("let", "reserved")))
        .values(status="recovered" if event.recovered else "vacant", updated_at=now())
        .returning(units.c.id)
    )
    if updated is None:
        return
    await _announce_units(uow, "vacated", units.c.id == event.unit_id)
    await uow.conn.execute(
        sa.update(allocations)
        .where(allocations.c.unit_id == event.unit_id, allocations.c.status == "active")
        .values(status="ended")
    )
    await audit.record(
        uow.conn,
        **SYSTEM,
        action="unit.vacated",
        subject_type="unit",
        subject_id=event.unit_id,
        details={"vacated_on": event.vacated_on.isoformat(), "recovered": event.recovered},
    )


# -- helpers -------------------------------------------------------------------------------


async def _round(uow: UnitOfWork, round_id: uuid.UUID, status: str) -> Any:
    row = await store.round_row(uow.conn, round_id, lock=True)
    if row is None:
        raise NotFound("批次不存在")
    if row.status != status:
        raise domain.RoundStateError(f"批次状态为 {row.status}，此操作需要 {status}")
    return row


async def _audit_round(
    uow: UnitOfWork, principal: Principal, round_id: uuid.UUID, action: str, details: dict[str, Any]
) -> None:
    await audit.record(
        uow.conn,
        **principal.audit_actor(),
        action=action,
        subject_type="round",
        subject_id=round_id,
        details=details,
    )
