"""A ban filed in credit stops the banned member at intake, through real events both ways.

credit and intake run side by side on one broker (same ``system``): credit's
``credit.ban_imposed`` reaches intake's ban projection, intake refuses the member's application,
and after an approved early lift (``credit.ban_lifted``) the same family may apply. Intake's
``application.submitted`` in turn registers the family's integrity pledge in credit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.credit.tables import pledges
from shared.clock import clock, today_shanghai
from shared.tables import inbox, outbox
from tests.conftest import Infra
from tests.examples import resident_id
from tests.harness import wait_for
from tests.integration.credit.conftest import (
    OFFICER_A,
    OFFICER_B,
    family_record,
    file_record,
)
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.integration

SYSTEM = "credit-intake"
PORTAL = token("portal", org="350200", sub="portal-1")


@pytest.fixture(scope="module")
async def pair(infra: Infra) -> AsyncIterator[tuple[RunningService, RunningService]]:
    async with (
        running_service(infra, "credit", system=SYSTEM) as credit,
        running_service(infra, "intake", system=SYSTEM) as intake,
    ):
        yield credit, intake


def application(*ids: str) -> dict[str, Any]:
    """A valid body for intake's ``POST /applications`` (schema: services/intake/schemas.py)."""
    return {
        "category": "low_income_family",
        "street": "350203001",
        "channel": "online",
        "mobile": "13812345678",
        "members": [
            {
                "name": name,
                "resident_id": rid,
                "relationship": relationship,
                "marital_status": "married",
                "hukou_division": "350203",
                "residence_permit": False,
                "declared_monthly_income": "3200.00",
                "declared_financial_assets": "20000.00",
                "declared_vehicle_count": 0,
                "declared_vehicle_value": "0",
            }
            for name, rid, relationship in zip(
                ["刘建国", "周秀英"], ids, ["applicant", "spouse"], strict=False
            )
        ],
        "housing": {"address": "厦门市思明区某某路8号", "area_m2": "0", "tenure": "private_rental"},
        "pledge": {"version": "2026.1", "signed_at": datetime.now(UTC).isoformat()},
    }


async def handled_by_intake(
    credit: RunningService, intake: RunningService, record_id: str, event_type: str
) -> None:
    """Wait until intake's consumer committed credit's ``event_type`` about ``record_id``."""
    async with credit.runtime.engine.connect() as conn:
        event_id = (
            await conn.execute(
                sa.select(outbox.c.id).where(
                    outbox.c.subject == record_id, outbox.c.type == event_type
                )
            )
        ).scalar_one()

    async def in_inbox() -> object:
        async with intake.runtime.engine.connect() as conn:
            return await conn.scalar(
                sa.select(inbox.c.event_id).where(inbox.c.event_id == event_id)
            )

    await wait_for(in_inbox, timeout=30, what=f"intake handling {event_type} of {record_id}")


async def test_a_banned_member_is_refused_by_intake_until_the_ban_is_lifted(
    pair: tuple[RunningService, RunningService],
) -> None:
    credit, intake = pair
    applicant, banned = resident_id(serial="901"), resident_id(birth="19880808", serial="902")
    # Filed 4 days ago in real time, so that intake (on the real clock) sees a ban in force.
    filed_day = today_shanghai() - timedelta(days=20)
    try:
        recorded = await file_record(
            credit, family_record(banned, severity="general"), day=filed_day.isoformat()
        )
    finally:
        clock.reset()
    record_id = recorded["id"]
    assert recorded["ban"]["starts_on"] == (filed_day + timedelta(days=16)).isoformat()

    await handled_by_intake(credit, intake, record_id, "credit.ban_imposed")
    refused = await intake.client.post(
        "/applications", json=application(applicant, banned), headers=PORTAL
    )
    assert refused.status_code == 403, refused.json()
    problem = refused.json()
    assert problem["type"].endswith("/problems#integrity-ban")
    assert problem["field"] == "members.1.resident_id"
    assert problem["ban_ends_on"] == recorded["ban"]["ends_on"]
    assert banned not in refused.text

    # An early lift approved by a second officer reaches intake too.
    requested = await credit.client.post(
        f"/records/{record_id}/lift", json={"reason": "复核认定系误报，予以撤销"}, headers=OFFICER_A
    )
    assert requested.status_code == 202
    approved = await credit.client.post(
        f"/records/{record_id}/lift/approve", json={}, headers=OFFICER_B
    )
    assert approved.status_code == 200
    await handled_by_intake(credit, intake, record_id, "credit.ban_lifted")
    accepted = await intake.client.post(
        "/applications", json=application(applicant, banned), headers=PORTAL
    )
    assert accepted.status_code == 201, accepted.json()
    application_id = accepted.json()["id"]

    # ... and intake's application.submitted registers the pledge in credit.

    async def registered() -> sa.Row[Any] | None:
        async with credit.runtime.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.select(pledges).where(pledges.c.application_id == application_id)
                )
            ).first()

    pledge = await wait_for(registered, what="pledge registered")
    assert (pledge.pledge_version, len(pledge.member_id_hashes)) == ("2026.1", 2)
    assert pledge.member_id_hashes[1] == recorded["id_hash"]
