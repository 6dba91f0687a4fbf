"""Fixture records of the simulated departments: plausible, deterministic findings.

Every figure is derived from a hash of the department and the subject's ``member_ref`` (never
from the resident ID in clear), so the same household always gets the same answer, across
runs and processes, and tests can rely on it. Roughly: most people have a wage income on
record, some own property, a few own a vehicle or a business; health, disability and
veterans' records are rare. The bank department reports a deposit for most people, a
wealth-management product for some and securities for a few (``financial_asset`` findings).
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

from shared.events.catalogue import (
    AssistanceFinding,
    BusinessFinding,
    DisabilityFinding,
    FinancialAssetFinding,
    HukouFinding,
    IncomeFinding,
    MarriageFinding,
    PensionFinding,
    PropertyFinding,
    ProvidentFundFinding,
    Subject,
    VehicleFinding,
    VerificationRequested,
    VeteranFinding,
)
from simulators.sdk import Answer


def draw(*parts: str) -> int:
    """A stable pseudo-random number in [0, 10000) for the given parts."""
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 10_000


def _money(low: int, high: int, n: int) -> Decimal:
    return Decimal(low + (high - low) * n // 10_000).quantize(Decimal("0.01"))


def _findings(department: str, s: Subject) -> list[object]:
    ref = s.member_ref
    n = draw(department, ref)
    if department == "public_security":
        return [
            HukouFinding(
                member_ref=ref,
                kind="hukou",
                division=s.hukou_division or "350203",
                residence_permit=True,
            )
        ]
    if department == "civil_affairs":
        out: list[object] = []
        if s.relationship in ("applicant", "spouse"):
            out.append(MarriageFinding(member_ref=ref, kind="marriage", status="married"))
        if n < 300:
            out.append(AssistanceFinding(member_ref=ref, kind="assistance", status="low_income"))
        return out
    if department == "real_estate":
        if n < 1500:
            return [
                PropertyFinding(
                    member_ref=ref,
                    kind="property",
                    area_m2=_money(20, 90, draw("area", ref)),
                    location="厦门市思明区某路" + str(n % 200 + 1) + "号",
                    division="350203",
                )
            ]
        return []
    if department == "hr_social_security":
        if n < 800:
            return [
                PensionFinding(
                    member_ref=ref,
                    kind="pension",
                    monthly_amount=_money(1800, 4500, draw("pension", ref)),
                    scheme="enterprise",
                )
            ]
        return []
    if department == "tax":
        if n < 8500:
            return [
                IncomeFinding(
                    member_ref=ref,
                    kind="income",
                    monthly_amount=_money(1500, 6000, draw("wage", ref)),
                    source="wages",
                )
            ]
        return []
    if department == "provident_fund":
        if n < 6000:
            return [
                ProvidentFundFinding(
                    member_ref=ref,
                    kind="provident_fund",
                    monthly_deposit=_money(200, 1200, draw("fund", ref)),
                    employer=s.employer,
                )
            ]
        return []
    if department == "market_supervision":
        if n < 700:
            return [
                BusinessFinding(
                    member_ref=ref,
                    kind="business",
                    name="厦门某某商贸有限公司",
                    registered_capital=_money(10_000, 500_000, draw("capital", ref)),
                    role="shareholder",
                )
            ]
        return []
    if department == "vehicle":
        if n < 1200:
            return [
                VehicleFinding(
                    member_ref=ref,
                    kind="vehicle",
                    plate_masked="闽D·***" + str(n % 10) + "A",
                    value=_money(30_000, 250_000, draw("car", ref)),
                )
            ]
        return []
    if department == "disabled_persons_federation":
        if n < 200:
            return [DisabilityFinding(member_ref=ref, kind="disability", grade=1 + n % 4)]
        return []
    if department == "veterans_affairs":
        if n < 100:
            return [VeteranFinding(member_ref=ref, kind="veteran", status="veteran")]
        return []
    if department == "bank":
        return _bank_findings(ref, n)
    # health and departments a city added: nothing on record.
    return []


# The banking hub answers for the institutions it asked (Taizhou asks 14 banks); a few names
# are enough for plausible answers.
BANKS = ("中国工商银行厦门分行", "中国建设银行厦门分行", "厦门银行", "兴业证券")
# Balances are reported as at the end of the month before the request; a fixed day keeps the
# answers deterministic.
BALANCE_DAY = date(2026, 10, 31)


def _bank_findings(ref: str, n: int) -> list[object]:
    """Most people hold a deposit, some a wealth-management product, a few securities."""
    out: list[object] = []
    if n < 9000:
        out.append(
            FinancialAssetFinding(
                member_ref=ref,
                kind="financial_asset",
                asset_type="deposit",
                institution=BANKS[n % 3],
                amount=_money(500, 80_000, draw("deposit", ref)),
                as_of=BALANCE_DAY,
            )
        )
    if n < 2500:
        out.append(
            FinancialAssetFinding(
                member_ref=ref,
                kind="financial_asset",
                asset_type="wealth_management",
                institution=BANKS[(n + 1) % 3],
                amount=_money(10_000, 200_000, draw("wealth", ref)),
                as_of=BALANCE_DAY,
            )
        )
    if n < 800:
        out.append(
            FinancialAssetFinding(
                member_ref=ref,
                kind="financial_asset",
                asset_type="securities",
                institution=BANKS[3],
                amount=_money(5_000, 300_000, draw("securities", ref)),
                as_of=BALANCE_DAY,
            )
        )
    return out


def fixture_answer(department: str, request: VerificationRequested) -> Answer:
    """The simulated department's answer: its findings, or an explicit "no record"."""
    findings = [f for s in request.subjects for f in _findings(department, s)]
    if not findings:
        return Answer.nothing_on_record(answered_by=f"simulator:{department}")
    return Answer(findings=findings, answered_by=f"simulator:{department}")
