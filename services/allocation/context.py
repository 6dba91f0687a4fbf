"""The allocation service's context: its settings, rules, contract template and clauses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.allocation.settings import AllocationRules, AllocationSettings, RecoveryClause
from shared.app import get_context
from shared.context import ServiceContext


@dataclass(frozen=True)
class AllocationContext(ServiceContext):
    settings: AllocationSettings
    rules: AllocationRules
    contract_template: str
    clauses: tuple[RecoveryClause, ...]


Ctx = Annotated[AllocationContext, Depends(get_context)]
