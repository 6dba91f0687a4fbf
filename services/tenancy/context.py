"""The tenancy service's context: its settings and rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.tenancy.settings import TenancyRules, TenancySettings
from shared.app import get_context
from shared.context import ServiceContext


@dataclass(frozen=True)
class TenancyContext(ServiceContext):
    settings: TenancySettings
    rules: TenancyRules


Ctx = Annotated[TenancyContext, Depends(get_context)]
