"""Allocation's rules fire in alerting from allocation's own events (issue 15, "the alerting
rules above fire from real allocation events"): the real allocation service and the real
alerting service in one system on the real broker.

Allocation is driven only through its HTTP API (stock, rounds, the draw, selections, a
leader's override, contracts, the annual confirmation, and its development clock
``POST /_dev/clock`` that also runs its sweeps). The harness publishes only what allocation
hears from others: each household's ``application.submitted`` (intake) and
``application.qualified`` (review). Every allocation event alerting reacts to therefore comes
from allocation's outbox through its relay; the event lights (R9, F6) name the event that
raised them, and the tests check it is the one allocation wrote. Alerting's clock rules (F4,
N3, N4) run in its clock sweep, which the tests tick at chosen instants.

Covered: R9 (queue-jump, red light, ticket and SMS), N3 (signing reminder), F6 (contract
unsigned past sign_by), F4 (allocation result not published in time), N4 (annual
confirmation reminder).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.alerting.bootstrap import rule_config
from services.alerting.sweeps import clock_sweep
from services.alerting.tables import (
    alerts,
    contracts,
    notifications,
    tickets,
    waiting_confirmations,
)
from shared.clock import clock
from shared.events.catalogue import ApplicationQualified, ApplicationSubmitted
from shared.events.envelope import Envelope
from shared.scheduler import run_once
from shared.tables import outbox
from tests.conftest import Infra
from tests.harness import handled, publish, wait_for
from tests.integration.allocation.conftest import (
    LEADER,
    NOTARY,
    OFFICER,
    add_units,
    drawn_round,
    frozen_round,
    id_hash,
    new_category,
    post,
    ranking,
)
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.integration

CITY_SUPERVISOR = token("supervisor", org="350200", sub="city-sup")
# Background ticks of both services must not run while a test holds the clock at a chosen
# instant: the tests move the clock and run the sweeps themselves.
QUIET_JOBS = (
    "HOUSING_ALERTING_SWEEP_SECONDS",
    "HOUSING_ALERTING_DISPATCH_SECONDS",
    "HOUSING_ALLOCATION_SWEEP_SECONDS",
    "HOUSING_ALLOCATION_SELECTION_SWEEP_SECONDS",
)


@dataclass
class System:
    allocation: RunningService
    alerting: RunningService


@dataclass
class Household:
    reference: str
    application_id: uuid.UUID


@pytest.fixture(scope="module")
async def system(infra: Infra) -> AsyncIterator[System]:
    saved = {k: os.environ.get(k) for k in QUIET_JOBS}
    os.environ.update(dict.fromkeys(QUIET_JOBS, "3600"))
    try:
        # Alerting first: its queue is bound before allocation publishes anything.
        async with running_service(infra, "alerting", system="aldrv") as alerting:
            async with running_service(infra, "allocation", system="aldrv") as allocation:
                yield System(allocation, alerting)
    finally:
        clock.reset()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- what others tell allocation ---------------------------------------------------------------


async def qualified(sys_: System, category: str, n: int) -> list[Household]:
    """``n`` households submitted (intake) and qualified (review) in ``category``, heard by
    both services: alerting learns each tracking number's application, allocation puts the
    household on its waiting list."""
    at = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    households, sent = [], []
    for i in range(n):
        app_id, ref = uuid.uuid4(), f"XM-{uuid.uuid4().hex[:10].upper()}"
        households.append(Household(ref, app_id))
        submitted = ApplicationSubmitted(
            application_id=app_id,
            tracking_no=ref,
            city="350200",
            district="350206",
            street="350206001",
            channel="online",
            category="low_income_family",
            member_count=2,
            submitted_at=at,
            member_id_hashes=[id_hash()],
            applicant_name_masked="张*丰",
            applicant_id_masked="3502**********1234",
            pledge_version="v1",
            pledge_signed_at=at,
        )
        sent += await publish(sys_.allocation, submitted, producer="intake")
        decision = ApplicationQualified(
            application_id=app_id,
            case_id=uuid.uuid4(),
            tracking_no=ref,
            city="350200",
            district="350206",
            street="350206001",
            category=category,
            member_count=2,
            applicant_name_masked="张*丰",
            qualified_at=at + timedelta(days=i),
            priority_groups=[],
        )
        sent += await publish(sys_.allocation, decision, producer="review")
    await handled(sys_.allocation, *sent)
    await handled(sys_.alerting, *sent)
    return households


# -- allocation through its HTTP API -----------------------------------------------------------


async def move_clock(sys_: System, at: datetime, *, run_sweeps: bool = False) -> None:
    """Allocation's development clock (one process clock for both services here)."""
    r = await sys_.allocation.client.post(
        "/_dev/clock", json={"set_to": at.isoformat(), "run_sweeps": run_sweeps}
    )
    assert r.status_code == 200, r.text
    if run_sweeps:
        assert r.json()["sweeps"] == [
            "allocation-contract-deadlines",
            "allocation-unconfirmed",
            "allocation-selection-deadlines",
        ]


