"""Pure supervision rules: signature order, Y3 warning time, scopes, the reporting chain."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

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


def test_reporting_path_goes_through_the_district_for_streets_and_departments() -> None:
    steps = [
        ("handling", "street"),
        ("report_district", "street"),
        ("report_city_centre", "district"),
        ("report_city_office", "city_centre"),
        ("report_province", "city_office"),
        ("confirmation", "city_centre"),
    ]
    assert domain.reporting_path("350203001") == steps
    # A department's ticket about a street's application: the department handles and reports
    # to that district (art. 10: the district sends 督办通知 to 协查单位).
    assert domain.reporting_path("350203001", "tax") == [
        (s, "department" if h == "street" else h) for s, h in steps
    ]
    assert domain.reporting_path("350203") == [
        ("handling", "district"),
        ("report_city_centre", "district"),
        *steps[3:],
    ]
    assert domain.reporting_path("350200") == [("handling", "city_centre"), *steps[3:]]
    assert domain.next_step("handling", "350203001") == "report_district"
    assert domain.next_step("handling", "350203") == "report_city_centre"
    assert domain.next_step("confirmation", "350200") == "closed"


@pytest.mark.parametrize(
    ("holder", "unit", "target"),
    [
        ("street", "350203001", ("district", "350203")),
        ("department", "350203001", ("district", "350203")),
        ("department", "350200", ("city_centre", "350200")),
        ("district", "350203001", ("city_centre", "350200")),
        # The city centre missed its step: the city office, never back down to a district.
        ("city_centre", "350203001", ("city_office", "350200")),
        ("city_office", "350203001", ("province", None)),
        ("province", "350203001", None),
    ],
)
def test_escalation_goes_to_the_level_above_the_one_that_missed(
    holder: str, unit: str, target: tuple[str, str | None] | None
) -> None:
    assert domain.escalation_target(holder, unit) == target


def test_reporting_steps_use_working_days() -> None:
    cal = WorkdayCalendar()
    friday = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    # Same day for handling; 2 working days to the district and the city centre skip the
    # weekend; 1 to the city office.
    assert domain.step_due("handling", friday, cal) == datetime(
        2026, 11, 20, 23, 59, 59, 999999, tzinfo=SHANGHAI
    )
    assert [
        domain.step_due(s, friday, cal).date()
        for s in ("report_district", "report_city_centre", "report_city_office")
    ] == [date(2026, 11, 24), date(2026, 11, 24), date(2026, 11, 23)]
    assert domain.step_due("confirmation", friday, cal) is None


def test_red_light_categories() -> None:
    assert [domain.default_category(r) for r in ("R1", "R4", "R6", "D1", "R7", "R8", "F2")] == [
        "acceptance",
        "signature_order",
        "department",
        "department",
        "publicity",
        "time_limit",
        "other",
    ]


def test_ticket_numbers_and_batches() -> None:
    tid = uuid.UUID("12345678-0000-0000-0000-000000000000")
    assert domain.ticket_no("red", T, tid) == "HD-20261116-12345678"
    assert domain.ticket_no("yellow", T, tid) == "YD-20261116-12345678"
    # 2026-11-30 20:00 UTC is already December in Xiamen.
    assert domain.acceptance_batch(datetime(2026, 11, 30, 20, 0, tzinfo=UTC)) == "2026-12"
