"""A running tenancy service beside credit (real PostgreSQL and RabbitMQ), and helpers that
open a lease the way allocation would: intake's submission, verification's result, the
signed contract."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared.clock import clock
from shared.events.catalogue import (
    AllocationContractSigned,
    ApplicationSubmitted,
    EconomicProfile,
    VerificationCompleted,
)
from tests.conftest import Infra
from tests.harness import publish_and_handle, wait_for
from tests.services import RunningService, running_service, token

OFFICER = token("housing_officer", sub="officer-a")
CHANNEL = token("service", sub="pay-channel")
CREDIT_OFFICER = token("credit_officer", sub="credit-1")

CLAUSES = [
    "false_application",
    "sublet",
    "changed_use",
    "damaged_structure",
    "vacant_six_months",
    "rent_arrears_two_months",
]


@pytest.fixture(scope="module")
async def tenancy(infra: Infra) -> AsyncIterator[RunningService]:
    async with running_service(infra, "tenancy", system="tenancy") as svc:
        yield svc


@pytest.fixture(scope="module")
async def credit(infra: Infra, tenancy: RunningService) -> AsyncIterator[RunningService]:
    """Credit in the same system: it hears tenancy's referrals."""
    async with running_service(infra, "credit", system="tenancy") as svc:
        yield svc


def id_hash() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


@contextmanager
def on_day(day: date) -> Iterator[None]:
    """The service's clock at noon (Shanghai afternoon) of ``day``."""
    clock.set(datetime.combine(day, time(4), UTC))
    try:
        yield
    finally:
        clock.reset()


async def run(svc: RunningService, sweep: Any) -> None:
    runtime = svc.runtime
    async with runtime.uow() as uow:
        await sweep(runtime.context, uow)
        await uow.commit()


async def open_lease(
    svc: RunningService,
    *,
    starts_on: date,
    monthly_rent: str = "475.00",
    assistance: str | None = None,
    clauses: list[str] | None = None,
) -> dict[str, Any]:
    """A household submitted, verified (optionally with an assistance status) and signed."""
    application_id = uuid.uuid4()
    reference = f"XM-{uuid.uuid4().hex[:10].upper()}"
    at = datetime(2025, 11, 3, 2, 0, tzinfo=UTC)
    submitted = ApplicationSubmitted(
        application_id=application_id,
        tracking_no=reference,
        city="350200",
        district="350206",
        street="350206001",
        channel="online",
        category="low_income_family",
        member_count=2,
        submitted_at=at,
        member_id_hashes=[id_hash(), id_hash()],
        applicant_name_masked="张*丰",
        applicant_id_masked="3502**********1234",
        pledge_version="v1",
        pledge_signed_at=at,
    )
    await publish_and_handle(svc, submitted, producer="intake")
    zero = Decimal("0.00")
    verified = VerificationCompleted(
        case_id=uuid.uuid4(),
        application_id=application_id,
        category="low_income_family",
        completed_at=at + timedelta(days=10),
        recommendation="eligible",
        reasons=["人均月收入低于准入标准"],
        profile=EconomicProfile(
            member_count=2,
            monthly_income_total=Decimal("3000.00"),
            per_capita_monthly_income=Decimal("1500.00"),
            financial_assets=zero,
            housing_area_m2=zero,
            per_capita_housing_area_m2=zero,
            vehicle_count=0,
            vehicle_value=zero,
            business_count=0,
            registered_capital_total=zero,
            assistance_status=assistance,  # type: ignore[arg-type]
        ),
        parameters_version=1,
    )
    await publish_and_handle(svc, verified, producer="verification")
    contract_id = uuid.uuid4()
    signed = AllocationContractSigned(
        contract_id=contract_id,
        allocation_id=uuid.uuid4(),
        household_reference=reference,
        unit_id=uuid.uuid4(),
        monthly_rent=Decimal(monthly_rent),
        starts_on=starts_on,
        recovery_clauses=CLAUSES if clauses is None else clauses,
        signed_at=at + timedelta(days=30),
    )
    await publish_and_handle(svc, signed, producer="allocation", subject=contract_id)
    r = await svc.client.get(f"/leases?household_reference={reference}", headers=OFFICER)
    assert r.status_code == 200, r.text
    [lease] = r.json()["items"]
    return {
        **lease,
        "application_id": str(application_id),
        "tenant_id_hash": submitted.member_id_hashes[0],
    }


async def post(svc: RunningService, url: str, body: Any = None, headers: Any = None) -> Any:
    return await svc.client.post(url, headers=headers or OFFICER, json=body)


async def bills(svc: RunningService, lease_id: str) -> list[dict[str, Any]]:
    r = await svc.client.get(f"/leases/{lease_id}/bills", headers=OFFICER)
    assert r.status_code == 200, r.text
    return r.json()


async def credit_records(credit: RunningService, id_hash_: str) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]]:
        r = await credit.client.get(f"/records?id_hash={id_hash_}", headers=CREDIT_OFFICER)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    return await wait_for(probe, what="credit record from tenancy's referral")
