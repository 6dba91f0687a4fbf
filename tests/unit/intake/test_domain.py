"""Intake's pure rules: resident IDs as the API validates them, bans, households, notices."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.intake import domain
from services.intake.schemas import MemberIn
from shared.events.catalogue import ApplicationSubmitted
from shared.pii import resident_id_check_char

DOC_NO = re.compile(r"^[A-Za-z0-9-]{4,40}$")
MASKED_NAME = re.compile(
    ApplicationSubmitted.model_fields["applicant_name_masked"].metadata[0].pattern
)


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    region = draw(st.from_regex(r"[1-9][0-9]{5}", fullmatch=True))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)))
    serial = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    first17 = f"{region}{born:%Y%m%d}{serial}"
    return first17 + resident_id_check_char(first17)


def member(resident_id: str) -> dict[str, object]:
    return {
        "name": "张三",
        "resident_id": resident_id,
        "relationship": "applicant",
        "marital_status": "married",
        "hukou_division": "350203",
        "declared_monthly_income": "3000.00",
        "declared_financial_assets": "0",
        "declared_vehicle_count": 0,
        "declared_vehicle_value": "0",
    }


@given(resident_ids())
def test_every_valid_resident_id_is_accepted_by_the_application_form(rid: str) -> None:
    assert MemberIn.model_validate(member(rid)).resident_id == rid


@given(resident_ids())
def test_every_single_character_corruption_is_refused(rid: str) -> None:
    # ISO 7064 MOD 11-2 catches every single substitution; try them all, at every position.
    for position in range(18):
        for replacement in "0123456789X":
            if replacement == rid[position]:
                continue
            corrupted = rid[:position] + replacement + rid[position + 1 :]
            with pytest.raises(ValidationError) as caught:
                MemberIn.model_validate(member(corrupted))
            error = caught.value.errors()[0]
            assert error["loc"] == ("resident_id",)
            assert error["msg"].startswith("身份证号码")
            # The refusal never repeats the number it refused.
            assert corrupted not in error["msg"]


def test_a_birth_date_in_the_future_is_refused() -> None:
    first17 = "35020330000101123"
    with pytest.raises(ValidationError, match="出生日期无效"):
        MemberIn.model_validate(member(first17 + resident_id_check_char(first17)))


@pytest.mark.parametrize(
    ("starts", "ends", "lifted", "expected"),
    [
        (date(2026, 1, 1), date(2027, 1, 1), None, True),
        (date(2026, 1, 1), date(2026, 11, 21), None, False),  # ends_on is the first free day
        (date(2026, 1, 1), date(2026, 11, 22), None, True),
        (date(2026, 12, 1), date(2027, 12, 1), None, False),  # not started yet
        (date(2026, 1, 1), date(2027, 1, 1), date(2026, 11, 21), False),  # lifted today
        (date(2026, 1, 1), date(2027, 1, 1), date(2026, 12, 1), True),  # lift dated later
        (None, None, date(2026, 11, 1), False),  # a lift whose ban never arrived
    ],
)
def test_ban_in_force(
    starts: date | None, ends: date | None, lifted: date | None, expected: bool
) -> None:
    assert domain.ban_in_force(date(2026, 11, 21), starts, ends, lifted) is expected


def test_household_needs_one_applicant_first_and_no_one_twice() -> None:
    assert domain.household_errors(["applicant", "spouse"], ["a", "b"]) == []
    assert domain.household_errors(["spouse", "child"], ["a", "b"])[0].field == "members"
    assert domain.household_errors(["applicant", "applicant"], ["a", "b"])[0].field == "members"
    assert domain.household_errors(["spouse", "applicant"], ["a", "b"]) == [
        domain.FieldError("members.0.relationship", "申请人应列为第一名家庭成员")
    ]
    assert domain.household_errors(["applicant", "child", "child"], ["a", "b", "a"]) == [
        domain.FieldError("members.2.resident_id", "与第1名家庭成员的身份证号码重复")
    ]


def test_a_notice_must_list_every_missing_required_material_once() -> None:
    known = ["id_card", "household_register", "marriage_certificate"]
    names = {"household_register": "居民户口簿"}
    assert domain.notice_errors(["household_register"], known, ["household_register"]) == []
    # Extra items (e.g. an unclear copy of something present) are fine.
    assert (
        domain.notice_errors(["household_register", "id_card"], known, ["household_register"]) == []
    )
    left_out = domain.notice_errors(["id_card"], known, ["household_register"], names)
    assert left_out == [
        domain.FieldError("items", "补件通知须一次性列明全部缺少的材料，还缺：居民户口簿")
    ]
    assert domain.notice_errors(["nope"], known, []) == [
        domain.FieldError("items.0.code", "未知的材料类型：nope")
    ]
    assert domain.notice_errors(["id_card", "id_card"], known, [])[0].field == "items.1.code"


def test_missing_materials_keep_the_city_order() -> None:
    required = ["id_card", "household_register", "application_form"]
    assert domain.missing_materials(required, ["household_register"]) == [
        "id_card",
        "application_form",
    ]
    assert domain.items_received(["id_card"], ["id_card", "x"]) is True
    assert domain.items_received(["id_card", "x"], ["id_card"]) is False


def test_document_numbers_fit_the_event_contract() -> None:
    day = date(2026, 11, 21)
    assert domain.tracking_number("350200", day, 123) == "SQ350200-20261121-000123"
    assert domain.receipt_number("350203001", day, 42) == "SL350203001-2026-000042"
    assert domain.notice_number("350203001", day, 7) == "BJ350203001-2026-000007"
    for number in (
        domain.tracking_number("350200", day, 10**9),
        domain.receipt_number("350203001", day, 10**9),
    ):
        assert DOC_NO.fullmatch(number)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张", "张*"),
        ("张三", "张*"),
        ("张三丰", "张*丰"),
        ("阿卜杜热合曼买买提艾力江", "阿**********江"),
    ],
)
def test_masked_names_fit_the_event_pattern(name: str, masked: str) -> None:
    assert domain.masked_name(name) == masked
    assert MASKED_NAME.fullmatch(masked)


def test_status_rules() -> None:
    assert domain.is_active("accepted") and not domain.is_active("withdrawn")
    assert domain.Status.ACCEPTED not in domain.CAN_REJECT
    assert domain.Status.REJECTED not in domain.CAN_WITHDRAW