async def select(sys_: System, round_id: str, reference: str, unit_id: str) -> str:
    r = await post(
        sys_.allocation,
        f"/rounds/{round_id}/selections",
        OFFICER,
        {"household_reference": reference, "unit_id": unit_id},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def issue_contract(sys_: System, allocation_id: str) -> dict[str, Any]:
    r = await post(sys_.allocation, f"/allocations/{allocation_id}/contract", OFFICER)
    assert r.status_code == 201, r.text
    return r.json()


async def sent_by_allocation(sys_: System, event_type: str, subject: str) -> Envelope:
    """The one envelope of ``event_type`` about ``subject`` allocation wrote to its outbox,
    once its relay has published it."""

    async def probe() -> Envelope | None:
        async with sys_.allocation.runtime.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(outbox.c.body, outbox.c.sent_at).where(
                        outbox.c.type == event_type, outbox.c.subject == subject
                    )
                )
            ).all()
        assert len(rows) <= 1, rows
        return Envelope.from_bytes(rows[0].body) if rows and rows[0].sent_at else None

    return await wait_for(probe, what=f"{event_type} relayed by allocation")


# -- alerting's side ---------------------------------------------------------------------------


async def sweep_alerting(sys_: System, at: datetime) -> dict[str, int]:
    """One tick of alerting's clock sweep at ``at`` (the scheduled job's lock and code)."""
    clock.set(at)
    counts: dict[str, int] = {}

    async def tick(uow: Any) -> None:
        counts.update(await clock_sweep(uow, rule_config()))

    assert await run_once(sys_.alerting.runtime, "alerting-clock-sweep", tick)
    return counts


async def alerts_about(sys_: System, scope: str) -> list[Any]:
    async with sys_.alerting.runtime.engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(alerts)
                .where(alerts.c.condition_key.endswith(f"|scope:{scope}"))
                .order_by(alerts.c.rule_id)
            )
        ).all()


async def wait_for_alert(sys_: System, scope: str, rule_id: str) -> Any:
    async def probe() -> Any:
        found = [a for a in await alerts_about(sys_, scope) if a.rule_id == rule_id]
        return found[0] if found else None

    return await wait_for(probe, what=f"{rule_id} on {scope} in alerting")


async def reminders(sys_: System, rule_id: str) -> list[tuple[str, str, str, str, str]]:
    async with sys_.alerting.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    notifications.c.dedupe_key,
                    notifications.c.kind,
                    notifications.c.recipient,
                    notifications.c.unit,
                    notifications.c.message,
                )
                .where(notifications.c.rule_id == rule_id)
                .order_by(notifications.c.dedupe_key)
            )
        ).all()
    return [tuple(r) for r in rows]


async def alerting_row(sys_: System, table: sa.Table, where: Any) -> Any:
    """A row of alerting's own table once the event that writes it has arrived."""

    async def probe() -> Any:
        async with sys_.alerting.runtime.engine.connect() as conn:
            return (await conn.execute(sa.select(table).where(where))).first()

    return await wait_for(probe, what=f"{table.name} row in alerting")


# -- the tests ---------------------------------------------------------------------------------


