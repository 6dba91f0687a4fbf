"""One alerting service for all alerting integration tests, fed with real events.

Events are built from the catalogue models and published with the shared harness
(``tests/harness.py``): written to an outbox under their producer's name, so the real relay
publishes them on the system's ``events`` exchange as the other services would; alerting
consumes them from its real quorum queue.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import pytest

from services.alerting.bootstrap import rule_config
from services.alerting.sweeps import clock_sweep
from shared.clock import clock
from shared.events.base import EventPayload
from shared.events.envelope import Envelope
from shared.scheduler import run_once
from tests.conftest import Infra
from tests.harness import emitted, handled, publish
from tests.services import RunningService, running_service


@dataclass
class Harness:
    alerting: RunningService
    infra: Infra

    @property
    def client(self):
        return self.alerting.client

    async def publish(self, *payloads: EventPayload, subject: str | None = None) -> list[Envelope]:
        """Publish the events in order, each under its producer's name, and wait until
        alerting handled every one."""
        sent = []
        for p in payloads:
            sent += await publish(self.alerting, p, producer=p.producer, subject=subject)
        await handled(self.alerting, *sent)
        return sent

    async def sweep(self, at: datetime) -> dict[str, int]:
        """One clock-sweep tick at instant ``at`` (same lock as the scheduled job)."""
        clock.set(at)
        result: dict[str, int] = {}

        async def tick(uow):
            result.update(await clock_sweep(uow, rule_config()))

        assert await run_once(self.alerting.runtime, "alerting-clock-sweep", tick)
        return result

    async def emitted(self, event_type: str) -> list[dict]:
        """Events of ``event_type`` alerting wrote to its outbox, oldest first."""
        return await emitted(self.alerting, event_type)


@pytest.fixture(scope="package")
async def harness(infra: Infra) -> AsyncIterator[Harness]:
    # The scheduled jobs must not tick on their own while tests move the clock; tests call
    # the sweep and the dispatcher directly.
    saved = {
        k: os.environ.get(k)
        for k in ("HOUSING_ALERTING_SWEEP_SECONDS", "HOUSING_ALERTING_DISPATCH_SECONDS")
    }
    os.environ["HOUSING_ALERTING_SWEEP_SECONDS"] = "3600"
    os.environ["HOUSING_ALERTING_DISPATCH_SECONDS"] = "3600"
    try:
        async with running_service(infra, "alerting", system="al") as alerting:
            yield Harness(alerting, infra)
    finally:
        clock.reset()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(autouse=True)
def _reset_clock() -> AsyncIterator[None]:
    yield
    clock.reset()
