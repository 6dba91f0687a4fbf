"""One verification service for the whole package: starting and stopping it is the slow part.

Its own deadline sweep is slowed to once an hour so that the deadline tests, which move the
clock and run the sweep themselves, are not raced by it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from tests.conftest import Infra
from tests.services import RunningService, running_service


@pytest.fixture(scope="package")
async def svc(infra: Infra) -> AsyncIterator[RunningService]:
    os.environ["HOUSING_VERIFICATION_DEADLINE_SWEEP_SECONDS"] = "3600"
    try:
        async with running_service(infra, "verification", system="ver") as service:
            yield service
    finally:
        del os.environ["HOUSING_VERIFICATION_DEADLINE_SWEEP_SECONDS"]
