"""The part of every service's context that the platform itself provides.

Each service's ``context.py`` declares a frozen dataclass that extends ``ServiceContext`` with
what its commands, queries, handlers and sweeps need (its own settings, outbound adapters,
rule tables). ``bootstrap.py`` builds it once, from the runtime, when the service starts;
endpoints reach it through one dependency (``shared.app.get_context``), handlers and sweeps
receive it as their first argument. Nothing is looked up later or from module globals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.city import CityConfig
from shared.db import UnitOfWork
from shared.settings import ServiceSettings
from shared.workdays import WorkdayCalendar, default_calendar

if TYPE_CHECKING:
    from shared.runtime import Runtime


@dataclass(frozen=True)
class ServiceContext:
    common: ServiceSettings  # the HOUSING_* settings every service shares
    city: CityConfig  # validated at start; a bad file stops the service
    calendar: WorkdayCalendar
    uow: Callable[[], UnitOfWork]  # a new unit of work (one transaction plus its outbox)

    @property
    def id_hash_key(self) -> str:
        return self.common.id_hash_key.get_secret_value()


def base_fields(runtime: Runtime) -> dict[str, Any]:
    """The ``ServiceContext`` fields of a running service, for a subclass's constructor."""
    return {
        "common": runtime.settings,
        "city": runtime.city,
        "calendar": default_calendar(),
        "uow": runtime.uow,
    }
