"""The intake service's context: the platform's part (settings, city, calendar, units of work)
plus intake's own settings, the notifier of the applicant's SMS and the sealer of the online
application drafts.

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
from shared.sealing import JsonSealer


@dataclass(frozen=True)
class IntakeContext(ServiceContext):
    settings: IntakeSettings
    notifier: Notifier
    drafts: JsonSealer  # seals portal_drafts.payload (HOUSING_INTAKE_DRAFT_KEYS)


Ctx = Annotated[IntakeContext, Depends(get_context)]
