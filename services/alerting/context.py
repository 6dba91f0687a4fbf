"""What the alerting service's handlers, endpoints and sweeps share: its settings, the rule
configuration (calendar, city, configurable limits) and the SMS notifier, built once by
``bootstrap.py``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.alerting.adapters.limiter import ComplaintLimiter
from services.alerting.adapters.notifier import Notifier
from services.alerting.settings import AlertingSettings
from shared.app import get_context
from shared.context import ServiceContext
from shared.workdays import WorkdayCalendar


@dataclass(frozen=True)
class RuleConfig:
    """What the rules need besides events: the calendar, the city, the configurable limits."""

    calendar: WorkdayCalendar
    city: str
    materials_grace_working_days: int = 1  # Y2
    publish_within_working_days: int = 5  # F3
    allocation_publish_within_working_days: int = 5  # F4
    # City configuration: submission to acceptance (Y3/R8 on the acceptance stage) and the
    # application's overall limit (R8T; None: not supervised).
    acceptance_working_days: int = 5
    total_working_days: int | None = None
    complaint_answer_working_days: int = 15  # C1


@dataclass(frozen=True)
class AlertingContext(ServiceContext):
    settings: AlertingSettings
    rules: RuleConfig
    notifier: Notifier
    complaint_limiter: ComplaintLimiter  # the public complaint form's token bucket


Ctx = Annotated[AlertingContext, Depends(get_context)]
