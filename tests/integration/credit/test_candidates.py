"""Pledges and dishonesty candidates arrive as real events over the broker; officers decide."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from services.credit.tables import candidates, pledges
from shared.events.catalogue import (
    ApplicationSubmitted,
    Discrepancy,
    EconomicProfile,
    VerificationCompleted,
)
from shared.pii import keyed_hash
from shared.settings import DEV_ID_HASH_KEY
from tests.examples import resident_id
from tests.harness import publish_and_handle
from tests.integration.credit.conftest import OFFICER_A, OFFICER_B
from tests.services import RunningService

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
APPLICANT = resident_id(serial="801")
SPOUSE = resident_id(birth="19910203", serial="802")
APPLICANT_HASH = keyed_hash(APPLICANT, DEV_ID_HASH_KEY)
SPOUSE_HASH = keyed_hash(SPOUSE, DEV_ID_HASH_KEY)


def submitted(application_id: uuid.UUID) -> ApplicationSubmitted:
    return ApplicationSubmitted(
        application_id=application_id,
        tracking_no="XM2026-000801",
        city="350200",
        district="350203",
        street="350203001",
        channel="online",
        category="low_income_family",
        member_count=2,
        submitted_at=T0,
        member_id_hashes=[APPLICANT_HASH, SPOUSE_HASH],
        applicant_name_masked="陈*华",
        applicant_id_masked="3502**********" + APPLICANT[-4:],
        pledge_version="v2026.1",
        pledge_signed_at=T0,
    )


def completed(application_id: uuid.UUID, case_id: uuid.UUID) -> VerificationCompleted:
    return VerificationCompleted(
        case_id=case_id,
        application_id=application_id,
        category="low_income_family",
        completed_at=T0,
        recommendation="ineligible",
        reasons=["家庭人均住房面积超过准入标准"],
        profile=EconomicProfile(
            member_count=2,
            monthly_income_total=Decimal("6000.00"),
            per_capita_monthly_income=Decimal("3000.00"),
            financial_assets=Decimal("20000.00"),
            housing_area_m2=Decimal("87.50"),
            per_capita_housing_area_m2=Decimal("43.75"),
            vehicle_count=0,
            vehicle_value=Decimal("0.00"),
            business_count=0,
            registered_capital_total=Decimal("0.00"),
        ),
        discrepancies=[
            Discrepancy(
                member_id_hash=None,
                field="housing_area_m2",
                declared="0",
                verified="87.50",
                department="real_estate",
            ),
            Discrepancy(
                member_id_hash=SPOUSE_HASH,
                field="monthly_income",
                declared="2800.00",
                verified="5200.00",
                department="tax",
            ),
        ],
        parameters_version=1,
    )


async def test_discrepancies_become_candidates_that_an_officer_confirms_or_dismisses(
    credit: RunningService,
) -> None:
    application_id, case_id = uuid.uuid4(), uuid.uuid4()
    await publish_and_handle(credit, submitted(application_id), producer="intake")
    async with credit.runtime.engine.connect() as conn:
        assert (
            await conn.scalar(
                sa.select(sa.func.count())
                .select_from(pledges)
                .where(pledges.c.application_id == application_id)
            )
            == 1
        )
    pledge_page = await credit.client.get(
        "/pledges", params={"id_hash": SPOUSE_HASH}, headers=OFFICER_A
    )
    assert [(p["pledge_version"], p["member_count"]) for p in pledge_page.json()["items"]] == [
        ("v2026.1", 2)
    ]

    # The same finding delivered twice (a re-run of verification) makes no second candidate.
    await publish_and_handle(credit, completed(application_id, case_id), producer="verification")
    await publish_and_handle(credit, completed(application_id, case_id), producer="verification")
    by_case = (
        sa.select(sa.func.count()).select_from(candidates).where(candidates.c.case_id == case_id)
    )
    async with credit.runtime.engine.connect() as conn:
        assert await conn.scalar(by_case) == 2

    page = await credit.client.get(
        "/candidates", params={"application_id": str(application_id)}, headers=OFFICER_A
    )
    assert page.status_code == 200
    items = {c["id_hash"]: c for c in page.json()["items"]}
    assert set(items) == {APPLICANT_HASH, SPOUSE_HASH}
    applicant, spouse = items[APPLICANT_HASH], items[SPOUSE_HASH]
    assert applicant["suggested_kind"] == "concealed_housing"
    assert applicant["subject_id_masked"] == "3502**********" + APPLICANT[-4:]
    assert spouse["suggested_kind"] == "concealed_assets"

    # Nothing is recorded, let alone banned, until an officer acts.
    records_page = await credit.client.get(
        "/records", params={"id_hash": APPLICANT_HASH}, headers=OFFICER_A
    )
    assert records_page.json()["total"] == 0

    confirmed = await credit.client.post(
        f"/candidates/{applicant['id']}/confirm",
        json={"severity": "general", "facts": "申报无房，经不动产登记核实有住房87.5平方米"},
        headers=OFFICER_A,
    )
    assert confirmed.status_code == 201, confirmed.json()
    record = confirmed.json()
    assert (record["stage"], record["kind"], record["origin"]) == (
        "pending_approval",
        "concealed_housing",
        "verification",
    )
    assert record["subject_name_masked"] == "陈*华"
    assert record["application_id"] == str(application_id)
    assert record["candidate_id"] == applicant["id"]
    assert record["evidence"][0]["reference"] == f"real_estate/{case_id}"
    again = await credit.client.post(
        f"/candidates/{applicant['id']}/confirm",
        json={"severity": "general", "facts": "重复确认"},
        headers=OFFICER_B,
    )
    assert again.status_code == 409

    # A resident ID that is not the candidate's is refused.
    wrong = await credit.client.post(
        f"/candidates/{spouse['id']}/confirm",
        json={"severity": "general", "facts": "x", "resident_id": resident_id(serial="899")},
        headers=OFFICER_A,
    )
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "resident_id"
    dismissed = await credit.client.post(
        f"/candidates/{spouse['id']}/dismiss",
        json={"reason": "收入差异系年终奖一次性发放，不属于瞒报"},
        headers=OFFICER_B,
    )
    assert dismissed.status_code == 200
    open_page = await credit.client.get(
        "/candidates", params={"application_id": str(application_id)}, headers=OFFICER_A
    )
    assert open_page.json()["total"] == 0
