"""What verification's commands, queries, handlers and sweeps need, built once at start."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.verification.settings import VerificationSettings
from shared.app import get_context
from shared.context import ServiceContext


@dataclass(frozen=True)
class VerificationContext(ServiceContext):
    settings: VerificationSettings

    @property
    def serial(self) -> bool:
        """Departments asked one after another (the benchmark's baseline), not at once."""
        return self.settings.serial

    @property
    def departments(self) -> frozenset[str]:
        return frozenset(d.code for d in self.city.departments)

    @functools.cached_property
    def batched(self) -> frozenset[str]:
        """The departments whose requests go out as batches (``request_batches``)."""
        return self.settings.batched_departments([d.code for d in self.city.departments])


Ctx = Annotated[VerificationContext, Depends(get_context)]
