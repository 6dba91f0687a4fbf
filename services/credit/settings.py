"""Credit settings: where the credit rules file is, and the rules it holds.

``CreditSettings`` is the service's pydantic-settings class (``HOUSING_CREDIT_*``, from the
environment or ``.env``). Its one variable, ``HOUSING_CREDIT_CONFIG``, names an optional YAML
file with the credit rules (``CreditConfig``): ban lengths, correction period, the city's
employer kinds and the city credit system. The city YAML (``shared.city.CityConfig``) forbids
unknown sections and is shared by every service, so the credit-specific part lives in its own
file: defaults that match Taizhou's rules (一般 1 年、较重 3 年、严重 5 年), overridden by the
file's top-level ``credit:`` section, e.g.::

    credit:
      ban_years: {general: 1, serious: 3, severe: 5}
      correction_days: 15
      employer_kinds:
        - {code: false_employment_certificate, title: 为非本单位人员出具在职证明}
        - {code: false_social_insurance, title: 为非本单位人员代缴社会保险}
      city_credit_system:
        url: https://credit.example.gov.cn/api/dishonesty-records

The resident-ID hash key is a secret and not a credit setting: it is the platform's common
``HOUSING_ID_HASH_KEY`` (``ServiceSettings.id_hash_key``, refused in production when it is the
development key), reached as ``ctx.id_hash_key``. Only ``bootstrap.py`` reads any of this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.events.catalogue import BAN_YEARS
from shared.settings import service_settings_config

CONFIG_ENV_VAR = "HOUSING_CREDIT_CONFIG"


class CreditSettings(BaseSettings):
    # ``populate_by_name``: tests and tools pass ``CreditSettings(config_file=...)``.
    model_config = SettingsConfigDict(**service_settings_config("credit"), populate_by_name=True)

    # The variable keeps its historical name ``HOUSING_CREDIT_CONFIG`` (not ``..._CONFIG_FILE``).
    config_file: Path | None = Field(
        default=None,
        validation_alias=CONFIG_ENV_VAR,
        description="Optional YAML file with a `credit:` section; none: Taizhou's defaults.",
    )


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


class PbocExport(_Model):
    """The periodic export to the central bank branch (人行征信), as Taizhou sends it."""

    # One file per calendar period (Asia/Shanghai); the sweep writes the file of a period once
    # it has ended, so a period is exported exactly once however often the sweep runs.
    period: Literal["day", "month"] = "month"
    sweep_seconds: float = Field(default=3600.0, gt=0)


class CreditConfig(_Model):
    ban_years: dict[str, int] = Field(default_factory=lambda: dict(BAN_YEARS))
    # Calendar days the subject has to correct after the notice was delivered or announced
    # (告知后限期纠正); Taizhou's rules leave the length to the implementing agency.
    correction_days: int = Field(default=15, ge=1, le=365)
    employer_kinds: tuple[EmployerKind, ...] = DEFAULT_EMPLOYER_KINDS
    city_credit_system: CityCreditSystem = CityCreditSystem()
    expiry_sweep_seconds: float = Field(default=300.0, gt=0)
    share_sweep_seconds: float = Field(default=30.0, gt=0)
    pboc_export: PbocExport = PbocExport()

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
    """Defaults, overridden by the ``credit`` section of the YAML file ``path`` (if any)."""
    if not path:
        return CreditConfig()
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping with a 'credit' section")
    return CreditConfig.model_validate(raw.get("credit") or {})
