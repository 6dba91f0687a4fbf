"""How the public pages write money, areas and admission conditions, and which process step
the progress page marks as current."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.publication.domain import (
    PROCESS_STEPS,
    admission_conditions,
    process_steps,
    square_metres,
    yuan,
)
from services.publication.queries import _policy
from shared.city import DEFAULT_CITY_PATH, load_city


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (300000, "30万元"),
        (Decimal("150000.00"), "15万元"),
        (15000, "1.5万元"),
        (4500, "4500元"),
        (Decimal("1234.50"), "1234.5元"),
        (10050, "10050元"),
        (0, "0元"),
    ],
)
def test_money_as_a_notice_writes_it(amount: object, text: str) -> None:
    assert yuan(amount) == text  # type: ignore[arg-type]


def test_areas_drop_trailing_zeros() -> None:
    assert square_metres(Decimal("15.00")) == "15平方米"
    assert square_metres("45.50") == "45.5平方米"


def test_zero_limits_read_as_must_have_none() -> None:
    conditions = admission_conditions(
        local_hukou=False,
        min_local_hukou_years=0,
        residence_permit_required=True,
        min_social_security_months=12,
        max_monthly_income_per_capita=Decimal("6000"),
        max_housing_area_per_capita=Decimal("0"),
        max_financial_assets=Decimal("150000"),
        max_vehicle_value=Decimal("0"),
        max_business_registered_capital=Decimal("50000"),
    )
    assert conditions == [
        "持有本市居住证",
        "在本市连续缴纳社会保险满12个月",
        "家庭人均月收入不高于6000元",
        "家庭成员在本市无自有住房",
        "家庭金融资产不高于15万元",
        "家庭成员名下无机动车辆",
        "家庭经营工商企业注册资本不高于5万元",
    ]


def test_the_demo_citys_low_income_policy_text() -> None:
    city = load_city(DEFAULT_CITY_PATH)
    policy = _policy(city, city.category("low_income_family"))
    assert policy["content"].startswith(
        "具有本市户籍满3年；家庭人均月收入不高于4500元；"
        "住房困难，人均住房建筑面积不高于15平方米；家庭金融资产不高于30万元；"
        "家庭车辆总价值不高于15万元；家庭经营工商企业注册资本不高于10万元。申请材料："
    )


def states(stage: str, level: str | None = None, waiting: str | None = None) -> str:
    return "".join(
        {"done": "D", "current": "C", "todo": "-"}[s.state]
        for s in process_steps(stage, level, waiting)
    )


def test_every_step_is_listed_and_exactly_one_is_current() -> None:
    assert [s.title for s in process_steps("submitted", None)] == [t for _, t in PROCESS_STEPS]
    assert states("submitted") == "DC-------"
    assert states("supplement") == "DC-------"
    assert states("accepted") == "DDC------"
    assert states("verified") == "DDDC-----"
    assert states("review", "district") == "DDDDC----"
    assert states("suspended", "city") == "DDDDDC---"
    assert states("qualified") == "DDDDDDC--"
    assert states("publicity_closed") == "DDDDDDC--"
    assert states("confirmed", waiting="waiting") == "DDDDDDDC-"
    assert states("confirmed", waiting="allocated") == "DDDDDDDDD"


def test_an_ended_application_has_no_current_step() -> None:
    assert states("rejected", "district") == "DDDDD----"
    assert states("withdrawn") == "D--------"
