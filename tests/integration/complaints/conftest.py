"""Alerting (the complaints ledger) and credit of one system, on real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.conftest import Infra
from tests.services import RunningService, running_service


@dataclass
class System:
    alerting: RunningService
    credit: RunningService


@pytest.fixture(scope="package")
async def system(infra: Infra) -> AsyncIterator[System]:
    # The clock sweep runs when a test calls it, at the instant the test sets.
    keys = ("HOUSING_ALERTING_SWEEP_SECONDS", "HOUSING_ALERTING_DISPATCH_SECONDS")
    saved = {k: os.environ.get(k) for k in keys}
    for k in keys:
        os.environ[k] = "3600"
    try:
        async with (
            running_service(infra, "alerting", system="cpl") as alerting,
            running_service(infra, "credit", system="cpl") as credit,
        ):
            yield System(alerting, credit)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
