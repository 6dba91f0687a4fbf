"""The integrity registry's pure rules: kinds, ban lengths, four eyes, the notice procedure."""

from __future__ import annotations

from datetime import date

import pytest

from services.credit import domain
from services.credit.domain import InvalidTransition, Procedure, Stage

D0 = date(2026, 11, 21)


def test_kinds_are_five_family_four_employer_two_agency_four_tenancy() -> None:
    kinds = domain.record_kinds([("city_a", "甲"), ("city_b", "乙")])
    by_category: dict[str, list[str]] = {}
    for kind in kinds.values():
        by_category.setdefault(kind.category, []).append(kind.code)
    assert {c: len(v) for c, v in by_category.items()} == {
        "family": 5,
        "employer": 4,
        "agency": 2,
        "tenancy": 4,
    }
    assert kinds["city_a"].title == "甲"
    assert kinds["city_a"].behaviour == "false_income_certificate"


def test_a_city_kind_cannot_shadow_a_fixed_one() -> None:
    with pytest.raises(ValueError, match="clashes"):
        domain.record_kinds([("concealed_housing", "x"), ("city_b", "乙")])


@pytest.mark.parametrize(
    ("severity", "ends_on"),
    [
        ("general", date(2027, 11, 21)),
        ("serious", date(2029, 11, 21)),
        ("severe", date(2031, 11, 21)),
    ],
)
def test_ban_lengths_are_1_3_5_years_from_the_recording_date(severity: str, ends_on: date) -> None:
    assert domain.ban_ends_on(D0, severity, {"general": 1, "serious": 3, "severe": 5}) == ends_on


def test_ban_length_is_configurable_and_29_february_rolls_to_1_march() -> None:
    assert domain.ban_ends_on(date(2028, 2, 29), "general", {"general": 2}) == date(2030, 3, 1)
    assert domain.ban_ends_on(date(2028, 2, 29), "general", {"general": 4}) == date(2032, 2, 29)


def test_a_ban_stops_being_in_force_on_its_end_date() -> None:
    ends_on = date(2027, 11, 21)
    assert domain.ban_in_force(ends_on, False, date(2027, 11, 20)) is True
    assert domain.ban_in_force(ends_on, False, ends_on) is False
    assert domain.ban_in_force(ends_on, True, date(2027, 1, 1)) is False


def test_four_eyes_refuses_the_same_officer() -> None:
    domain.ensure_four_eyes("officer-a", "officer-b")
    with pytest.raises(domain.SameOfficer):
        domain.ensure_four_eyes("officer-a", "officer-a")


def walk(*steps: Stage, start: Stage = Stage.APPROVED, today: date = D0) -> Procedure:
    procedure = Procedure(start)
    for step in steps:
        procedure = procedure.advance(step, today=today, correction_days=15)
    return procedure


def test_delivered_notice_sets_the_correction_deadline() -> None:
    procedure = walk(Stage.NOTICE_ISSUED, Stage.DELIVERED)
    assert procedure == Procedure(Stage.DELIVERED, date(2026, 12, 6))


def test_undeliverable_notice_goes_through_a_public_announcement() -> None:
    procedure = walk(Stage.NOTICE_ISSUED, Stage.UNDELIVERABLE)
    with pytest.raises(InvalidTransition) as refused:
        procedure.advance(Stage.DEADLINE_PASSED, today=date(2027, 1, 1), correction_days=15)
    assert refused.value.current is Stage.UNDELIVERABLE
    assert "告知函未能送达" in refused.value.reason
    announced = procedure.advance(Stage.ANNOUNCED, today=D0, correction_days=10)
    assert announced == Procedure(Stage.ANNOUNCED, date(2026, 12, 1))


def test_the_deadline_must_have_passed_before_recording() -> None:
    delivered = walk(Stage.NOTICE_ISSUED, Stage.DELIVERED)  # deadline 2026-12-06
    with pytest.raises(InvalidTransition) as early:
        delivered.advance(Stage.DEADLINE_PASSED, today=date(2026, 12, 6), correction_days=15)
    assert "尚未届满" in early.value.reason
    passed = delivered.advance(Stage.DEADLINE_PASSED, today=date(2026, 12, 7), correction_days=15)
    recorded = passed.advance(Stage.RECORDED, today=date(2026, 12, 7), correction_days=15)
    lawyer = recorded.advance(Stage.LAWYER_LETTER, today=date(2026, 12, 8), correction_days=15)
    legal = lawyer.advance(Stage.LEGAL_PROCEDURE, today=date(2026, 12, 9), correction_days=15)
    assert legal == Procedure(Stage.LEGAL_PROCEDURE, date(2026, 12, 6))


def test_no_record_without_approval_and_notice() -> None:
    with pytest.raises(InvalidTransition) as refused:
        Procedure(Stage.PENDING_APPROVAL).advance(Stage.NOTICE_ISSUED, today=D0, correction_days=15)
    assert refused.value.current is Stage.PENDING_APPROVAL
    with pytest.raises(InvalidTransition):
        walk(Stage.NOTICE_ISSUED).advance(Stage.RECORDED, today=D0, correction_days=15)


def test_correction_ends_the_procedure() -> None:
    corrected = walk(Stage.NOTICE_ISSUED, Stage.DELIVERED, Stage.CORRECTED)
    assert domain.TRANSITIONS[corrected.stage] == frozenset()
    with pytest.raises(InvalidTransition):
        corrected.advance(Stage.RECORDED, today=D0, correction_days=15)


def test_every_stage_has_a_title_and_every_step_an_event_step() -> None:
    assert set(domain.STAGE_TITLES) == set(Stage)
    assert set(domain.EVENT_STEP) == set(domain.NOTICE_STEPS)
    reachable = {s for targets in domain.TRANSITIONS.values() for s in targets}
    assert reachable | {Stage.PENDING_APPROVAL} == set(Stage)


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        (["monthly_income"], "concealed_assets"),
        (["monthly_income", "housing_area_m2"], "concealed_housing"),
        (["marital_status"], "false_marital_status"),
        (["something_new"], "other_false_statement"),
        ([], "other_false_statement"),
    ],
)
def test_candidate_kind_suggestion(fields: list[str], kind: str) -> None:
    assert domain.suggested_kind(fields) == kind
