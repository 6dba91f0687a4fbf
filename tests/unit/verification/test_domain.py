"""Verification rules without I/O: minimal subjects, the profile, verdicts at the thresholds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.verification.domain import (
    Answer,
    Declared,
    economic_profile,
    evaluate,
    misplaced_findings,
    parameter_changes,
    subject_fields,
    subjects_for,
)
from shared.city import AdmissionParameters, HouseholdField, city_config
from shared.events.catalogue import (
    BusinessFinding,
    FinancialAssetFinding,
    HukouFinding,
    IncomeFinding,
    MarriageFinding,
    PensionFinding,
    PropertyFinding,
    VehicleFinding,
)
from tests.examples import accepted_application

EIGHT = (
    "public_security",
    "civil_affairs",
    "real_estate",
    "hr_social_security",
    "market_supervision",
    "provident_fund",
    "tax",
    "vehicle",
)
NAMES = {d.code: d.name for d in city_config().departments}

HOUSEHOLD = accepted_application().household
DECLARED = Declared.of(HOUSEHOLD)
APPLICANT = HOUSEHOLD.members[0].member_id_hash
SPOUSE = HOUSEHOLD.members[1].member_id_hash

PARAMS = AdmissionParameters(
    max_monthly_income_per_capita=Decimal("3000"),
    max_housing_area_per_capita=Decimal("15"),
    max_financial_assets=Decimal("40000"),
    max_vehicle_value=Decimal("100000"),
    max_business_registered_capital=Decimal("50000"),
    hukou="local",
)


def income(ref: str, amount: str) -> IncomeFinding:
    return IncomeFinding(
        member_ref=ref, kind="income", monthly_amount=Decimal(amount), source="wages"
    )


def answers(**findings: list[object]) -> dict[str, Answer]:
    """Every one of the eight departments answered: with the findings given, else no record."""
    out = {}
    for dept in EIGHT:
        found = tuple(findings.get(dept, ()))
        out[dept] = Answer(dept, no_record=not found, findings=found)
    out["public_security"] = Answer(
        "public_security",
        False,
        (
            HukouFinding(
                member_ref=APPLICANT, kind="hukou", division="350203", residence_permit=False
            ),
        ),
    )
    out["civil_affairs"] = Answer(
        "civil_affairs",
        False,
        (MarriageFinding(member_ref=APPLICANT, kind="marriage", status="married"),),
    )
    return out


def check(ans: dict[str, Answer], params: AdmissionParameters = PARAMS):
    return evaluate(
        DECLARED,
        ans,
        params,
        version=3,
        requested=EIGHT,
        department_names=NAMES,
        city_code="350200",
    )


# -- data minimisation ----------------------------------------------------------------------


def test_a_department_gets_only_fields_both_the_city_and_the_contract_allow() -> None:
    every = list(HouseholdField)
    assert subject_fields("public_security", every) == {"hukou_division"}
    assert subject_fields("tax", every) == {"employer"}
    assert subject_fields("civil_affairs", every) == {"relationship"}
    assert subject_fields("real_estate", every) == frozenset()
    # The city file does not list employer for tax: it is not sent even though allowed.
    assert subject_fields("tax", [HouseholdField.NAME, HouseholdField.RESIDENT_ID]) == frozenset()
    # A department the catalogue does not know gets name and ID only.
    assert subject_fields("disabled_persons_federation", every) == frozenset()


def test_subjects_never_carry_declared_values() -> None:
    subjects = subjects_for(HOUSEHOLD, "public_security", list(HouseholdField))
    assert [s.member_ref for s in subjects] == [APPLICANT, SPOUSE]
    dumped = subjects[0].model_dump()
    assert set(dumped) == {
        "member_ref",
        "name",
        "resident_id",
        "relationship",
        "hukou_division",
        "employer",
    }
    assert dumped["hukou_division"] == "350203" and dumped["relationship"] is None


# -- the profile ----------------------------------------------------------------------------


def test_profile_counts_one_salary_once_and_adds_pensions() -> None:
    ans = answers(
        tax=[income(APPLICANT, "3000.00"), income(SPOUSE, "2000.00")],
        hr_social_security=[
            income(APPLICANT, "2800.00"),  # the same salary, as the social-security wage base
            PensionFinding(
                member_ref=SPOUSE,
                kind="pension",
                monthly_amount=Decimal("1000.00"),
                scheme="resident",
            ),
        ],
        real_estate=[
            PropertyFinding(
                member_ref=APPLICANT, kind="property", area_m2=Decimal("25.5"), location="某路1号"
            )
        ],
    )
    profile = economic_profile(DECLARED, ans)
    assert profile.monthly_income_total == Decimal("6000.00")
    assert profile.per_capita_monthly_income == Decimal("3000.00")
    assert profile.housing_area_m2 == Decimal("25.50")
    assert profile.per_capita_housing_area_m2 == Decimal("12.75")
    assert profile.financial_assets == Decimal("40000.00")  # declared: 2 x 20000


# -- verdicts at the thresholds ---------------------------------------------------------------


def test_exactly_at_every_threshold_is_eligible() -> None:
    ans = answers(
        tax=[income(APPLICANT, "3500.00"), income(SPOUSE, "2500.00")],  # 3000.00 per capita
        real_estate=[
            PropertyFinding(
                member_ref=APPLICANT, kind="property", area_m2=Decimal("30"), location="某路1号"
            )
        ],  # 15.00 per capita
        vehicle=[
            VehicleFinding(
                member_ref=APPLICANT,
                kind="vehicle",
                plate_masked="闽D***1",
                value=Decimal("100000"),
            )
        ],
        market_supervision=[
            BusinessFinding(
                member_ref=SPOUSE,
                kind="business",
                name="某商行",
                registered_capital=Decimal("50000"),
            )
        ],
    )
    outcome = check(ans)
    assert outcome.recommendation == "eligible", outcome.reasons
    assert outcome.reasons[0] == "依据准入参数第3版核查。"
    assert (
        "家庭人均月收入：核实值3000.00元，上限3000.00元，符合（来源：国家税务总局厦门市税务局、市人力资源和社会保障局）。"
        in outcome.reasons
    )
    assert (
        "家庭人均住房建筑面积：核实值15.00平方米，上限15.00平方米，符合（来源：市不动产登记中心）。"
        in outcome.reasons
    )
    assert (
        "家庭金融资产：核实值40000.00元，上限40000.00元，符合（来源：申报值，本类别未安排银行核查）。"
        in outcome.reasons
    )


@pytest.mark.parametrize(
    ("field", "ans", "reason"),
    [
        (
            "income",
            answers(tax=[income(APPLICANT, "3500.01"), income(SPOUSE, "2500.01")]),
            "家庭人均月收入：核实值3000.01元，超过上限3000.00元，不符合（来源：国家税务总局厦门市税务局、市人力资源和社会保障局）。",
        ),
        (
            "area",
            answers(
                real_estate=[
                    PropertyFinding(
                        member_ref=APPLICANT,
                        kind="property",
                        area_m2=Decimal("30.02"),
                        location="某路1号",
                    )
                ]
            ),
            "家庭人均住房建筑面积：核实值15.01平方米，超过上限15.00平方米，不符合（来源：市不动产登记中心）。",
        ),
        (
            "vehicle",
            answers(
                vehicle=[
                    VehicleFinding(
                        member_ref=SPOUSE,
                        kind="vehicle",
                        plate_masked="闽D***2",
                        value=Decimal("100000.01"),
                    )
                ]
            ),
            "家庭车辆价值：核实值100000.01元，超过上限100000.00元，不符合（来源：市公安局交通警察支队车辆管理所）。",
        ),
        (
            "business",
            answers(
                market_supervision=[
                    BusinessFinding(
                        member_ref=SPOUSE,
                        kind="business",
                        name="某商行",
                        registered_capital=Decimal("50000.01"),
                    )
                ]
            ),
            "家庭成员企业注册资本：核实值50000.01元，超过上限50000.00元，不符合（来源：市市场监督管理局）。",
        ),
    ],
)
def test_one_cent_above_a_threshold_is_ineligible(
    field: str, ans: dict[str, Answer], reason: str
) -> None:
    outcome = check(ans)
    assert outcome.recommendation == "ineligible", field
    assert reason in outcome.reasons


def test_assets_one_yuan_above_the_ceiling_are_ineligible() -> None:
    params = PARAMS.model_copy(update={"max_financial_assets": Decimal("39999.99")})
    outcome = check(answers(), params)
    assert outcome.recommendation == "ineligible"


def test_a_silent_department_makes_its_criterion_need_review() -> None:
    ans = answers()
    del ans["real_estate"]
    outcome = check(ans)
    assert outcome.recommendation == "needs_review"
    assert (
        "家庭人均住房建筑面积：上限15.00平方米，市不动产登记中心未反馈，无法核实，需人工审核。"
        in outcome.reasons
    )
    assert "未反馈部门：市不动产登记中心。" in outcome.reasons


def test_an_empty_answer_counts_as_no_answer_for_its_criterion() -> None:
    ans = answers()
    ans["vehicle"] = Answer("vehicle", no_record=False, findings=())
    outcome = check(ans)
    assert outcome.recommendation == "needs_review"
    assert any("市公安局交通警察支队车辆管理所反馈为空" in r for r in outcome.reasons)


def test_a_failure_outweighs_a_criterion_needing_review() -> None:
    ans = answers(tax=[income(APPLICANT, "9000.00")])
    del ans["real_estate"]
    assert check(ans).recommendation == "ineligible"


def test_non_local_hukou_fails_a_local_hukou_category() -> None:
    ans = answers()
    ans["public_security"] = Answer(
        "public_security",
        False,
        (
            HukouFinding(
                member_ref=APPLICANT, kind="hukou", division="350500", residence_permit=True
            ),
        ),
    )
    outcome = check(ans)
    assert outcome.recommendation == "ineligible"
    assert (
        "本市户籍：申请人户籍所在地350500，非本市户籍，不符合（来源：市公安局）。"
        in outcome.reasons
    )


# -- discrepancies ----------------------------------------------------------------------------


def test_discrepancies_name_member_hash_field_and_department() -> None:
    ans = answers(
        tax=[income(APPLICANT, "4200.00"), income(SPOUSE, "2800.00")],
        vehicle=[
            VehicleFinding(
                member_ref=SPOUSE, kind="vehicle", plate_masked="闽D***2", value=Decimal("80000")
            )
        ],
        real_estate=[
            PropertyFinding(
                member_ref=APPLICANT, kind="property", area_m2=Decimal("60"), location="某路1号"
            )
        ],
    )
    found = {(d.member_id_hash, d.field): d for d in check(ans).discrepancies}
    assert set(found) == {
        (APPLICANT, "monthly_income"),
        (SPOUSE, "vehicle_count"),
        (None, "housing_area_m2"),
    }
    assert found[(APPLICANT, "monthly_income")].declared == "3200.00"
    assert found[(APPLICANT, "monthly_income")].verified == "4200.00"
    assert found[(APPLICANT, "monthly_income")].department == "tax"
    assert found[(SPOUSE, "vehicle_count")].verified == "1"
    assert found[(None, "housing_area_m2")].verified == "60.00"


def test_a_hidden_marriage_is_a_discrepancy() -> None:
    single = Declared(members=(DECLARED.members[0],), housing_area_m2=Decimal(0))
    ans = answers(tax=[income(APPLICANT, "3200.00")])
    outcome = evaluate(
        single, ans, PARAMS, version=1, requested=EIGHT, department_names=NAMES, city_code="350200"
    )
    marital = [d for d in outcome.discrepancies if d.field == "marital_status"]
    assert [(d.declared, d.verified, d.department) for d in marital] == [
        ("无配偶", "married", "civil_affairs")
    ]


# -- parameter changes ------------------------------------------------------------------------


def test_parameter_changes_list_only_what_changed() -> None:
    new = PARAMS.model_copy(update={"max_monthly_income_per_capita": Decimal("3200.00")})
    changes = parameter_changes(PARAMS, new)
    assert [(c.name, c.old, c.new) for c in changes] == [
        ("max_monthly_income_per_capita", "3000.00", "3200.00")
    ]
    assert len(parameter_changes(None, PARAMS)) == len(PARAMS.model_dump())


# -- financial assets verified by the banks ---------------------------------------------------

WITH_BANK = (*EIGHT, "bank")


def asset(ref: str, amount: str, asset_type: str = "deposit") -> FinancialAssetFinding:
    return FinancialAssetFinding(
        member_ref=ref,
        kind="financial_asset",
        asset_type=asset_type,  # type: ignore[arg-type]
        institution="中国工商银行厦门分行",
        amount=Decimal(amount),
        as_of=date(2026, 11, 30),
    )


def check_with_bank(ans: dict[str, Answer], params: AdmissionParameters = PARAMS):
    return evaluate(
        DECLARED,
        ans,
        params,
        version=3,
        requested=WITH_BANK,
        department_names=NAMES,
        city_code="350200",
    )


def test_the_asset_ceiling_uses_the_banks_balances_not_the_declaration() -> None:
    # Declared 2 x 20000 = 40000, exactly the ceiling; the banks report 40000.01.
    ans = answers()
    ans["bank"] = Answer(
        "bank",
        False,
        (
            asset(APPLICANT, "25000.00"),
            asset(APPLICANT, "5000.00", "wealth_management"),
            asset(SPOUSE, "10000.01", "securities"),
        ),
    )
    outcome = check_with_bank(ans)
    assert outcome.recommendation == "ineligible"
    assert outcome.profile.financial_assets == Decimal("40000.01")
    bank = NAMES["bank"]
    assert (
        f"家庭金融资产：核实值40000.01元，超过上限40000.00元，不符合（来源：{bank}）。"
        in outcome.reasons
    )
    # The declaration is a cross-check: each member whose balances differ is a finding.
    assert [
        (d.member_id_hash, d.field, d.declared, d.verified, d.department)
        for d in outcome.discrepancies
        if d.field == "financial_assets"
    ] == [
        (APPLICANT, "financial_assets", "20000.00", "30000.00", "bank"),
        (SPOUSE, "financial_assets", "20000.00", "10000.01", "bank"),
    ]


def test_no_record_at_the_banks_is_zero_assets_and_a_mismatch() -> None:
    ans = answers()
    ans["bank"] = Answer("bank", True, ())
    outcome = check_with_bank(ans)
    assert outcome.recommendation == "eligible", outcome.reasons
    assert outcome.profile.financial_assets == Decimal("0.00")
    assert [
        (d.member_id_hash, d.verified)
        for d in outcome.discrepancies
        if d.field == "financial_assets"
    ] == [(APPLICANT, "0.00"), (SPOUSE, "0.00")]


def test_a_silent_bank_leaves_the_ceiling_unverified_instead_of_trusting_the_declaration() -> None:
    outcome = check_with_bank(answers())
    assert outcome.recommendation == "needs_review"
    assert (
        f"家庭金融资产：上限40000.00元，{NAMES['bank']}未反馈，无法核实，需人工审核。"
        in outcome.reasons
    )
    assert not [d for d in outcome.discrepancies if d.field == "financial_assets"]


def test_balances_come_only_from_the_banks_and_the_banks_report_only_balances() -> None:
    assert misplaced_findings("bank", [asset(APPLICANT, "1.00")]) == set()
    assert misplaced_findings("bank", [income(APPLICANT, "1.00")]) == {"income"}
    assert misplaced_findings("tax", [asset(APPLICANT, "1.00")]) == {"financial_asset"}
    assert misplaced_findings("tax", [income(APPLICANT, "1.00")]) == set()
