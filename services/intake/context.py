"""The intake service's context: the platform's part (settings, city, calendar, units of work)
plus intake's own settings and the notifier of the applicant's SMS.

Built once by ``bootstrap.py``; endpoints reach it as ``Ctx``, handlers and sweeps receive it as
their first argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.intake.adapters.notifier import Notifier
from services.intake.settings import IntakeSettings
from shared.app import get_context
from shared.context import ServiceContext


@dataclass(frozen=True)
class IntakeContext(ServiceContext):
    settings: IntakeSettings
    notifier: Notifier


Ctx = Annotated[IntakeContext, Depends(get_context)]
