"""The tenancy service's own settings (``HOUSING_TENANCY_*``) and its rule file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings

from shared.settings import service_settings_config

DATA = Path(__file__).resolve().parent / "data"

CodeField = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RentBand(_Rule):
    code: str = CodeField
    name: str = Field(min_length=1)
    factor: Decimal = Field(gt=0, le=5, decimal_places=2)
    assistance_statuses: tuple[str, ...] = ()


class Arrears(_Rule):
    reminder_after_months: int = Field(ge=1, le=24)
    notice_after_months: int = Field(ge=1, le=24)
    recovery_clause: str = CodeField
    recovery_after_months: int = Field(ge=1, le=36)

    @model_validator(mode="after")
    def _in_order(self) -> Arrears:
        if not (
            self.reminder_after_months <= self.notice_after_months <= self.recovery_after_months
        ):
            raise ValueError("reminder <= notice <= recovery months")
        return self


class Visits(_Rule):
    interval_months: int = Field(ge=1, le=36)
    reminder_days: int = Field(ge=0, le=180)


class FindingRule(_Rule):
    code: str = CodeField
    name: str = Field(min_length=1)
    clause: str = CodeField
    rectify_days: int = Field(ge=1, le=365)
    credit_kind: str | None = None


class ExitRules(_Rule):
    move_out_days: int = Field(ge=1, le=365)
    deposit_months: int = Field(ge=0, le=12)


class RereviewRules(_Rule):
    deadline_days: int = Field(ge=1, le=365)
    reminder_days: int = Field(ge=0, le=180)
    violation_clause: str = CodeField
    exit_clause: str = CodeField
    rectify_days: int = Field(ge=1, le=365)
    market_band: str = CodeField
    transition_months: int = Field(ge=0, le=36)


class SubsidyRules(_Rule):
    pay_day: int = Field(ge=1, le=28)


class VacancyRules(_Rule):
    kwh_threshold: Decimal = Field(gt=0, le=10000)
    months: int = Field(ge=1, le=24)
    visit_within_days: int = Field(ge=0, le=365)


class TenancyRules(_Rule):
    rent_bands: tuple[RentBand, ...] = Field(min_length=1)
    default_rent_band: str
    bill_due_day: int = Field(ge=1, le=28)
    arrears: Arrears
    visits: Visits
    findings: tuple[FindingRule, ...] = Field(min_length=1)
    exit: ExitRules
    rereview: RereviewRules
    subsidy: SubsidyRules
    vacancy: VacancyRules

    @model_validator(mode="after")
    def _known(self) -> TenancyRules:
        if self.default_rent_band not in {b.code for b in self.rent_bands}:
            raise ValueError("default_rent_band is not one of rent_bands")
        if self.band(self.rereview.market_band) is None:
            raise ValueError("rereview.market_band is not one of rent_bands")
        return self

    def band(self, code: str) -> RentBand | None:
        return next((b for b in self.rent_bands if b.code == code), None)

    def finding(self, code: str) -> FindingRule | None:
        return next((f for f in self.findings if f.code == code), None)


def load_rules(path: Path) -> TenancyRules:
    return TenancyRules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


class TenancySettings(BaseSettings):
    model_config = service_settings_config("tenancy")

    # Rent bands, arrears steps, visit interval, findings, exit and subsidy rules.
    rules_file: Path = DATA / "rules.yaml"
    """Rent bands, arrears steps, visit interval, findings, exit and subsidy rules (YAML)."""
    # Largest home-visit photo accepted (bytes) and the image types accepted.
    max_photo_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    """Largest home-visit photo accepted (bytes)."""
    photo_content_types: tuple[str, ...] = ("image/jpeg", "image/png")
    """Image types accepted for home-visit photos (JSON list)."""
    # How often the billing, arrears, visit, rectification and subsidy sweeps run.
    sweep_seconds: float = Field(default=3600.0, gt=0)
    """How often the billing, arrears, visit, rectification and subsidy sweeps run."""
    # How often the power company is asked for last month's use and vacancy leads are sought.
    power_sweep_seconds: float = Field(default=86400.0, gt=0)
    """How often the power company is asked for last month's use and vacancy leads are sought."""
