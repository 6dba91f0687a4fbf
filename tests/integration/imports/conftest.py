"""Intake, review and alerting of one system on real PostgreSQL and RabbitMQ: a historical
import goes in through intake's and review's public endpoints, and alerting hears the events
the relay really published."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.conftest import Infra
from tests.services import RunningService, running_service


@dataclass
class System:
    intake: RunningService
    review: RunningService
    alerting: RunningService


@pytest.fixture(scope="package")
async def system(infra: Infra) -> AsyncIterator[System]:
    # Alerting's clock must not tick on its own: the assertions are about event-fired rules.
    saved = {
        k: os.environ.get(k)
        for k in ("HOUSING_ALERTING_SWEEP_SECONDS", "HOUSING_ALERTING_DISPATCH_SECONDS")
    }
    os.environ["HOUSING_ALERTING_SWEEP_SECONDS"] = "3600"
    os.environ["HOUSING_ALERTING_DISPATCH_SECONDS"] = "3600"
    try:
        async with (
            running_service(infra, "alerting", system="imp") as alerting,
            running_service(infra, "review", system="imp") as review,
            running_service(infra, "intake", system="imp") as intake,
        ):
            yield System(intake, review, alerting)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
