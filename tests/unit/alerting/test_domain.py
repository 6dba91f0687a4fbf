"""Pure supervision rules: signature order, Y3 warning time, scopes, the reporting chain."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.alerting import domain
from shared.auth import unit_prefix
from shared.clock import SHANGHAI
from shared.workdays import WorkdayCalendar

T = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)


def sig(role: str, minutes: int, decision: str = "approve") -> domain.Signature:
    return domain.Signature(role, T + timedelta(minutes=minutes), decision)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("signatures", "broken"),
    [
        ([sig("handler", 0), sig("reviewer", 5), sig("leader", 9)], False),
        ([sig("reviewer", 0), sig("handler", 5)], True),  # R3/R4: handler after reviewer
        ([sig("handler", 0), sig("leader", 5), sig("reviewer", 9)], True),  # R5: after leader
        ([sig("handler", 9), sig("leader", 5)], True),
        ([sig("handler", 0)], False),
        # The reviewer returned the file; the handler's new opinion after it is legitimate.
        ([sig("handler", 0), sig("reviewer", 5, "return"), sig("handler", 9)], False),
        ([sig("handler", 0), sig("handler", 9), sig("reviewer", 12)], False),
    ],
)
def test_signature_order(signatures: list[domain.Signature], broken: bool) -> None:
    assert domain.signature_order_broken(signatures) is broken


def test_warning_time_is_the_start_of_the_previous_working_day() -> None:
    cal = WorkdayCalendar()
    # Due Monday 2026-11-23 -> warns from Friday 2026-11-20 00:00 in Xiamen.
    due = datetime(2026, 11, 23, 23, 59, 59, tzinfo=SHANGHAI)
    assert domain.warning_time(due, cal) == datetime(2026, 11, 20, tzinfo=SHANGHAI)
    # Due Thursday 2026-10-08 after the National Day holiday (Oct 1-8 off in 2026? the
    # library knows): the warning day is the last working day before it.
    due = datetime(2026, 10, 9, 23, 59, 59, tzinfo=SHANGHAI)
    warn = domain.warning_time(due, cal)
    assert cal.is_workday(warn) and warn < due
    day = warn.date() + timedelta(days=1)
    while day < due.date():
        assert not cal.is_workday(day)
        day += timedelta(days=1)


def test_condition_key_names_every_part() -> None:
    app, case = uuid.uuid4(), uuid.uuid4()
    assert domain.condition_key(application_id=app, case_id=case, stage="street_initial") == (
        f"app:{app}|case:{case}|stage:street_initial|scope:-"
    )
    assert domain.condition_key(scope="category:x") == "app:-|case:-|stage:-|scope:category:x"


@pytest.mark.parametrize(
    ("org", "prefix", "child"),
    [
        ("350000", "35", 4),
        ("350200", "3502", 6),
        ("350203", "350203", 9),
        ("350203001", "350203001", 9),
    ],
)
def test_unit_prefix_and_drill_down(org: str, prefix: str, child: int) -> None:
    assert unit_prefix(org) == prefix
    assert domain.child_unit_length(org) == child


def test_escalation_ladder_from_a_street_and_from_the_city() -> None:
    assert domain.escalation_ladder("350203001") == [
        ("district", "350203"),
        ("city_centre", "350200"),
        ("city_office", "350200"),
        ("province", None),
    ]
    assert domain.escalation_ladder("350200") == [("city_office", "350200"), ("province", None)]


def test_reporting_steps_use_working_days() -> None:
    cal = WorkdayCalendar()
    friday = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    # Same day for handling; 2 working days to the city centre skip the weekend.
    assert domain.step_due("handling", friday, cal) == datetime(
        2026, 11, 20, 23, 59, 59, 999999, tzinfo=SHANGHAI
    )
    assert (
        domain.step_due("report_city_centre", friday, cal).date() == datetime(2026, 11, 24).date()
    )
    assert domain.step_due("confirmation", friday, cal) is None
    assert [domain.NEXT_STEP[s] for s in ("handling", "report_city_centre")] == [
        "report_city_centre",
        "report_city_office",
    ]


def test_ticket_numbers_and_batches() -> None:
    tid = uuid.UUID("12345678-0000-0000-0000-000000000000")
    assert domain.ticket_no("red", T, tid) == "HD-20261116-12345678"
    assert domain.ticket_no("yellow", T, tid) == "YD-20261116-12345678"
    # 2026-11-30 20:00 UTC is already December in Xiamen.
    assert domain.acceptance_batch(datetime(2026, 11, 30, 20, 0, tzinfo=UTC)) == "2026-12"
