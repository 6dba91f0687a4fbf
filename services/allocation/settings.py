"""The allocation service's own settings (``HOUSING_ALLOCATION_*``) and its rule file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings

from shared.settings import service_settings_config

DATA = Path(__file__).resolve().parent / "data"


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PriorityGroup(_Rule):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    name: str
    tier: int = Field(ge=1, le=99)


class UnitSizeRule(_Rule):
    max_members: int = Field(ge=1)
    max_area_m2: Decimal = Field(gt=0)


class Subsidy(_Rule):
    area_standard_m2_per_person: Decimal = Field(gt=0)
    per_m2_by_income_band: dict[str, Decimal]


class AllocationRules(_Rule):
    priority_groups: tuple[PriorityGroup, ...] = Field(min_length=1)
    default_priority_group: str
    unit_size_rules: tuple[UnitSizeRule, ...] = Field(min_length=1)
    pool_objection_days: int = Field(ge=0, le=60)
    decline_limit: int = Field(ge=1)
    suspension_days: int = Field(ge=1)
    subsidy: Subsidy

    @model_validator(mode="after")
    def _default_known(self) -> AllocationRules:
        if self.default_priority_group not in {g.code for g in self.priority_groups}:
            raise ValueError("default_priority_group is not one of priority_groups")
        return self

    def tier(self, group: str) -> int:
        return next(g.tier for g in self.priority_groups if g.code == group)

    def groups(self) -> set[str]:
        return {g.code for g in self.priority_groups}


class RecoveryClause(_Rule):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    text: str


def load_rules(path: Path) -> AllocationRules:
    return AllocationRules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def load_clauses(path: Path) -> tuple[RecoveryClause, ...]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(RecoveryClause.model_validate(c) for c in raw)


class AllocationSettings(BaseSettings):
    model_config = service_settings_config("allocation")

    # Priority groups, unit-size rules, decline limit, subsidy formula (data/rules.yaml).
    rules_file: Path = DATA / "rules.yaml"
    """Priority groups, unit-size rules, decline limit, subsidy formula (YAML)."""
    # The model contract text and its coded early-recovery clauses.
    contract_template: Path = DATA / "contract_model.md"
    """The model lease contract text."""
    recovery_clauses_file: Path = DATA / "recovery_clauses.yaml"
    """The contract's coded early-recovery clauses (YAML)."""
    # Days a household has to sign its contract after choosing a unit.
    contract_sign_days: int = Field(default=7, ge=1)
    """Days a household has to sign its contract after choosing a unit."""
    # The lessor named in contracts.
    lessor: str = "厦门市住房保障中心"
    """The lessor named in contracts."""
    # How often the contract-deadline sweep runs.
    sweep_seconds: float = Field(default=300.0, gt=0)
    """How often contract deadlines and unconfirmed waiting-list entries are checked."""
    # How often households past their selection deadline are recorded as no-shows.
    selection_sweep_seconds: float = Field(default=60.0, gt=0)
    """How often households past their selection deadline are recorded as no-shows."""
