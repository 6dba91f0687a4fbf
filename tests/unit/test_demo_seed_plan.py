"""The demo seed's plan and households (tools/demo_seed.py): counts that add up, every stage
filled from 40 households on, the housed capped by the fitting stock, and the same households
from the same seed."""

from __future__ import annotations

from datetime import date

from shared.pii import resident_id_check_char
from shared.workdays import default_calendar
from tools.demo_seed import MAX_HOUSED, PLAN, DemoSeed, Households, plan


def test_the_plan_adds_up_and_fills_every_stage() -> None:
    assert plan(40) == {
        "submitted": 3,
        "supplement": 3,
        "verifying": 2,
        "street_review": 4,
        "street_incomplete": 1,
        "street_yellow": 1,
        "street_overdue": 2,
        "street_suspended": 2,
        "district_review": 3,
        "city_review": 3,
        "returned": 2,
        "publicity": 3,
        "objected": 1,
        "waiting": 6,
        "allocated": 2,
        "tenancy": 2,
    }
    for households in (40, 137, 300, 900):
        counts = plan(households)
        assert sum(counts.values()) == households
        assert list(counts) == [stage for stage, _ in PLAN]
        assert min(counts.values()) >= 1


def test_the_housed_are_capped_by_the_fitting_stock_and_the_rest_wait() -> None:
    counts = plan(300)
    assert counts["allocated"] + counts["tenancy"] == MAX_HOUSED == 24
    assert (counts["allocated"], counts["tenancy"], counts["waiting"]) == (12, 12, 51)


def test_the_same_seed_gives_the_same_households_with_valid_unique_ids() -> None:
    first, again, other = Households(18), Households(18), Households(19)
    a = [first.new("submitted") for _ in range(50)]
    b = [again.new("submitted") for _ in range(50)]
    c = [other.new("submitted") for _ in range(50)]

    # Everything but the pledge's signing time, which is the moment it is made.
    def people(households: list) -> list:
        return [(h.street, h.body["mobile"], h.body["members"]) for h in households]

    assert people(a) == people(b)
    assert people(a) != people(c)
    ids = [m["resident_id"] for h in a for m in h.body["members"]]
    assert len(set(ids)) == len(ids) == 100
    assert all(i[-1] == resident_id_check_char(i[:17]) for i in ids)
    # The id tail a household types for its progress is unique among the households.
    assert len({h.id_tail for h in a}) == 50


def test_the_yellow_households_fall_due_on_the_next_working_day() -> None:
    calendar = default_calendar()
    seed = DemoSeed.__new__(DemoSeed)
    for today in (date(2026, 12, 3), date(2026, 12, 5), date(2026, 9, 30)):
        era0, era1, yellow = seed.eras(today)
        due = calendar.add_workdays(yellow, 15).date
        assert today < due <= calendar.add_workdays(today, 1).date
        assert calendar.is_workday(yellow)
        # Room for the publicity (7 days) and the credit correction period (15) before.
        assert (era1 - era0).days == 17 and (yellow - era1).days == 8
