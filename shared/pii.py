"""Personal data rules: resident ID and mobile validation, masking, scrubbing, keyed hashing.

Everything that decides whether a string *is* personal data, or what it may look like when it
leaves the platform (public pages, logs, error bodies, events to parties that do not need it),
lives here so that the rule is the same in every service (architecture.md §6).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from shared.clock import today_shanghai

__all__ = [
    "MobileNumber",
    "ResidentId",
    "birth_date_of",
    "keyed_hash",
    "mask_mobile",
    "mask_name",
    "mask_pii",
    "mask_resident_id",
    "normalise_mobile",
    "normalise_resident_id",
    "resident_id_check_char",
    "scrub",
    "scrub_value",
    "validate_mobile",
    "validate_resident_id",
]

# GB 11643-1999: ISO 7064 MOD 11-2 over the first 17 digits.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH = date(1900, 1, 1)

# ASCII only: str.isdigit() would accept full-width and other Unicode digits.
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")


# --------------------------------------------------------------------------- resident ID


def normalise_resident_id(value: str) -> str:
    """Strip surrounding whitespace and upper-case a trailing ``x``."""
    return value.strip().upper()


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character for 17 ASCII digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("need exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _birth_date(normalised: str) -> date | None:
    try:
        return date(int(normalised[6:10]), int(normalised[10:12]), int(normalised[12:14]))
    except ValueError:
        return None


def validate_resident_id(value: str, *, today: date | None = None) -> str | None:
    """None when ``value`` is a valid 18-character resident ID, else a short Chinese reason.

    The region code is deliberately not checked against a list: region codes are renumbered
    over time and people keep the ID issued under the old code, and the permanent-residence
    cards of foreigners (starting with 9) use the same 18-character scheme.
    """
    normalised = normalise_resident_id(value)
    if len(normalised) != 18:
        if len(normalised) == 15 and normalised.isascii() and normalised.isdigit():
            return "为旧版15位号码，请使用18位号码"
        return "长度应为18位"
    if not _ID_SHAPE.fullmatch(normalised):
        return "含非法字符"
    born = _birth_date(normalised)
    today = today if today is not None else today_shanghai()
    if born is None or born < _EARLIEST_BIRTH or born > today:
        return "出生日期无效"
    if resident_id_check_char(normalised[:17]) != normalised[17]:
        return "校验位错误"
    return None


def birth_date_of(resident_id: str) -> date:
    """Birth date encoded in a valid resident ID; ``ValueError`` with the reason otherwise."""
    reason = validate_resident_id(resident_id)
    if reason is not None:
        raise ValueError(f"身份证号码{reason}")
    born = _birth_date(normalise_resident_id(resident_id))
    assert born is not None  # validate_resident_id already checked the date
    return born


def _check_resident_id(value: str) -> str:
    reason = validate_resident_id(value)
    if reason is not None:
        # The message never contains the value: validation errors end up in problem bodies.
        raise PydanticCustomError("resident_id", "身份证号码{reason}", {"reason": reason})
    return normalise_resident_id(value)


ResidentId = Annotated[
    str,
    AfterValidator(_check_resident_id),
    Field(description="18位居民身份证号码（GB 11643-1999，末位X大写）"),
]
"""A pydantic field type: validated and normalised 18-character resident ID."""


# --------------------------------------------------------------------------- mobile


def normalise_mobile(value: str) -> str:
    """Strip whitespace, inner spaces and dashes, and a leading +86 / 86 country code."""
    digits = re.sub(r"[\s-]", "", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def validate_mobile(value: str) -> str | None:
    """None when ``value`` is a mainland mobile number (11 digits, 1[3-9]…), else a reason."""
    digits = normalise_mobile(value)
    if digits and not (digits.isascii() and digits.isdigit()):
        return "含非法字符"
    if len(digits) != 11:
        return "长度应为11位"
    if not _MOBILE.fullmatch(digits):
        return "号段无效"
    return None


def _check_mobile(value: str) -> str:
    reason = validate_mobile(value)
    if reason is not None:
        raise PydanticCustomError("mobile", "手机号码{reason}", {"reason": reason})
    return normalise_mobile(value)


MobileNumber = Annotated[
    str,
    AfterValidator(_check_mobile),
    Field(description="中国大陆11位手机号码"),
]
"""A pydantic field type: validated mainland mobile number, stored as 11 digits."""


# --------------------------------------------------------------------------- masking


def mask_name(name: str) -> str:
    """张三丰 -> 张*丰, 张三 -> 张*, 张 -> 张 (public lists may show the family name only)."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_resident_id(resident_id: str) -> str:
    """Keep the first 4 (province and city) and the last 4 characters."""
    value = normalise_resident_id(resident_id)
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_mobile(mobile: str) -> str:
    """13812345678 -> 138****5678."""
    digits = normalise_mobile(mobile)
    if len(digits) != 11:
        return "*" * len(digits)
    return digits[:3] + "****" + digits[-4:]


# --------------------------------------------------------------------------- scrubbing

