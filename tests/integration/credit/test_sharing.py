"""Filed records reach the city credit system over HTTP, with retries, against a real server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from services.credit import sweeps
from services.credit.adapters.city_credit import CityCredit
from services.credit.settings import CityCreditSystem
from services.credit.tables import credit_shares
from shared.db import UnitOfWork
from shared.scheduler import Sweep, run_once
from tests.examples import resident_id
from tests.integration.credit.conftest import family_record, file_record
from tests.services import RunningService

pytestmark = pytest.mark.integration


@dataclass
class CityCreditServer:
    """A stand-in for the city credit system: fails a record's first pushes, records requests."""

    failures: dict[str, int] = field(default_factory=dict)  # record_id -> 5xx answers to give
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def for_record(self, record_id: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["json"]["record_id"] == record_id]


@pytest.fixture
def city_credit_server() -> Iterator[CityCreditServer]:
    state = CityCreditServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(
                {
                    "path": self.path,
                    "idempotency_key": self.headers.get("Idempotency-Key"),
                    "json": json.loads(body),
                }
            )
            record_id = state.received[-1]["json"]["record_id"]
            status = 200
            if state.failures.get(record_id, 0) > 0:
                state.failures[record_id] -= 1
                status = 503
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args: object) -> None:  # keep test output quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/dishonesty-records"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


async def test_a_filed_record_is_pushed_and_retried_until_the_city_system_accepts(
    credit: RunningService, frozen_clock: Any, city_credit_server: CityCreditServer
) -> None:
    rid = resident_id(serial="701")
    recorded = await file_record(credit, family_record(rid, severity="serious"))
    record_id = recorded["id"]
    system = CityCreditSystem(
        url=city_credit_server.url, retry_delays_seconds=[60.0], max_attempts=5, timeout_seconds=5
    )
    sweep = _share_sweep(credit, system)
    city_credit_server.failures[record_id] = 1

    assert await run_once(credit.runtime, "credit-share-push-test", sweep)
    share = await _share(credit, record_id)
    assert (share.status, share.attempts, share.last_error) == ("pending", 1, "HTTP 503")

    # Not due yet: a second tick within the backoff sends nothing.
    assert await run_once(credit.runtime, "credit-share-push-test", sweep)
    assert len(city_credit_server.for_record(record_id)) == 1

    frozen_clock.advance(timedelta(seconds=61))
    assert await run_once(credit.runtime, "credit-share-push-test", sweep)
    share = await _share(credit, record_id)
    assert (share.status, share.attempts, share.last_error) == ("sent", 2, None)

    requests = city_credit_server.for_record(record_id)
    assert [r["idempotency_key"] for r in requests] == [str(share.id)] * 2
    pushed = requests[-1]
    assert pushed["path"] == "/api/dishonesty-records"
    assert pushed["json"]["record_id"] == record_id
    assert pushed["json"]["id_hash"] == recorded["id_hash"]
    assert pushed["json"]["subject_id_masked"] == recorded["subject_id_masked"]
    assert pushed["json"]["severity"] == "serious"
    assert pushed["json"]["filed_on"] == "2026-12-07"
    assert pushed["json"]["sanction_ends_on"] == "2029-12-07"
    assert rid not in json.dumps(pushed, ensure_ascii=False)

    # Once sent, never again.
    frozen_clock.advance(timedelta(days=1))
    assert await run_once(credit.runtime, "credit-share-push-test", sweep)
    assert len(city_credit_server.for_record(record_id)) == 2


async def test_a_push_that_keeps_failing_is_marked_failed_after_max_attempts(
    credit: RunningService, frozen_clock: Any, city_credit_server: CityCreditServer
) -> None:
    recorded = await file_record(credit, family_record(resident_id(serial="702")))
    record_id = recorded["id"]
    system = CityCreditSystem(
        url=city_credit_server.url, retry_delays_seconds=[1.0], max_attempts=2
    )
    sweep = _share_sweep(credit, system)
    city_credit_server.failures[record_id] = 3
    assert await run_once(credit.runtime, "credit-share-push-test", sweep)
    frozen_clock.advance(timedelta(seconds=2))
    assert await run_once(credit.runtime, "credit-share-push-test", sweep)
    frozen_clock.advance(timedelta(seconds=2))
    assert await run_once(credit.runtime, "credit-share-push-test", sweep)
    share = await _share(credit, record_id)
    assert (share.status, share.attempts, share.last_error) == ("failed", 2, "HTTP 503")
    assert len(city_credit_server.for_record(record_id)) == 2


def _share_sweep(credit: RunningService, system: CityCreditSystem) -> Sweep:
    """The service's own push sweep, aimed at ``system`` instead of the configured one."""
    context = replace(credit.runtime.context, city_credit=CityCredit(system))

    async def sweep(uow: UnitOfWork) -> None:
        await sweeps.push_shares(context, uow)

    return sweep


async def _share(credit: RunningService, record_id: str) -> sa.Row[Any]:
    async with credit.runtime.engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(credit_shares).where(credit_shares.c.record_id == record_id)
            )
        ).one()
