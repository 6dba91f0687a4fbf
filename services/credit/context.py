"""The credit service's context: its settings, the credit rules, the city credit system client.

Built once by ``bootstrap.py``; endpoints reach it as ``Ctx``, handlers and sweeps receive it as
their first argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from fastapi import Depends

from services.credit import domain
from services.credit.adapters.city_credit import CityCredit
from services.credit.domain import RecordKind
from services.credit.settings import CreditConfig, CreditSettings
from shared.app import get_context
from shared.context import ServiceContext


@dataclass(frozen=True)
class CreditContext(ServiceContext):
    settings: CreditSettings
    config: CreditConfig  # the credit rules (ban years, correction period, employer kinds)
    city_credit: CityCredit  # where filed records are pushed (市征信管理系统)

    @cached_property
    def kinds(self) -> dict[str, RecordKind]:
        return domain.record_kinds((k.code, k.title) for k in self.config.employer_kinds)

    def kind_of(self, code: str, category: str) -> RecordKind:
        """The kind of a stored record, even one the city has since removed from its config."""
        return self.kinds.get(code) or RecordKind(code, category, code, "other")  # type: ignore[arg-type]


Ctx = Annotated[CreditContext, Depends(get_context)]
