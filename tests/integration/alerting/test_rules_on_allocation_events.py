"""The allocation rules from real allocation and publication events on the real broker: F4
(result not published in time), N3 (contract signing reminder) and F6 (unsigned past the
deadline), N4 (annual confirmation reminder), R9 (queue-jumping: red light and ticket)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.alerting.tables import alerts, notifications, tickets
from shared.events import catalogue as ev
from tests.integration.alerting.builders import T0, accepted
from tests.integration.alerting.conftest import Harness
from tests.services import token

pytestmark = pytest.mark.integration

CITY_SUPERVISOR = token("supervisor", org="350200", sub="city-sup")


async def lights(h: Harness, *where: sa.ColumnElement[bool]) -> list[tuple[str, str, str]]:
    """(rule_id, open|cleared, unit) of the alerts matching ``where``, sorted."""
    async with h.alerting.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(alerts.c.rule_id, alerts.c.cleared_at, alerts.c.unit).where(*where)
            )
        ).all()
    return sorted((r.rule_id, "open" if r.cleared_at is None else "cleared", r.unit) for r in rows)


async def reminders(h: Harness, rule_id: str) -> list[tuple[str, str, str]]:
    async with h.alerting.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(notifications.c.dedupe_key, notifications.c.unit, notifications.c.message)
                .where(notifications.c.rule_id == rule_id)
                .order_by(notifications.c.dedupe_key)
            )
        ).all()
    return [tuple(r) for r in rows]


def allocated(reference: str, at: datetime = T0) -> ev.AllocationUnitAllocated:
    return ev.AllocationUnitAllocated(
        allocation_id=uuid.uuid4(),
        round_id=uuid.uuid4(),
        household_reference=reference,
        unit_id=uuid.uuid4(),
        unit_code="XM-B-101",
        rank=1,
        allocated_at=at,
    )


def results_notice(
    application_ids: list[uuid.UUID], allocation_ids: list[uuid.UUID], at: datetime
) -> ev.PublicityOpened:
    return ev.PublicityOpened(
        notice_id=uuid.uuid4(),
        kind="allocation",
        city="350200",
        unit="350200",
        batch="低收入家庭 批次1",
        application_ids=application_ids,
        opened_at=at,
        closes_at=at + timedelta(days=7),
        planned_days=7,
        allocation_ids=allocation_ids,
    )


def of_allocation(allocation_id: uuid.UUID) -> sa.ColumnElement[bool]:
    return alerts.c.condition_key == f"app:-|case:-|stage:-|scope:allocation:{allocation_id}"


async def test_f4_lights_when_a_result_is_not_published_in_time_and_clears_on_its_notice(
    harness: Harness,
) -> None:
    app = accepted("350203011", tracking_no="ALLOC-F4-0001")
    await harness.publish(app)
    late = allocated("ALLOC-F4-0001")
    await harness.publish(late)
    # Allocated Monday 16 Nov 09:00: 5 working days run to the end of Monday 23 Nov.
    await harness.sweep(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
    assert await lights(harness, of_allocation(late.allocation_id)) == []
    result = await harness.sweep(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    assert result["F4"] >= 1
    assert await lights(harness, of_allocation(late.allocation_id)) == [("F4", "open", "350200")]
    async with harness.alerting.runtime.engine.connect() as conn:
        application_id = await conn.scalar(
            sa.select(alerts.c.application_id).where(of_allocation(late.allocation_id))
        )
    assert application_id == app.application_id
    # A second sweep raises nothing more.
    await harness.sweep(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    assert len(await lights(harness, of_allocation(late.allocation_id))) == 1

    published_at = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    await harness.publish(results_notice([app.application_id], [late.allocation_id], published_at))
    assert await lights(harness, of_allocation(late.allocation_id)) == [("F4", "cleared", "350200")]
    # The results notice is not a qualification publicity: no R7 for its length.
    assert await lights(harness, alerts.c.rule_id == "R7", alerts.c.unit == "350200") == []


async def test_f4_does_not_light_for_a_result_published_in_time(harness: Harness) -> None:
    app = accepted("350203012", tracking_no="ALLOC-F4-0002")
    await harness.publish(app)
    on_time = allocated("ALLOC-F4-0002")
    await harness.publish(on_time)
    await harness.publish(
        results_notice(
            [app.application_id],
            [on_time.allocation_id],
            datetime(2026, 11, 17, 1, 0, tzinfo=UTC),
        )
    )
    await harness.sweep(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
    assert await lights(harness, of_allocation(on_time.allocation_id)) == []


async def test_n3_reminds_the_working_day_before_sign_by_and_f6_lights_when_it_passed(
    harness: Harness,
) -> None:
    unsigned = ev.AllocationContractIssued(
        contract_id=uuid.uuid4(),
        allocation_id=uuid.uuid4(),
        household_reference="ALLOC-N3-0001",
        sign_by=date(2026, 11, 23),  # a Monday
    )
    signed_in_time = ev.AllocationContractIssued(
        contract_id=uuid.uuid4(),
        allocation_id=uuid.uuid4(),
        household_reference="ALLOC-N3-0002",
        sign_by=date(2026, 11, 23),
    )
    await harness.publish(unsigned, signed_in_time)
    await harness.publish(
        ev.AllocationContractSigned(
            contract_id=signed_in_time.contract_id,
            allocation_id=signed_in_time.allocation_id,
            household_reference="ALLOC-N3-0002",
            unit_id=uuid.uuid4(),
            monthly_rent="420.00",
            starts_on=date(2026, 11, 24),
            recovery_clauses=["sublet"],
            signed_at=datetime(2026, 11, 18, 2, 0, tzinfo=UTC),
        )
    )
    # Thursday: not yet. Friday (the working day before Monday): one reminder, once.
    await harness.sweep(datetime(2026, 11, 19, 8, 0, tzinfo=UTC))
    assert await reminders(harness, "N3") == []
    await harness.sweep(datetime(2026, 11, 20, 1, 0, tzinfo=UTC))
    await harness.sweep(datetime(2026, 11, 20, 5, 0, tzinfo=UTC))
    assert await reminders(harness, "N3") == [
        (
            f"N3:{unsigned.contract_id}:2026-11-23",
            "350200",
            "【临期提醒】轮候家庭ALLOC-N3-0001的租赁合同签约期限为2026-11-23，请督促其按期签订。",
        )
    ]

    await harness.publish(
        ev.AllocationContractOverdue(
            contract_id=unsigned.contract_id,
            allocation_id=unsigned.allocation_id,
            household_reference="ALLOC-N3-0001",
            sign_by=date(2026, 11, 23),
        )
    )
    scope = alerts.c.condition_key == f"app:-|case:-|stage:-|scope:contract:{unsigned.contract_id}"
    assert await lights(harness, scope) == [("F6", "open", "350200")]
    # A yellow past fact: no ticket by itself.
    async with harness.alerting.runtime.engine.connect() as conn:
        assert (
            await conn.scalar(
                sa.select(sa.func.count()).select_from(tickets).where(tickets.c.rule_id == "F6")
            )
            == 0
        )


async def test_n4_reminds_before_confirm_by_only_for_households_not_confirmed(
    harness: Harness,
) -> None:
    asked = [
        ev.AllocationConfirmationRequested(
            entry_id=uuid.uuid4(),
            application_id=uuid.uuid4(),
            household_reference=f"ALLOC-N4-000{i}",
            confirm_by=date(2026, 12, 14),  # a Monday
        )
        for i in (1, 2, 3)
    ]
    await harness.publish(*asked)
    await harness.publish(
        ev.AllocationNeedConfirmed(
            entry_id=asked[0].entry_id,
            application_id=asked[0].application_id,
            household_reference=asked[0].household_reference,
            confirmed_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        )
    )
    await harness.sweep(datetime(2026, 12, 10, 8, 0, tzinfo=UTC))
    assert await reminders(harness, "N4") == []
    await harness.sweep(datetime(2026, 12, 11, 1, 0, tzinfo=UTC))
    await harness.sweep(datetime(2026, 12, 11, 3, 0, tzinfo=UTC))
    assert await reminders(harness, "N4") == [
        (
            "N4:2026-12-14",
            "350200",
            "【临期提醒】2户轮候家庭的年度轮候确认将于2026-12-14到期，尚未确认，请及时提醒。",
        )
    ]


async def test_queue_jump_lights_red_with_a_ticket_for_the_city(harness: Harness) -> None:
    app = accepted("350203013", tracking_no="ALLOC-R9-0001")
    await harness.publish(app)
    override = ev.AllocationOrderOverridden(
        allocation_id=uuid.uuid4(),
        round_id=uuid.uuid4(),
        household_reference="ALLOC-R9-0001",
        rank=7,
        next_in_order="ALLOC-R9-0002",
        leader="leader-9",
        reason="该户家庭成员重病需就近就医，经集体研究同意优先选房",
    )
    await harness.publish(override)
    await harness.publish(override.model_copy())  # the same fact reported again: one light
    about = alerts.c.condition_key.endswith(f"|scope:allocation:{override.allocation_id}")
    assert await lights(harness, about) == [("R9", "open", "350200")]
    async with harness.alerting.runtime.engine.connect() as conn:
        ticket = (
            await conn.execute(
                sa.select(tickets).where(
                    tickets.c.rule_id == "R9", tickets.c.application_id == app.application_id
                )
            )
        ).one()
        sms = await conn.scalar(
            sa.select(notifications.c.message).where(
                notifications.c.kind == "red_light", notifications.c.ticket_id == ticket.ticket_id
            )
        )
    assert (ticket.colour, ticket.step, ticket.unit) == ("red", "handling", "350200")
    assert sms.startswith("【红灯预警】R9 未按轮候顺序配租（插队）")
    page = await harness.client.get(
        "/alerts",
        params={"application_id": str(app.application_id)},
        headers=CITY_SUPERVISOR,
    )
    assert page.status_code == 200
    [alert] = page.json()["items"]
    assert alert["rule_id"] == "R9" and alert["colour"] == "red"
    street = await harness.client.get(
        "/alerts",
        params={"application_id": str(app.application_id)},
        headers=token("supervisor", org="350203001", sub="street-sup"),
    )
    assert street.json()["items"] == []
