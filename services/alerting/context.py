"""What the alerting service's handlers, endpoints and sweeps share: its settings, the rule
configuration (calendar, city, configurable limits) and the SMS notifier, built once by
``bootstrap.py``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

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


@dataclass(frozen=True)
class AlertingContext(ServiceContext):
    settings: AlertingSettings
    rules: RuleConfig
    notifier: Notifier


Ctx = Annotated[AlertingContext, Depends(get_context)]
