"""The six services start as real processes, migrate and become ready (issue 2, done-when).

Processes are started the way the run command starts them (``python -m services.<name>``),
each on a free port with its own database and queue names for this test run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from shared.settings import SERVICES
from tests.conftest import Infra

pytestmark = pytest.mark.e2e

READY_WITHIN_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def suite(infra: Infra) -> Iterator[dict[str, int]]:
    prefix = f"{infra.prefix}.e2e"
    env = {
        **os.environ,
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AMQP_URL": infra.amqp_url,
        "HOUSING_QUEUE_PREFIX": prefix,
        "HOUSING_EVENTS_EXCHANGE": f"{prefix}.events",
        "HOUSING_VERIFICATION_EXCHANGE": f"{prefix}.verification",
        "HOUSING_LOG_LEVEL": "WARNING",
    }
    ports = {name: free_port() for name in SERVICES}
    for name in SERVICES:
        env[f"HOUSING_{name.upper()}_PORT"] = str(ports[name])
        env[f"HOUSING_{name.upper()}_DATABASE_URL"] = infra.database(f"e2e_{name}")
    migrations = {
        name: subprocess.Popen(
            [sys.executable, "-m", f"services.{name}", "migrate"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name in SERVICES
    }
    for name, proc in migrations.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{name} migrate failed: {err.decode()[-2000:]}"
    started = time.monotonic()
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for name in SERVICES
    }
    try:
        pending = set(SERVICES)
        while pending and time.monotonic() - started < READY_WITHIN_SECONDS:
            for name in sorted(pending):
                assert procs[name].poll() is None, f"{name} exited with {procs[name].returncode}"
                try:
                    response = httpx.get(f"http://127.0.0.1:{ports[name]}/readyz", timeout=2)
                except httpx.TransportError:
                    continue
                if response.status_code == 200:
                    pending.discard(name)
            time.sleep(0.3)
        assert not pending, f"not ready within {READY_WITHIN_SECONDS}s: {sorted(pending)}"
        yield ports
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        stuck = []
        for name, proc in procs.items():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                stuck.append(name)
                proc.kill()
                proc.wait()
        if stuck:
            pytest.fail(f"did not stop on Ctrl-C within 20 s: {stuck}")


def test_all_six_services_are_ready_with_docs_and_metrics(suite: dict[str, int]) -> None:
    for name, port in suite.items():
        base = f"http://127.0.0.1:{port}"
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200, name
        assert ready.json()["checks"]["consumers"] is True
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
        assert "outbox_pending" in httpx.get(f"{base}/metrics", timeout=5).text
        openapi = httpx.get(f"{base}/openapi.json", timeout=5).json()
        assert openapi["info"]["title"].lower().startswith(name)
