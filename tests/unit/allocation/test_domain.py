"""Pure rules: stock CSV validation, unit fit, declines, subsidy, contract text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.allocation import domain
from services.allocation.settings import DATA, load_clauses, load_rules

RULES = load_rules(DATA / "rules.yaml")
HEADER = ",".join(domain.CSV_FIELDS)


def test_a_good_file_parses() -> None:
    text = f"{HEADER}\nP1,湖里花园,350206,1,P1-1-101,湖里区某路1号101,38.5,1,1,是,12.5,vacant\n"
    rows, errors = domain.parse_stock_csv(text)
    assert errors == []
    assert rows[0].area_m2 == Decimal("38.50") and rows[0].accessible


def test_the_report_names_each_bad_row_and_field() -> None:
    text = (
        f"{HEADER}\n"
        "P1,湖里花园,350206,1,P1-1-101,地址,38.5,1,1,是,12.5,vacant\n"
        "P1,湖里花园,350206,1,P1-1-102,地址,abc,1,1,是,12.5,vacant\n"
        "P1,湖里花园,350206,1,P1-1-101,,38,x,1,maybe,12.5,sold\n"
    )
    _, errors = domain.parse_stock_csv(text)
    got = {(e.row, e.field) for e in errors}
    assert (3, "area_m2") in got
    assert {(4, "address"), (4, "rooms"), (4, "accessible"), (4, "status"), (4, "unit_code")} <= got
    assert all(e.row != 2 for e in errors)


def test_missing_columns_are_reported() -> None:
    _, errors = domain.parse_stock_csv("project_code,unit_code\nP1,U1\n")
    assert {e.field for e in errors} >= {"area_m2", "status"}


def test_status_moves() -> None:
    domain.check_status_move("vacant", "under_repair")
    with pytest.raises(domain.StockConflict):
        domain.check_status_move("let", "vacant")


def test_unit_size_rules() -> None:
    assert domain.unit_fits(RULES, 2, Decimal("40"))
    assert not domain.unit_fits(RULES, 2, Decimal("40.01"))
    assert domain.unit_fits(RULES, 3, Decimal("60"))


def test_declines_suspend_at_the_limit() -> None:
    today = date(2026, 12, 1)
    assert domain.after_decline(RULES, 1, today) is None
    assert domain.after_decline(RULES, 2, today) == date(2027, 12, 1)


def test_subsidy_formula() -> None:
    assert domain.subsidy(RULES, 3, "low") == Decimal("900.00")  # 15 m² × 3 × 20 元
    with pytest.raises(domain.AllocationError):
        domain.subsidy(RULES, 3, "rich")


def test_contract_lists_every_coded_clause() -> None:
    clauses = load_clauses(DATA / "recovery_clauses.yaml")
    assert len(clauses) == 14 and len({c.code for c in clauses}) == 14
    text = domain.contract_text(
        (DATA / "contract_model.md").read_text(encoding="utf-8"),
        clauses,
        lessor="甲",
        household_reference="XM-1",
        unit_address="地址",
        unit_code="U1",
        area_m2="38",
        monthly_rent="475.00",
        base_rent_per_m2="12.5",
        starts_on="2026-12-09",
        sign_by="2026-12-08",
    )
    assert "[sublet]" in text and "14. [" in text


def test_mask_reference() -> None:
    assert domain.mask_reference("XM-2026-00001") == "XM-2*******01"


def test_the_highest_tier_group_decided_at_qualification_is_kept() -> None:
    decided = [
        {"code": "elderly", "reason": "老年人家庭：家庭成员年满67周岁"},
        {"code": "subsistence", "reason": "低保/特困家庭：市民政局核实最低生活保障家庭"},
        {"code": "not_in_rules", "reason": "别的城市的类别"},
    ]
    assert domain.priority_of(RULES, decided) == (
        "subsistence",
        "低保/特困家庭：市民政局核实最低生活保障家庭",
    )
    assert domain.priority_of(RULES, [decided[2]]) == ("general", "资格认定时无优先配租情形")
    assert domain.priority_of(RULES, []) == ("general", "资格认定时无优先配租情形")


def test_quotas_are_checked_against_the_tiers() -> None:
    assert domain.check_quotas(RULES, [{"tier": 1, "percent": 20}]) is None
    assert domain.check_quotas(RULES, [{"tier": 4, "percent": 20}]) == "未知优先层级 4"
    twice = [{"tier": 1, "percent": 20}, {"tier": 1, "percent": 5}]
    assert domain.check_quotas(RULES, twice) == "每个优先层级只能设一个配额"
    over = [{"tier": 1, "percent": 60}, {"tier": 2, "percent": 41}]
    assert domain.check_quotas(RULES, over) == "各层级配额合计不能超过100%"


def test_selection_slots_follow_the_order() -> None:
    start = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
    assert domain.slot(start, 1, 30, 5) == (start, start + timedelta(minutes=30))
    assert domain.slot(start, 5, 30, 5) == (start, start + timedelta(minutes=30))
    assert domain.slot(start, 6, 30, 5) == (
        start + timedelta(minutes=30),
        start + timedelta(minutes=60),
    )