async def test_a_leaders_out_of_order_choice_lights_r9_red_with_a_ticket(
    system: System,
) -> None:
    city = rule_config().city
    category = new_category()
    households = await qualified(system, category, 3)
    units = await add_units(system.allocation, 1)
    round_id = await drawn_round(system.allocation, category, units)
    order = await ranking(system.allocation, round_id)
    by_ref = {h.reference: h for h in households}
    jumper = by_ref[order[2]]
    reason = "该户家庭成员重病需就近就医，经集体研究同意优先选房"

    r = await post(
        system.allocation,
        f"/rounds/{round_id}/overrides",
        LEADER,
        {"household_reference": jumper.reference, "unit_id": units[0], "reason": reason},
    )
    assert r.status_code == 201, r.text
    allocation_id = r.json()["id"]

    light = await wait_for_alert(system, f"allocation:{allocation_id}", "R9")
    event = await sent_by_allocation(system, "allocation.order_overridden", allocation_id)
    assert (light.rule_id, light.colour, light.unit, light.cleared_at) == ("R9", "red", city, None)
    assert light.application_id == jumper.application_id
    assert (light.source, light.source_event_id) == ("allocation.order_overridden", event.id)
    assert light.details == {
        "allocation_id": allocation_id,
        "round_id": round_id,
        "household_reference": jumper.reference,
        "rank": 3,
        "next_in_order": order[0],
        "leader": "leader-1",
        "reason": reason,
    }
    # R9 is the only light about this allocation so far (F4's clock has not run out).
    assert [a.rule_id for a in await alerts_about(system, f"allocation:{allocation_id}")] == ["R9"]

    async with system.alerting.runtime.engine.connect() as conn:
        ticket = (
            await conn.execute(
                sa.select(tickets).where(
                    tickets.c.rule_id == "R9", tickets.c.application_id == jumper.application_id
                )
            )
        ).one()
        sms = await conn.scalar(
            sa.select(notifications.c.message).where(
                notifications.c.kind == "red_light", notifications.c.ticket_id == ticket.ticket_id
            )
        )
    assert (ticket.colour, ticket.step, ticket.unit) == ("red", "handling", city)
    assert sms.startswith("【红灯预警】R9 未按轮候顺序配租（插队）")

    page = await system.alerting.client.get(
        "/alerts",
        params={"rule_id": "R9", "application_id": str(jumper.application_id)},
        headers=CITY_SUPERVISOR,
    )
    assert page.status_code == 200, page.text
    [shown] = page.json()["items"]
    assert (shown["rule_id"], shown["colour"], shown["unit"], shown["status"]) == (
        "R9",
        "red",
        city,
        "open",
    )
    assert shown["tracking_no"] == jumper.reference
    assert shown["details"]["household_reference"] == jumper.reference


async def test_contract_deadline_reminds_n3_lights_f6_and_unpublished_results_light_f4(
    system: System,
) -> None:
    city = rule_config().city
    category = new_category()
    households = await qualified(system, category, 2)
    units = await add_units(system.allocation, 2)
    # The round on fixed days (Shanghai = UTC+8), so every deadline below is a known date:
    # frozen Monday 2 Nov, drawn Monday 9 Nov after the 5-day objection period.
    await move_clock(system, datetime(2026, 11, 2, 1, 0, tzinfo=UTC))
    round_id = await frozen_round(system.allocation, category, units)
    r = await post(system.allocation, f"/rounds/{round_id}/commitment", OFFICER)
    assert r.status_code == 200, r.text
    await move_clock(system, datetime(2026, 11, 9, 1, 0, tzinfo=UTC))
    r = await post(
        system.allocation,
        f"/rounds/{round_id}/draw",
        NOTARY,
        {"public_input": f"2026-11-09 {uuid.uuid4().hex[:8]}"},
    )
    assert r.status_code == 200, r.text
    first, second = await ranking(system.allocation, round_id)
    by_ref = {h.reference: h for h in households}

    # Monday 9 Nov 09:10: both choose within their slot; contracts are due Monday 16 Nov.
    await move_clock(system, datetime(2026, 11, 9, 1, 10, tzinfo=UTC))
    late_alloc = await select(system, round_id, first, units[0])
    kept_alloc = await select(system, round_id, second, units[1])
    late = await issue_contract(system, late_alloc)
    kept = await issue_contract(system, kept_alloc)
    assert late["sign_by"] == kept["sign_by"] == "2026-11-16"
    # The second household signs on Tuesday; the first never does.
    await move_clock(system, datetime(2026, 11, 10, 2, 0, tzinfo=UTC))
    r = await post(system.allocation, f"/contracts/{kept['id']}/sign", OFFICER)
    assert r.status_code == 200, r.text

    await alerting_row(system, contracts, contracts.c.contract_id == uuid.UUID(late["id"]))
    signed = await alerting_row(
        system,
        contracts,
        sa.and_(
            contracts.c.contract_id == uuid.UUID(kept["id"]), contracts.c.signed_at.is_not(None)
        ),
    )
    assert signed.sign_by.isoformat() == "2026-11-16"

    # N3 from the working day before sign_by: Friday 13 Nov 00:00 Shanghai, not Thursday.
    await sweep_alerting(system, datetime(2026, 11, 12, 15, 0, tzinfo=UTC))
    assert await reminders(system, "N3") == []
    await sweep_alerting(system, datetime(2026, 11, 13, 1, 0, tzinfo=UTC))
    await sweep_alerting(system, datetime(2026, 11, 13, 5, 0, tzinfo=UTC))
    n3 = [
        (
            f"N3:{late['id']}:2026-11-16",
            "contract_deadline",
            f"supervisor@{city}",
            city,
            f"【临期提醒】轮候家庭{first}的租赁合同签约期限为2026-11-16，请督促其按期签订。",
        )
    ]
    assert await reminders(system, "N3") == n3

    # F4: allocated Monday 9 Nov 09:10, 5 working days run to the end of Monday 16 Nov.
    await sweep_alerting(system, datetime(2026, 11, 16, 8, 0, tzinfo=UTC))
    for allocation_id in (late_alloc, kept_alloc):
        assert await alerts_about(system, f"allocation:{allocation_id}") == []

    # Tuesday 17 Nov: allocation's deadline sweep finds the first contract unsigned.
    await move_clock(system, datetime(2026, 11, 17, 1, 0, tzinfo=UTC), run_sweeps=True)
    light = await wait_for_alert(system, f"contract:{late['id']}", "F6")
    overdue = await sent_by_allocation(system, "allocation.contract_overdue", late["id"])
    assert (light.rule_id, light.colour, light.unit, light.cleared_at) == (
        "F6",
        "yellow",
        city,
        None,
    )
    assert light.application_id == by_ref[first].application_id
    assert (light.source, light.source_event_id) == ("allocation.contract_overdue", overdue.id)
    assert light.details == {
        "contract_id": late["id"],
        "allocation_id": late_alloc,
        "household_reference": first,
        "sign_by": "2026-11-16",
    }
    assert await alerts_about(system, f"contract:{kept['id']}") == []
    # A yellow past fact: no ticket by itself.
    async with system.alerting.runtime.engine.connect() as conn:
        f6_tickets = await conn.scalar(
            sa.select(sa.func.count()).select_from(tickets).where(tickets.c.rule_id == "F6")
        )
    assert f6_tickets == 0
    r = await post(system.allocation, f"/contracts/{late['id']}/sign", OFFICER)
    assert r.status_code == 409

    counts = await sweep_alerting(system, datetime(2026, 11, 17, 1, 0, tzinfo=UTC))
    assert counts["F4"] >= 2
    for allocation_id, reference in ((late_alloc, first), (kept_alloc, second)):
        [f4] = await alerts_about(system, f"allocation:{allocation_id}")
        assert (f4.rule_id, f4.colour, f4.unit, f4.source, f4.cleared_at) == (
            "F4",
            "yellow",
            city,
            "clock",
            None,
        )
        assert f4.application_id == by_ref[reference].application_id
    # The overdue contract is past reminding: still the one N3.
    assert await reminders(system, "N3") == n3


