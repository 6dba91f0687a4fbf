"""The annual re-review's rules without I/O: the household asked about again, the
continuation verdict at its limits, the income band, and the contract's shape."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.verification.domain import (
    Answer,
    Declared,
    economic_profile,
    evaluate_continuation,
    income_band,
    known_members,
    subjects_for,
    subjects_from_members,
)
from shared.amqp.topology import narrow_to_handled, topic_matches
from shared.city import ContinuationParameters, HouseholdField, city_config
from shared.events.catalogue import (
    AssistanceFinding,
    IncomeFinding,
    PropertyFinding,
    VehicleFinding,
    VerificationRequested,
    VerificationRereviewCompleted,
)
from shared.handlers import derive_bindings
from tests.examples import accepted_application

HOUSEHOLD = accepted_application().household
DECLARED = Declared.of(HOUSEHOLD)
A, B = (m.member_id_hash for m in HOUSEHOLD.members)
LIMITS = ContinuationParameters(
    max_monthly_income_per_capita=Decimal("5400"),
    max_housing_area_per_capita=Decimal("15"),
    max_financial_assets=Decimal("360000"),
    max_vehicle_value=Decimal("150000"),
    max_business_registered_capital=Decimal("100000"),
)
ADMISSION_INCOME = Decimal("4500")
DEPARTMENTS = ("civil_affairs", "real_estate", "market_supervision", "tax", "vehicle")


def income(ref: str, amount: str) -> IncomeFinding:
    return IncomeFinding(
        member_ref=ref, kind="income", monthly_amount=Decimal(amount), source="wages"
    )


def answers(**findings: list[object]) -> dict[str, Answer]:
    return {
        d: Answer(d, no_record=not findings.get(d), findings=tuple(findings.get(d, ())))
        for d in DEPARTMENTS
    }


def outcome(ans: dict[str, Answer]):
    return evaluate_continuation(DECLARED, ans, LIMITS, admission_income_limit=ADMISSION_INCOME)


def results(ans: dict[str, Answer]) -> dict[str, tuple[str, str]]:
    return {c.check: (c.result, c.reason) for c in outcome(ans).checks}


# -- the household asked about again ----------------------------------------------------------


def test_a_rereview_sends_each_department_what_it_received_at_admission() -> None:
    departments = city_config().verifying_departments("low_income_family")
    sent = [
        [s.model_dump(mode="json") for s in subjects_for(HOUSEHOLD, d.code, d.fields)]
        for d in departments
    ]
    members = known_members(sent, DECLARED)
    assert [m["member_ref"] for m in members] == [A, B]
    for d, before in zip(departments, sent, strict=True):
        again = subjects_from_members(members, d.code, d.fields)
        assert [s.model_dump(mode="json") for s in again] == before, d.code


def test_a_field_no_department_received_is_not_invented() -> None:
    # Only real_estate was asked at admission (name and ID): tax now gets no employer.
    sent = [
        [s.model_dump(mode="json") for s in subjects_for(HOUSEHOLD, "real_estate", [])],
    ]
    members = known_members(sent, DECLARED)
    (first, _) = subjects_from_members(members, "tax", list(HouseholdField))
    assert first.employer is None and first.resident_id == HOUSEHOLD.members[0].resident_id
    (ca, _) = subjects_from_members(members, "civil_affairs", list(HouseholdField))
    assert ca.relationship == "applicant"  # from the declaration


# -- the continuation verdict -----------------------------------------------------------------


def test_exactly_at_the_continuation_limit_continues_one_cent_over_fails() -> None:
    at = answers(tax=[income(A, "5400.00"), income(B, "5400.00")])
    assert results(at)["income"] == ("passed", "within_limit")
    assert outcome(at).meets_continuation is True
    over = answers(tax=[income(A, "5400.01"), income(B, "5400.01")])
    assert results(over)["income"] == ("failed", "above_limit")
    assert outcome(over).meets_continuation is False


def test_any_failed_check_fails_the_household() -> None:
    big = PropertyFinding(member_ref=A, kind="property", area_m2=Decimal("30.02"), location="某路")
    ans = answers(tax=[income(A, "1000")], real_estate=[big])
    assert results(ans)["housing_area"] == ("failed", "above_limit")  # 15.01 m² per capita
    assert outcome(ans).meets_continuation is False


def test_unverifiable_income_leaves_the_verdict_to_a_person() -> None:
    ans = answers()
    ans["tax"] = Answer("tax", no_record=False)  # an empty answer
    checks = {c.check: c for c in outcome(ans).checks}
    assert (checks["income"].result, checks["income"].reason) == (
        "unverified",
        "no_department_answer",
    )
    assert outcome(ans).meets_continuation is None
    assert outcome(ans).income_band is None
    # A failure elsewhere still decides.
    ans["vehicle"] = Answer(
        "vehicle",
        False,
        (
            VehicleFinding(
                member_ref=A, kind="vehicle", plate_masked="闽D*****", value=Decimal("150000.01")
            ),
        ),
    )
    assert outcome(ans).meets_continuation is False


def test_financial_assets_are_the_admission_declaration() -> None:
    checks = {c.check: c for c in outcome(answers(tax=[income(A, "1")])).checks}
    assert checks["financial_assets"].source == "declared_at_admission"
    assert checks["financial_assets"].result == "passed"  # 40 000 declared


# -- the income band --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wages", "status", "band"),
    [
        (("4500.00", "4500.00"), None, "low_income"),  # exactly at admission's limit
        (("4500.01", "4500.01"), None, "other"),  # past admission, still continues
        (("9000.00", "9000.00"), "minimum_living", "subsistence"),  # the status decides
        (("100.00", "0.00"), "extreme_poverty", "subsistence"),
        (("6000.00", "6000.00"), "low_income", "low_income"),
    ],
)
def test_the_band_follows_status_then_verified_income(
    wages: tuple[str, str], status: str | None, band: str
) -> None:
    civil = (
        [AssistanceFinding(member_ref=B, kind="assistance", status=status)]  # type: ignore[arg-type]
        if status
        else []
    )
    ans = answers(tax=[income(A, wages[0]), income(B, wages[1])], civil_affairs=civil)
    assert outcome(ans).income_band == band


def test_the_band_of_a_profile_without_income_but_with_a_status() -> None:
    ans = answers(
        civil_affairs=[AssistanceFinding(member_ref=A, kind="assistance", status="minimum_living")]
    )
    ans["tax"] = Answer("tax", no_record=False)
    profile = economic_profile(DECLARED, ans)
    assert income_band(profile, income_verified=False, admission_income_limit=ADMISSION_INCOME) == (
        "subsistence"
    )


# -- the contract -----------------------------------------------------------------------------


def _request(**extra: object) -> VerificationRequested:
    return VerificationRequested(
        request_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        application_id=uuid.uuid4(),
        city="350200",
        department="tax",
        requested_at=datetime(2027, 3, 1, 1, 0, tzinfo=UTC),
        deadline=date(2027, 3, 8),
        time_limit_working_days=5,
        subjects=subjects_for(HOUSEHOLD, "tax", []),
        **extra,  # type: ignore[arg-type]
    )


def test_an_admission_request_is_what_departments_always_received() -> None:
    admission = _request()
    assert admission.purpose == "admission"
    assert "purpose" not in admission.model_dump(mode="json")
    # A request without the field (from before it existed) reads as admission.
    assert VerificationRequested.model_validate(admission.model_dump(mode="json")) == admission
    again = _request(purpose="re_review")
    assert again.model_dump(mode="json")["purpose"] == "re_review"
    assert VerificationRequested.model_validate(again.model_dump(mode="json")) == again
    with pytest.raises(ValidationError):
        _request(purpose="exit")


def test_a_completion_without_household_carries_no_verdict() -> None:
    base = {
        "lease_id": uuid.uuid4(),
        "application_id": uuid.uuid4(),
        "campaign": 2027,
        "completed_at": datetime(2027, 3, 9, tzinfo=UTC),
    }
    VerificationRereviewCompleted(**base, case_id=None, household_found=False)
    with pytest.raises(ValidationError):
        VerificationRereviewCompleted(
            **base, case_id=None, household_found=False, income_band="other"
        )
    with pytest.raises(ValidationError):
        VerificationRereviewCompleted(**base, case_id=None, household_found=True)


@pytest.mark.parametrize("service", ["review", "credit"])
def test_review_and_credit_queues_never_receive_a_rereview(service: str) -> None:
    """They decide on verification.completed; their derived bindings must not route the
    re-review's completion to them (no delivery wasted, no application decided again)."""
    definition = importlib.import_module(f"services.{service}.bootstrap").definition()
    bindings = derive_bindings(
        definition.handlers, narrow_to_handled(definition.bindings, definition.handlers.keys())
    )
    on_events = [b.routing_key for b in bindings if b.exchange == "events"]
    assert any(topic_matches(k, "verification.completed") for k in on_events)
    assert not any(topic_matches(k, "verification.rereview_completed") for k in on_events)
