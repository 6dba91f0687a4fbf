import hashlib
import hmac
import logging
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.pii import (
    MobileNumber,
    ResidentId,
    birth_date_of,
    keyed_hash,
    mask_mobile,
    mask_name,
    mask_pii,
    mask_resident_id,
    normalise_resident_id,
    resident_id_check_char,
    scrub,
    validate_mobile,
    validate_resident_id,
)

VALID_ID = "350203199003071519"
VALID_X_ID = "11010519491231002X"  # the example of GB 11643-1999
TODAY = date(2026, 1, 15)


# --------------------------------------------------------------------------- resident ID


def test_check_char_of_standard_example() -> None:
    assert resident_id_check_char("11010519491231002") == "X"
    assert resident_id_check_char("35020319900307151") == "9"


def test_valid_ids() -> None:
    assert validate_resident_id(VALID_ID, today=TODAY) is None
    assert validate_resident_id(VALID_X_ID, today=TODAY) is None
    assert validate_resident_id(" 11010519491231002x ", today=TODAY) is None


def test_normalise_resident_id() -> None:
    assert normalise_resident_id(" 11010519491231002x\n") == VALID_X_ID


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "长度应为18位"),
        ("35020319900307151", "长度应为18位"),
        ("3502031990030715190", "长度应为18位"),
        ("350203900307151", "为旧版15位号码，请使用18位号码"),
        ("35020319900307151A", "含非法字符"),
        ("3502031990030715X9", "含非法字符"),
        ("３50203199003071519", "含非法字符"),  # full-width digit
        ("350203199002301510", "出生日期无效"),  # 30 February
        ("350203189912311510", "出生日期无效"),  # before 1900
        ("350203202601161510", "出生日期无效"),  # after TODAY
        ("350203199003071518", "校验位错误"),
    ],
)
def test_invalid_ids(value: str, reason: str) -> None:
    assert validate_resident_id(value, today=TODAY) == reason


def test_birth_today_is_valid() -> None:
    first17 = "35020320260115151"
    assert validate_resident_id(first17 + resident_id_check_char(first17), today=TODAY) is None


def test_birth_date_of() -> None:
    assert birth_date_of(VALID_ID) == date(1990, 3, 7)
    assert birth_date_of("11010519491231002x") == date(1949, 12, 31)
    with pytest.raises(ValueError, match="校验位错误"):
        birth_date_of("350203199003071518")


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    region = draw(st.from_regex(r"[1-9][0-9]{5}", fullmatch=True))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    first17 = f"{region}{born:%Y%m%d}{sequence}"
    return first17 + resident_id_check_char(first17)


@given(valid_ids(), st.data())
def test_generated_ids_validate_and_single_changes_fail(value: str, data: st.DataObject) -> None:
    assert validate_resident_id(value, today=TODAY) is None
    assert validate_resident_id(value.lower(), today=TODAY) is None
    position = data.draw(st.integers(min_value=0, max_value=17))
    alphabet = "0123456789X" if position == 17 else "0123456789"
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != value[position]]))
    changed = value[:position] + replacement + value[position + 1 :]
    # MOD 11-2 has non-zero weights modulo the prime 11, so any single change moves the sum.
    assert validate_resident_id(changed, today=TODAY) is not None


# --------------------------------------------------------------------------- mobile


@pytest.mark.parametrize(
    "value", ["13812345678", "19912345678", " 138 1234 5678 ", "+8613812345678"]
)
def test_valid_mobiles(value: str) -> None:
    assert validate_mobile(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1381234567", "长度应为11位"),
        ("138123456789", "长度应为11位"),
        ("12812345678", "号段无效"),
        ("23812345678", "号段无效"),
        ("1381234567a", "含非法字符"),
        ("", "长度应为11位"),
    ],
)
def test_invalid_mobiles(value: str, reason: str) -> None:
    assert validate_mobile(value) == reason


# --------------------------------------------------------------------------- masking


def test_mask_name() -> None:
    assert mask_name("张三丰") == "张*丰"
    assert mask_name("张三") == "张*"
    assert mask_name("张") == "张"
    assert mask_name("欧阳娜娜") == "欧**娜"
    assert mask_name("") == ""


def test_mask_resident_id() -> None:
    assert mask_resident_id("350203199001011234") == "3502**********1234"
    assert mask_resident_id("11010519491231002x") == "1101**********002X"
    assert mask_resident_id("350203900101123") == "3502*******1123"
    assert mask_resident_id("1234") == "****"