async def test_annual_confirmation_reminds_n4_for_households_not_yet_confirmed(
    system: System,
) -> None:
    city = rule_config().city
    category = new_category()
    households = await qualified(system, category, 3)
    await move_clock(system, datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    r = await post(
        system.allocation,
        "/waiting/confirmation-notices",
        OFFICER,
        {"category": category, "confirm_by": "2026-12-14"},  # a Monday
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"households": 3, "confirm_by": "2026-12-14"}
    await move_clock(system, datetime(2026, 12, 2, 1, 0, tzinfo=UTC))
    confirmer = households[0]
    r = await post(system.allocation, f"/waiting/{confirmer.reference}/confirm", OFFICER)
    assert r.status_code == 200, r.text

    asked = sa.select(waiting_confirmations.c.application_id).where(
        waiting_confirmations.c.confirm_by == date(2026, 12, 14)
    )

    async def all_heard() -> bool:
        async with system.alerting.runtime.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        waiting_confirmations.c.application_id,
                        waiting_confirmations.c.confirmed_at,
                    ).where(waiting_confirmations.c.application_id.in_(asked))
                )
            ).all()
        return {(r.application_id, r.confirmed_at is not None) for r in rows} == {
            (h.application_id, h is confirmer) for h in households
        }

    await wait_for(all_heard, what="confirmation requests and the confirmation in alerting")

    # N4 from the working day before confirm_by: Friday 11 Dec 00:00 Shanghai.
    await sweep_alerting(system, datetime(2026, 12, 10, 8, 0, tzinfo=UTC))
    assert await reminders(system, "N4") == []
    await sweep_alerting(system, datetime(2026, 12, 10, 16, 30, tzinfo=UTC))
    await sweep_alerting(system, datetime(2026, 12, 11, 3, 0, tzinfo=UTC))
    assert await reminders(system, "N4") == [
        (
            "N4:2026-12-14",
            "confirmation_deadline",
            f"supervisor@{city}",
            city,
            "【临期提醒】2户轮候家庭的年度轮候确认将于2026-12-14到期，尚未确认，请及时提醒。",
        )
    ]
