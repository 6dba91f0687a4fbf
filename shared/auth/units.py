"""Administrative units from Chinese division codes (GB/T 2260 and street/town extensions).

Province ``350000``, city ``350200``, district or county ``350203``, street or town
``350203001``. The hierarchy is read from the code itself, so authorisation needs no lookup in
the city configuration.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = [
    "UnitLevel",
    "is_unit_code",
    "parent_unit",
    "unit_chain",
    "unit_contains",
    "unit_level",
    "unit_prefix",
    "within",
]

UnitLevel = Literal["province", "city", "district", "street"]


def is_unit_code(code: str) -> bool:
    """True for a 6-digit (province/city/district) or 9-digit (street/town) division code."""
    return (
        isinstance(code, str)
        and len(code) in (6, 9)
        and code.isascii()
        and code.isdigit()
        and code[:2] != "00"
    )


def _require(code: str) -> str:
    if not is_unit_code(code):
        raise ValueError(f"not an administrative division code: {code!r}")
    return code


def unit_level(code: str) -> UnitLevel:
    code = _require(code)
    if len(code) == 9:
        return "street"
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "district"


def parent_unit(code: str) -> str | None:
    """The unit directly above ``code``; None for a province."""
    level = unit_level(code)
    if level == "street":
        return code[:6]
    if level == "district":
        return code[:4] + "00"
    if level == "city":
        return code[:2] + "0000"
    return None


def unit_chain(code: str) -> list[str]:
    """``code`` and every unit above it, ending with the province."""
    chain = [_require(code)]
    while (parent := parent_unit(chain[-1])) is not None:
        chain.append(parent)
    return chain


def unit_contains(ancestor: str, code: str) -> bool:
    """True when ``code`` is ``ancestor`` or lies below it; False for malformed codes.

    Malformed codes answer False rather than raising: a token with a bad ``org`` must be
    refused, not turned into a server error.
    """
    if not (is_unit_code(ancestor) and is_unit_code(code)):
        return False
    return ancestor in unit_chain(code)


def unit_prefix(code: str) -> str:
    """The code prefix shared by ``code`` and every unit below it (division codes nest by
    prefix: province 35, city 3502, district 350203, street 350203001)."""
    level = unit_level(code)
    return {"province": code[:2], "city": code[:4]}.get(level, code)


def within(column: Any, unit: str) -> Any:
    """SQL for "``column`` names ``unit`` or a unit below it" (the jurisdiction filter).

    A malformed ``unit`` (a token with a bad ``org``) selects nothing rather than everything.
    """
    import sqlalchemy as sa  # here, not at the top: the token command needs no SQL

    if not is_unit_code(unit):
        return sa.false()
    return column.startswith(unit_prefix(unit), autoescape=True)
