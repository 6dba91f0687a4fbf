"""Example domain data for tests: valid resident IDs and a typical accepted application."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from shared.events.catalogue import ApplicationAccepted, Household, HouseholdMember
from shared.pii import keyed_hash, resident_id_check_char

HASH_KEY = "test-id-hash-key"


def resident_id(region: str = "350203", birth: str = "19900101", serial: str = "123") -> str:
    first17 = f"{region}{birth}{serial}"
    return first17 + resident_id_check_char(first17)


def accepted_application(street: str = "350203001") -> ApplicationAccepted:
    applicant_id = resident_id()
    spouse_id = resident_id(birth="19920315", serial="246")
    members = [
        HouseholdMember(
            member_id_hash=keyed_hash(rid, HASH_KEY),
            name=name,
            resident_id=rid,
            relationship=relationship,
            declared_monthly_income=Decimal(income),
            declared_financial_assets=Decimal("20000.00"),
            declared_vehicle_count=0,
            declared_vehicle_value=Decimal("0.00"),
            hukou_division=street[:6],
        )
        for name, rid, relationship, income in [
            ("张三丰", applicant_id, "applicant", "3200.00"),
            ("李四娘", spouse_id, "spouse", "2800.00"),
        ]
    ]
    return ApplicationAccepted(
        application_id=uuid.uuid4(),
        tracking_no="XM2026-000123",
        receipt_no="SL350203001-2026-0001",
        city="350200",
        district=street[:6],
        street=street,
        category="low_income_family",
        accepted_by="clerk-001",
        accepted_at=datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
        materials_complete=True,
        household=Household(
            members=members, declared_housing_area_m2=Decimal("0"), housing_tenure="none"
        ),
    )