_DATE = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_SCRUB = re.compile(
    # Hex tokens are matched first and left as they are: a UUID, a SHA-256 (keyed_hash) or a
    # trace id can contain an 11-digit run that would otherwise look like a mobile number.
    r"(?P<hex>"
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?<![0-9A-Za-z])(?=[0-9]*[a-fA-F])[0-9a-fA-F]{32,}(?![0-9A-Za-z])"
    r")"
    # Digit boundaries, not word boundaries: Chinese text glues numbers to characters
    # (身份证350203…, 电话13812345678), which \b would not separate. A birth-date-shaped middle
    # keeps snowflake ids and long counters out, without requiring a valid check digit: a
    # mistyped ID is still somebody's ID.
    rf"|(?<![0-9])(?P<id18>[1-9][0-9]{{5}}(?:18|19|20)[0-9]{{2}}{_DATE}[0-9]{{3}}[0-9Xx])(?![0-9])"
    rf"|(?<![0-9])(?P<id15>[1-9][0-9]{{5}}[0-9]{{2}}{_DATE}[0-9]{{3}})(?![0-9])"
    r"|(?<![0-9])(?P<cc>\+?86[- ]?)?(?P<mobile>1[3-9][0-9](?:[- ]?[0-9]{4}){2})(?![0-9])"
)


def _replace(match: re.Match[str]) -> str:
    if match.group("hex") is not None:
        return match.group(0)
    resident_id = match.group("id18") or match.group("id15")
    if resident_id is not None:
        return mask_resident_id(resident_id)
    return (match.group("cc") or "") + mask_mobile(match.group("mobile"))


# Full-width digits and X (０-９, Ｘ) as typed by Chinese input methods: read as ASCII.
_FULL_WIDTH_PRESENT = re.compile("[０-９Ｘｘ]")
_FULL_WIDTH = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)} | {"Ｘ": "X", "ｘ": "x"})
# The same numbers written in groups ("350203 19900101 1234", "3502-0319-9001-0112-34",
# "1 3 8 1 2 3 4 5 6 7 8"): a run of digits with single spaces or hyphens between them, judged
# by what it reads as without the separators.
# Not inside a longer token of letters, digits and hyphens (a UUID such as
# "017fb40c-1681-4513-972a-..." holds "1681-4513-972", which reads as a mobile number).
_GROUPED = re.compile(
    r"(?<![0-9A-Za-z\-])[0-9](?:[ \-]?[0-9]){10,16}(?:[ \-]?[0-9Xx])?(?![0-9A-Za-z])"
)
_ID18 = re.compile(rf"[1-9][0-9]{{5}}(?:18|19|20)[0-9]{{2}}{_DATE}[0-9]{{3}}[0-9Xx]")
_ID15 = re.compile(rf"[1-9][0-9]{{5}}[0-9]{{2}}{_DATE}[0-9]{{3}}")


def _replace_grouped(match: re.Match[str]) -> str:
    text = match.group(0)
    compact = text.replace(" ", "").replace("-", "")
    if compact == text:
        return text  # ungrouped: the first pass has judged it already
    if _ID18.fullmatch(compact) or _ID15.fullmatch(compact):
        return mask_resident_id(compact)
    if _MOBILE.fullmatch(compact):
        return mask_mobile(compact)
    return text


def scrub(text: str) -> str:
    """Mask every resident ID (18 and old 15 characters) and mobile number inside free text,
    also when written with full-width digits or in groups separated by spaces or hyphens."""
    if _FULL_WIDTH_PRESENT.search(text):
        text = text.translate(_FULL_WIDTH)
    return _GROUPED.sub(_replace_grouped, _SCRUB.sub(_replace, text))


# Values the JSON renderer emits verbatim and that cannot carry free text.
_SAFE_SCALARS = (float, Decimal, date, datetime, time, UUID, Enum, type(None))


def scrub_value(value: Any) -> Any:
    """``scrub`` applied to every string inside nested dicts, lists, tuples and sets.

    Integers are checked too (a mobile number logged as an int). Any other object is turned into
    its scrubbed ``str``: a JSON renderer would otherwise serialise dataclasses field by field,
    or fall back to ``repr``, after masking had already run.
    """
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bool) or isinstance(value, _SAFE_SCALARS):
        return value
    if isinstance(value, int):
        text = str(value)
        masked = scrub(text)
        return value if masked == text else masked
    if isinstance(value, Mapping):
        return {scrub_value(k): scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_value(v) for v in value]
    return scrub(str(value))


# structlog's own bookkeeping objects, which later processors need as they are.
_PASS_THROUGH_KEYS = frozenset({"_record", "_from_structlog", "_logger", "_name"})


def mask_pii(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: scrub the event name and every value, recursively.

    Place it after exception formatting, so that tracebacks are text by the time it runs.
    """
    return {
        key: value if key in _PASS_THROUGH_KEYS else scrub_value(value)
        for key, value in event_dict.items()
    }


# --------------------------------------------------------------------------- hashing


def keyed_hash(value: str, key: bytes | str) -> str:
    """HMAC-SHA256 hex of the normalised resident ID.

    Services match ID numbers (bans, duplicates) by this value without holding the number. It
    must be keyed: there are only about 10^10 plausible IDs, so a plain hash is reversed by
    enumeration in minutes.
    """
    key_bytes = key.encode() if isinstance(key, str) else key
    if not key_bytes:
        raise ValueError("keyed_hash needs a non-empty key")
    message = normalise_resident_id(value).encode()
    return hmac.new(key_bytes, message, hashlib.sha256).hexdigest()
