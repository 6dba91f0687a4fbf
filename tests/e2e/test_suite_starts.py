"""The six services start as real processes, migrate and become ready (issue 2, done-when).

Processes are started the way the run command starts them (``python -m services.<name>``, by
``simulators.local_suite``), each on a free port with its own database and queue names for this
test run, and must stop cleanly on Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shared.settings import SERVICES
from simulators.local_suite import LocalSuite
from tests.conftest import Infra

pytestmark = pytest.mark.e2e

READY_WITHIN_SECONDS = 60


@pytest.fixture(scope="module")
def suite(infra: Infra) -> Iterator[LocalSuite]:
    suite = LocalSuite(
        prefix=f"{infra.prefix}.e2e",
        amqp_url=infra.amqp_url,
        database_url=lambda name: infra.database(f"e2e_{name}"),
        env={"HOUSING_DB_POOL_SIZE": "4", "HOUSING_PUBLICATION_PROVINCE_ENDPOINTS": "[]"},
    )
    suite.migrate()
    suite.start()
    try:
        suite.wait_ready(timeout=READY_WITHIN_SECONDS)
        yield suite
    finally:
        stuck = suite.stop(timeout=20)
        if stuck:
            pytest.fail(f"did not stop on Ctrl-C within 20 s: {stuck}")


def test_all_six_services_are_ready_with_docs_and_metrics(suite: LocalSuite) -> None:
    assert sorted(suite.procs) == sorted(SERVICES)
    for name in SERVICES:
        base = suite.url(name)
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200, name
        assert ready.json()["checks"]["consumers"] is True
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
        assert "outbox_pending" in httpx.get(f"{base}/metrics", timeout=5).text
        openapi = httpx.get(f"{base}/openapi.json", timeout=5).json()
        assert openapi["info"]["title"].lower().startswith(name)
