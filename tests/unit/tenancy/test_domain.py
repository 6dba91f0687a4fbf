"""Pure rules of tenancy: months, proration, bands, the withholding file, arrears steps,
settlement and subsidy months."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.tenancy import domain
from services.tenancy.settings import DATA, TenancyRules, load_rules

RULES = load_rules(DATA / "rules.yaml")
D = Decimal


def test_the_shipped_rules_load_with_the_bands_of_the_city() -> None:
    assert [(b.code, b.factor) for b in RULES.rent_bands] == [
        ("subsistence", D("0.10")),
        ("low_income", D("0.50")),
        ("other", D("1.00")),
        ("market", D("1.50")),
    ]
    # Verification's income bands are the contract: each is a band of tenancy's own.
    assert {"subsistence", "low_income", "other"} <= {b.code for b in RULES.rent_bands}
    assert RULES.rereview.market_band == "market" and RULES.rereview.transition_months == 6
    assert RULES.finding("sublet") is not None and RULES.finding("occupied_normally") is None


def test_rules_refuse_a_market_band_that_is_no_band() -> None:
    raw = RULES.model_dump()
    raw["rereview"]["market_band"] = "premium"
    with pytest.raises(ValidationError, match="market_band"):
        TenancyRules.model_validate(raw)


def test_rules_refuse_an_unknown_default_band_and_steps_out_of_order() -> None:
    raw = RULES.model_dump()
    with pytest.raises(ValidationError, match="default_rent_band"):
        TenancyRules.model_validate({**raw, "default_rent_band": "nope"})
    arrears = {**raw["arrears"], "notice_after_months": 5}
    with pytest.raises(ValidationError, match="reminder <= notice <= recovery"):
        TenancyRules.model_validate({**raw, "arrears": arrears})


@pytest.mark.parametrize(
    ("status", "band"),
    [
        ("minimum_living", "subsistence"),
        ("extreme_poverty", "subsistence"),
        ("low_income", "low_income"),
        (None, "other"),
    ],
)
def test_band_follows_the_verified_assistance_status(status: str | None, band: str) -> None:
    assert domain.band_for(RULES, status) == band


def test_months() -> None:
    assert domain.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert domain.add_months(date(2026, 11, 15), 14) == date(2028, 1, 15)
    assert domain.covered_days(date(2026, 3, 1), date(2026, 3, 16), None) == 16
    assert domain.covered_days(date(2026, 5, 1), date(2026, 1, 1), date(2026, 5, 16)) == 15
    assert domain.covered_days(date(2026, 6, 1), date(2026, 1, 1), date(2026, 6, 1)) == 0


def test_bill_is_contract_rent_times_factor_prorated() -> None:
    band = RULES.band("subsistence")
    assert band is not None
    line = domain.bill_for(
        RULES,
        band,
        monthly_rent=D("475.00"),
        starts_on=date(2026, 2, 15),
        ended_on=None,
        month=date(2026, 2, 1),
    )
    assert line is not None
    # 47.50 a month, 14 of February's 28 days.
    assert (line.days, line.amount, line.due_on) == (14, D("23.75"), date(2026, 2, 25))
    assert (
        domain.bill_for(
            RULES,
            band,
            monthly_rent=D("475.00"),
            starts_on=date(2026, 3, 1),
            ended_on=None,
            month=date(2026, 2, 1),
        )
        is None
    )


def test_a_payment_settles_bills_oldest_first() -> None:
    shares = domain.allocate(D("150.00"), [("jan", D("100.00")), ("feb", D("100.00"))])
    assert shares == [("jan", D("100.00")), ("feb", D("50.00"))]
    assert domain.allocate(D("10.00"), []) == []


def test_withholding_file_rows_and_problems() -> None:
    rows, problems = domain.parse_withholding(
        "\ufefftransaction_ref,lease_no,amount,paid_on\n"
        "WH0001,ZL-20260101-0000ABCD,12.50,2026-04-01\n"
        "\n"
        "WH0002,ZL-20260101-0000ABCD,-1,2026-04-01\n"
        "WH0003,ZL-20260101-0000ABCD,1.00,2026/04/01\n"
        "bad ref,ZL,1.00,2026-04-01\n"
        "WH0005,only-three,1.00\n"
    )
    assert [(r.row, r.reference, r.amount) for r in rows] == [(2, "WH0001", D("12.50"))]
    assert [(p.row, p.field) for p in problems] == [
        (4, "amount"),
        (5, "paid_on"),
        (6, "transaction_ref"),
        (7, "row"),
    ]
    _, header = domain.parse_withholding("ref,amount\n")
    assert [p.field for p in header] == ["header"]


@pytest.mark.parametrize(
    ("months", "clauses", "step"),
    [
        (0, ["rent_arrears_two_months"], "none"),
        (1, ["rent_arrears_two_months"], "reminder"),
        (2, ["rent_arrears_two_months"], "notice"),
        (3, ["rent_arrears_two_months"], "recovery"),
        (7, ["sublet"], "notice"),  # no arrears clause in the contract: no early recovery
    ],
)
def test_arrears_steps(months: int, clauses: list[str], step: str) -> None:
    assert domain.arrears_step(RULES.arrears, months, clauses) == step


def test_settlement_refunds_or_claims() -> None:
    refund = domain.settle(D("950.00"), [D("300.00"), D("120.50")], D("0.00"))
    assert refund.balance == D("529.50")
    owed = domain.settle(D("950.00"), [D("800.00")], D("475.00"))
    assert (owed.damages_total, owed.balance) == (D("800.00"), D("-325.00"))


def test_subsidy_stops_the_day_eligibility_ends() -> None:
    amount = D("600.00")
    assert domain.subsidy_for(amount, date(2026, 3, 10), None, date(2026, 3, 1)) == (
        22,
        D("425.81"),
    )
    assert domain.subsidy_for(amount, date(2026, 3, 10), None, date(2026, 4, 1)) == (30, amount)
    assert domain.subsidy_for(amount, date(2026, 3, 10), date(2026, 5, 16), date(2026, 5, 1)) == (
        15,
        D("290.32"),
    )
    assert domain.subsidy_for(amount, date(2026, 3, 10), date(2026, 5, 1), date(2026, 5, 1)) == (
        0,
        D("0.00"),
    )
