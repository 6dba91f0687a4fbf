"""Credit configuration: ban lengths, correction period, city employer kinds, city credit system.

The city YAML (``shared.city.CityConfig``) forbids unknown sections and is shared by every
service, so the credit-specific part lives here instead: defaults that match Taizhou's rules
(一般 1 年、较重 3 年、严重 5 年), optionally overridden by a YAML file named in
``HOUSING_CREDIT_CONFIG`` whose top level is a ``credit:`` section, e.g.::

    credit:
      ban_years: {general: 1, serious: 3, severe: 5}
      correction_days: 15
      employer_kinds:
        - {code: false_employment_certificate, title: 为非本单位人员出具在职证明}
        - {code: false_social_insurance, title: 为非本单位人员代缴社会保险}
      city_credit_system:
        url: https://credit.example.gov.cn/api/dishonesty-records

The id-hash key is a secret and comes from the environment, never from a file in the repo.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, field_validator

from shared.events.catalogue import BAN_YEARS

CONFIG_ENV_VAR = "HOUSING_CREDIT_CONFIG"
ID_HASH_KEY_ENV_VAR = "HOUSING_ID_HASH_KEY"
# Shared with intake: both services must hash a resident ID to the same value.
DEV_ID_HASH_KEY = "dev-only-id-hash-key"


def id_hash_key() -> str:
    """The HMAC key under which resident IDs (and organisation codes) become ``id_hash``."""
    return os.environ.get(ID_HASH_KEY_ENV_VAR) or DEV_ID_HASH_KEY


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


KindCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]


class EmployerKind(_Model):
    """A city-specific employer dishonesty kind (单位失信行为) beyond the two fixed ones."""

    code: KindCode
    title: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class CityCreditSystem(_Model):
    """Where recorded dishonesty is pushed (市征信管理系统), and how hard to try."""

    url: HttpUrl | None = Field(default=None, description="None: sharing is queued, not sent.")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Backoff between attempts; the last value repeats until max_attempts is reached.
    retry_delays_seconds: list[float] = Field(default_factory=lambda: [30.0, 300.0, 3600.0])
    max_attempts: int = Field(default=10, ge=1, le=100)


DEFAULT_EMPLOYER_KINDS = (
    EmployerKind(code="false_employment_certificate", title="为非本单位人员出具在职证明"),
    EmployerKind(code="false_social_insurance", title="为非本单位人员代缴社会保险"),
)


class CreditConfig(_Model):
    ban_years: dict[str, int] = Field(default_factory=lambda: dict(BAN_YEARS))
    # Calendar days the subject has to correct after the notice was delivered or announced
    # (告知后限期纠正); Taizhou's rules leave the length to the implementing agency.
    correction_days: int = Field(default=15, ge=1, le=365)
    employer_kinds: tuple[EmployerKind, ...] = DEFAULT_EMPLOYER_KINDS
    city_credit_system: CityCreditSystem = CityCreditSystem()
    expiry_sweep_seconds: float = Field(default=300.0, gt=0)
    share_sweep_seconds: float = Field(default=30.0, gt=0)

    @field_validator("ban_years")
    @classmethod
    def _every_severity(cls, value: dict[str, int]) -> dict[str, int]:
        if set(value) != set(BAN_YEARS):
            raise ValueError("ban_years needs exactly general, serious and severe")
        if any(not 1 <= years <= 20 for years in value.values()):
            raise ValueError("ban_years must be between 1 and 20")
        return value

    @field_validator("employer_kinds")
    @classmethod
    def _two_city_kinds(cls, value: tuple[EmployerKind, ...]) -> tuple[EmployerKind, ...]:
        # Taizhou names four employer kinds; two are fixed in code, two come from the city.
        if len(value) != 2 or value[0].code == value[1].code:
            raise ValueError("employer_kinds needs exactly two distinct kinds")
        return value


def load_config(path: Path | str | None = None) -> CreditConfig:
    """Defaults, overridden by the ``credit`` section of ``path`` or ``$HOUSING_CREDIT_CONFIG``."""
    source = path if path is not None else os.environ.get(CONFIG_ENV_VAR)
    if not source:
        return CreditConfig()
    raw = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: expected a mapping with a 'credit' section")
    return CreditConfig.model_validate(raw.get("credit") or {})