def test_mask_mobile() -> None:
    assert mask_mobile("13812345678") == "138****5678"
    assert mask_mobile("138 1234 5678") == "138****5678"


# --------------------------------------------------------------------------- scrub


def test_scrub_log_line() -> None:
    line = "申请人身份证350203199001011234，联系电话13812345678，已受理"
    assert scrub(line) == "申请人身份证3502**********1234，联系电话138****5678，已受理"


def test_scrub_variants() -> None:
    assert scrub("id=11010519491231002x;") == "id=1101**********002X;"
    assert scrub("旧证350203900101123号") == "旧证3502*******1123号"
    assert scrub("tel +86 138-1234-5678.") == "tel +86 138****5678."
    assert scrub("tel:+8613812345678") == "tel:+86138****5678"


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-15T10:30:00.123456+00:00",
        "epoch 1737000000000 ms, 1737000000 s",
        "unit 350203001 under 350203",
        "tracking XM2026-000123",
        "uuid 550e8400-e29b-41d4-a716-413812345678",
        # Digits across a UUID's groups read like a grouped mobile without the token rule.
        "uuid 017fb40c-1681-4513-972a-b798fee61eb1",
        "hash a13812345678bcdef0123456789abcdef0123456789abcdef0123456789abcd",
        "counter 138123456789 and 1381234567",
        "snowflake 175928847299117063",
        "19-digit 3502031990010112345",
        "amount 12,345.67",
    ],
)
def test_scrub_leaves_ordinary_numbers(text: str) -> None:
    assert scrub(text) == text


# --------------------------------------------------------------------------- keyed hash


def test_keyed_hash() -> None:
    key = b"k" * 32
    expected = hmac.new(key, VALID_X_ID.encode(), hashlib.sha256).hexdigest()
    assert keyed_hash(VALID_X_ID, key) == expected
    assert keyed_hash(" 11010519491231002x", key) == expected
    assert keyed_hash(VALID_X_ID, "k" * 32) == expected
    assert keyed_hash(VALID_X_ID, b"j" * 32) != expected
    with pytest.raises(ValueError):
        keyed_hash(VALID_X_ID, b"")


# --------------------------------------------------------------------------- structlog processor


def test_mask_pii_processor_nested() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    event = {
        "event": f"lookup {VALID_ID}",
        "household": {"members": [{"id": VALID_ID, "mobile": 13812345678}], "size": 3},
        "pair": ("13812345678", 2.5),
        "ok": True,
        "_record": record,
    }
    assert mask_pii(None, "info", event) == {
        "event": "lookup 3502**********1519",
        "household": {
            "members": [{"id": "3502**********1519", "mobile": "138****5678"}],
            "size": 3,
        },
        "pair": ["138****5678", 2.5],
        "ok": True,
        "_record": record,
    }


def test_mask_pii_stringifies_unknown_objects() -> None:
    class Member:
        def __str__(self) -> str:
            return f"Member(id={VALID_ID})"

    assert mask_pii(None, "info", {"event": "e", "m": Member()}) == {
        "event": "e",
        "m": "Member(id=3502**********1519)",
    }


# --------------------------------------------------------------------------- pydantic types


class Person(BaseModel):
    resident_id: ResidentId
    mobile: MobileNumber


def test_pydantic_types_normalise() -> None:
    person = Person(resident_id=" 11010519491231002x", mobile="138 1234 5678")
    assert person.resident_id == VALID_X_ID
    assert person.mobile == "13812345678"


def test_pydantic_types_do_not_echo_input() -> None:
    with pytest.raises(ValidationError) as caught:
        Person(resident_id="350203199003071518", mobile="12812345678")
    errors = caught.value.errors()
    assert [(e["type"], e["msg"]) for e in errors] == [
        ("resident_id", "身份证号码校验位错误"),
        ("mobile", "手机号码号段无效"),
    ]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("身份证３５０２０３１９９００１０１１２３４", "身份证3502**********1234"),
        ("证件 350203 19900101 1234 已核", "证件 3502**********1234 已核"),
        ("证件3502-0319-9001-0112-34", "证件3502**********1234"),
        ("电话１３８１２３４５６７８", "电话138****5678"),
        ("电话 1 3 8 1 2 3 4 5 6 7 8", "电话 138****5678"),
        ("户号 2026 1101 0001 共3人", "户号 2026 1101 0001 共3人"),
    ],
)
def test_scrub_catches_full_width_and_grouped_numbers(text: str, masked: str) -> None:
    assert scrub(text) == masked
