from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.city import (
    DEFAULT_CITY_PATH,
    CityConfig,
    CityConfigError,
    HouseholdField,
    HukouRequirement,
    NotConfiguredError,
    Unit,
    UnitLevel,
    WorkflowPreset,
    city_config,
    clear_city_config_cache,
    load_city,
)

XIAMEN = DEFAULT_CITY_PATH


@pytest.fixture(scope="module")
def xiamen() -> CityConfig:
    return load_city(XIAMEN)


def _raw() -> dict[str, Any]:
    data = yaml.safe_load(XIAMEN.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _problems_after(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> list[str]:
    """Load the shipped file with one change applied; return the problems it reports."""
    data = _raw()
    change(data)
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CityConfigError) as caught:
        load_city(path)
    assert caught.value.source == path
    return [str(problem) for problem in caught.value.problems]


# -- the shipped Xiamen file -------------------------------------------------------------------


def test_shipped_xiamen_file_loads(xiamen: CityConfig) -> None:
    assert (xiamen.city.code, xiamen.city.name) == ("350200", "厦门市")
    assert (xiamen.city.province_code, xiamen.city.province_name) == ("350000", "福建省")
    assert [(d.code, d.name) for d in xiamen.districts()] == [
        ("350203", "思明区"),
        ("350205", "海沧区"),
        ("350206", "湖里区"),
        ("350211", "集美区"),
        ("350212", "同安区"),
        ("350213", "翔安区"),
    ]
    assert len(xiamen.streets()) == 42
    assert xiamen.workflow is WorkflowPreset.XIAMEN
    assert xiamen.publicity.min_days == 7
    assert xiamen.acceptance.any_street_may_accept is True
    assert xiamen.acceptance.supplement_deadline_working_days == 10
    assert [c.code for c in xiamen.categories] == [
        "low_income_family",
        "newly_employed",
        "migrant_worker",
    ]


def test_every_category_requires_the_four_core_materials(xiamen: CityConfig) -> None:
    for category in xiamen.categories:
        assert category.required_materials[:4] == (
            "id_card",
            "household_register",
            "application_form",
            "economic_verification_authorisation",
        )
    assert [m.name for m in xiamen.required_materials("migrant_worker")] == [
        "居民身份证",
        "居民户口簿",
        "公共租赁住房申请表",
        "家庭经济状况核对授权书",
        "居住证",
        "劳动合同",
    ]


def test_low_income_families_have_their_assets_verified_by_the_banks(xiamen: CityConfig) -> None:
    assert xiamen.verifying_departments("low_income_family")[-1].code == "bank"
    assert "bank" not in [d.code for d in xiamen.verifying_departments("newly_employed")]
    bank = xiamen.department("bank")
    # Balances are reported, never asked with the declared amounts.
    assert bank.fields == (HouseholdField.NAME, HouseholdField.RESIDENT_ID)


def test_category_without_departments_gets_the_default_eight(xiamen: CityConfig) -> None:
    assert [d.code for d in xiamen.verifying_departments("newly_employed")] == [
        "public_security",
        "civil_affairs",
        "real_estate",
        "hr_social_security",
        "market_supervision",
        "provident_fund",
        "tax",
        "vehicle",
    ]
    assert xiamen.department("tax").fields == (
        HouseholdField.NAME,
        HouseholdField.RESIDENT_ID,
        HouseholdField.EMPLOYER,
    )


def test_admission_parameters_are_decimals(xiamen: CityConfig) -> None:
    admission = xiamen.category("low_income_family").admission
    assert admission.max_monthly_income_per_capita == Decimal("4500")
    assert admission.max_housing_area_per_capita == Decimal("15")
    assert admission.hukou is HukouRequirement.LOCAL
    assert admission.min_local_hukou_years == 3


# -- lookups -----------------------------------------------------------------------------------


def test_unit_lookups(xiamen: CityConfig) -> None:
    assert xiamen.district_of("350203001") == "350203"
    assert xiamen.district_of("350213111") == "350213"
    assert xiamen.district_of("350206") == "350206"
    assert xiamen.unit("350203001") == Unit("350203001", "厦港街道", UnitLevel.STREET, "350203")
    assert xiamen.unit("350203") == Unit("350203", "思明区", UnitLevel.DISTRICT, "350200")
    assert xiamen.unit("350200") == Unit("350200", "厦门市", UnitLevel.CITY, None)
    assert xiamen.unit("350204001") is None
    assert xiamen.is_street("350203001") is True
    assert xiamen.is_street("350203") is False
    assert xiamen.is_street("350200") is False
    assert xiamen.is_street("350299001") is False
    assert xiamen.streets()[0] == Unit("350203001", "厦港街道", UnitLevel.STREET, "350203")
    assert xiamen.streets()[-1] == Unit("350213111", "内厝镇", UnitLevel.STREET, "350213")


def test_lineage_and_containment(xiamen: CityConfig) -> None:
    assert [u.code for u in xiamen.lineage("350211102")] == ["350211102", "350211", "350200"]
    assert xiamen.is_within("350211102", "350211") is True
    assert xiamen.is_within("350211102", "350200") is True
    assert xiamen.is_within("350211102", "350211102") is True
    assert xiamen.is_within("350211102", "350203") is False
    assert xiamen.is_within("350211", "350211102") is False
    assert xiamen.is_within("999999999", "350200") is False


def test_unknown_codes_raise_not_configured(xiamen: CityConfig) -> None:
    with pytest.raises(NotConfiguredError, match="'350200' is not a street or district of 厦门市"):
        xiamen.district_of("350200")
    with pytest.raises(NotConfiguredError, match="'350299001' is not a street or district"):
        xiamen.district_of("350299001")
    with pytest.raises(NotConfiguredError, match="unknown application category 'student'"):
        xiamen.category("student")
    with pytest.raises(NotConfiguredError, match="unknown department 'power_supply'"):
        xiamen.department("power_supply")


def test_city_config_is_loaded_once() -> None:
    clear_city_config_cache()
    first = city_config(XIAMEN)
    assert city_config(XIAMEN.parent / ".." / "cities" / XIAMEN.name) is first
    assert city_config() is first
    clear_city_config_cache()
    assert city_config(XIAMEN) is not first


# -- refusals, each naming the path of the problem ---------------------------------------------


def test_street_not_under_its_district_is_refused(tmp_path: Path) -> None:
    def move(data: dict[str, Any]) -> None:
        data["units"]["districts"][0]["streets"][1]["code"] = "350206099"

    assert _problems_after(tmp_path, move) == [
        "units.districts.0.streets.1.code: street 350206099 (中华街道) is not under district "
        "350203 (思明区)"
    ]


def test_district_outside_the_city_is_refused(tmp_path: Path) -> None:
    def move(data: dict[str, Any]) -> None:
        data["units"]["districts"][1]["code"] = "350105"

    problems = _problems_after(tmp_path, move)
    assert problems[0] == (
        "units.districts.1.code: district 350105 (海沧区) is not under city 350200 (厦门市)"
    )
    # Its four streets now also sit under the wrong district.
    assert problems[1:] == [
        f"units.districts.1.streets.{i}.code: street {code} ({name}) is not under district "
        "350105 (海沧区)"
        for i, (code, name) in enumerate(
            [
                ("350205001", "海沧街道"),
                ("350205002", "新阳街道"),
                ("350205003", "嵩屿街道"),
                ("350205004", "东孚街道"),
            ]
        )
    ]


def test_duplicate_street_code_is_refused(tmp_path: Path) -> None:
    def duplicate(data: dict[str, Any]) -> None:
        data["units"]["districts"][0]["streets"][2]["code"] = "350203001"

    assert _problems_after(tmp_path, duplicate) == [
        "units.districts.0.streets.2.code: 350203001 is already used at "
        "units.districts.0.streets.0.code"
    ]


def test_malformed_code_is_refused(tmp_path: Path) -> None:
    def shorten(data: dict[str, Any]) -> None:
        data["units"]["districts"][2]["streets"][0]["code"] = "35020600"

    assert _problems_after(tmp_path, shorten) == [
        "units.districts.2.streets.0.code: must be a 9-digit division code, got '35020600'"
    ]


def test_unquoted_codes_are_read_as_text(tmp_path: Path) -> None:
    text = XIAMEN.read_text(encoding="utf-8").replace('"350203001"', "350203001")
    assert "code: 350203001," in text
    path = tmp_path / "city.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_city(path).district_of("350203001") == "350203"


def test_unknown_material_in_a_category_is_refused(tmp_path: Path) -> None:
    index = len(_raw()["categories"][1]["required_materials"])

    def add(data: dict[str, Any]) -> None:
        data["categories"][1]["required_materials"].append("foo")

    assert _problems_after(tmp_path, add) == [
        f"categories.1.required_materials.{index}: unknown material 'foo'"
    ]


def test_category_missing_a_core_material_is_refused(tmp_path: Path) -> None:
    def drop(data: dict[str, Any]) -> None:
        data["categories"][0]["required_materials"].remove("economic_verification_authorisation")

    assert _problems_after(tmp_path, drop) == [
        "categories.0.required_materials: missing 'economic_verification_authorisation': every "
        "category requires 一证一簿两表 (id_card, household_register, application_form, "
        "economic_verification_authorisation)"
    ]


def test_unknown_department_in_a_category_is_refused(tmp_path: Path) -> None:
    def add(data: dict[str, Any]) -> None:
        data["categories"][2]["departments"] = ["public_security", "police"]

    assert _problems_after(tmp_path, add) == [
        "categories.2.departments.1: unknown department 'police'"
    ]


def test_default_departments_must_exist_in_the_catalogue(tmp_path: Path) -> None:
    def remove_vehicle(data: dict[str, Any]) -> None:
        data["departments"] = [d for d in data["departments"] if d["code"] != "vehicle"]

    # low_income_family lists vehicle explicitly at index 7; the two others inherit the default.
    assert _problems_after(tmp_path, remove_vehicle) == [
        "categories.0.departments.7: unknown department 'vehicle'",
        "categories.1.departments.7: unknown department 'vehicle'",
        "categories.2.departments.7: unknown department 'vehicle'",
    ]


def test_department_field_outside_the_allowed_set_is_refused(tmp_path: Path) -> None:
    def add(data: dict[str, Any]) -> None:
        data["departments"][6]["fields"].append("bank_balance")

    problems = _problems_after(tmp_path, add)
    assert len(problems) == 1
    assert problems[0].startswith("departments.6.fields.3: Input should be 'name', 'resident_id'")


def test_publicity_shorter_than_seven_days_is_refused(tmp_path: Path) -> None:
    def shorten(data: dict[str, Any]) -> None:
        data["publicity"]["min_days"] = 5

    assert _problems_after(tmp_path, shorten) == [
        "publicity.min_days: publicity must last at least 7 days (Xiamen art. 9(7)); got 5"
    ]


def test_objection_window_shorter_than_publicity_is_refused(tmp_path: Path) -> None:
    def shorten(data: dict[str, Any]) -> None:
        data["publicity"] = {"min_days": 10, "objection_window_days": 7}

    assert _problems_after(tmp_path, shorten) == [
        "publicity.objection_window_days: must cover the whole publicity (10 days); got 7"
    ]


def test_supplement_deadline_over_ten_working_days_is_refused(tmp_path: Path) -> None:
    def lengthen(data: dict[str, Any]) -> None:
        data["acceptance"]["supplement_deadline_working_days"] = 11

    assert _problems_after(tmp_path, lengthen) == [
        "acceptance.supplement_deadline_working_days: Input should be less than or equal to 10"
    ]


def test_time_limits_of_acceptance_and_the_whole_application(
    xiamen: CityConfig, tmp_path: Path
) -> None:
    # Submission to acceptance, and Fujian's overall 60 working days including publicity.
    assert (xiamen.acceptance.time_limit_working_days, xiamen.time_limits.total_working_days) == (
        5,
        60,
    )

    def zero(data: dict[str, Any]) -> None:
        data["acceptance"]["time_limit_working_days"] = 0
        data["time_limits"] = {"total_working_days": 0}

    assert _problems_after(tmp_path, zero) == [
        "acceptance.time_limit_working_days: Input should be greater than or equal to 1",
        "time_limits.total_working_days: Input should be greater than or equal to 1",
    ]


def test_unknown_workflow_preset_is_refused(tmp_path: Path) -> None:
    def rename(data: dict[str, Any]) -> None:
        data["workflow"] = "shanghai"

    assert _problems_after(tmp_path, rename) == [
        "workflow: Input should be 'xiamen', 'fujian' or 'pinghu'"
    ]


def test_extra_unknown_keys_are_refused(tmp_path: Path) -> None:
    def add(data: dict[str, Any]) -> None:
        data["notifications"] = {"sms": True}
        data["publicity"]["min_day"] = 7
        data["categories"][0]["admission"]["max_income"] = 5000

    assert _problems_after(tmp_path, add) == [
        "categories.0.admission.max_income: unknown key",
        "publicity.min_day: unknown key",
        "notifications: unknown key",
    ]


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "city.yaml"
    path.write_text(
        XIAMEN.read_text(encoding="utf-8") + "workflow: pinghu\n",
        encoding="utf-8",
    )
    with pytest.raises(CityConfigError) as caught:
        load_city(path)
    (problem,) = caught.value.problems
    assert problem.location == ""
    assert problem.message.startswith("not valid YAML: while constructing a mapping")
    assert "found duplicate key 'workflow'" in problem.message


def test_missing_file_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(CityConfigError) as caught:
        load_city(missing)
    assert str(caught.value).startswith(f"city configuration {missing} is invalid:\n  cannot read:")


def test_continuation_thresholds_default_to_admission_and_are_never_stricter(
    tmp_path: Path, xiamen: CityConfig
) -> None:
    low = xiamen.category("low_income_family")
    assert low.continuation_parameters().max_monthly_income_per_capita == Decimal("5400")
    assert low.admission.max_monthly_income_per_capita == Decimal("4500")

    def drop(data: dict[str, Any]) -> None:
        del data["categories"][0]["continuation"]

    data = _raw()
    drop(data)
    path = tmp_path / "no_continuation.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    same = load_city(path).category("low_income_family")
    assert same.continuation is None
    assert same.continuation_parameters().max_financial_assets == Decimal("300000")

    def stricter(data: dict[str, Any]) -> None:
        data["categories"][0]["continuation"]["max_monthly_income_per_capita"] = 4000

    assert _problems_after(tmp_path, stricter) == [
        "categories.0.continuation.max_monthly_income_per_capita: 4000 is stricter than "
        "admission's 4500: a household admitted today would fail its first re-review"
    ]


# -- offices printed on documents ----------------------------------------------------------------


def test_windows_of_unknown_streets_and_twice_listed_streets_are_refused(tmp_path: Path) -> None:
    def misplace(data: dict[str, Any]) -> None:
        windows = data["offices"]["street_windows"]
        windows[1]["street"] = "350299001"
        windows[2]["street"] = windows[0]["street"]

    assert _problems_after(tmp_path, misplace) == [
        "offices.street_windows.1.street: unknown street '350299001'",
        "offices.street_windows.2: duplicate street '350203001' (first at index 0)",
    ]


def test_a_window_phone_must_be_a_telephone_number(tmp_path: Path) -> None:
    def mistype(data: dict[str, Any]) -> None:
        data["offices"]["housing_centre"]["phone"] = "5300000"

    [problem] = _problems_after(tmp_path, mistype)
    assert problem.startswith("offices.housing_centre.phone: ")
    assert "must be a telephone number such as 0592-1234567, got '5300000'" in problem


def test_a_city_without_offices_is_refused(tmp_path: Path) -> None:
    [problem] = _problems_after(tmp_path, lambda data: data.pop("offices"))
    assert problem.startswith("offices: ")
