"""The reference simulators of the run command take only the departments chosen with
HOUSING_SIMULATED_DEPARTMENTS (or none), leaving the other request queues to a real department
system or a tester: checked on the real broker by who consumes each department's queue."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aio_pika
import pytest

from shared.city import DEFAULT_CITY_PATH, city_config
from tests.conftest import Infra

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CITY = [d.code for d in city_config(DEFAULT_CITY_PATH).departments]


def start(infra: Infra, prefix: str, selection: str, heartbeat: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AMQP_URL": infra.amqp_url,
        "HOUSING_QUEUE_PREFIX": prefix,
        "HOUSING_VERIFICATION_EXCHANGE": f"{prefix}.verification",
        "HOUSING_SIMULATED_DEPARTMENTS": selection,
        "HOUSING_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "simulators.departments", "--heartbeat", str(heartbeat)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def consumers(infra: Infra, prefix: str) -> dict[str, int]:
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel()
        counts = {}
        for code in CITY:
            queue = await channel.declare_queue(f"{prefix}.dept.{code}", passive=True)
            counts[code] = queue.declaration_result.consumer_count
        return counts
    finally:
        await connection.close()


async def until_heartbeat(process: subprocess.Popen[str], heartbeat: Path) -> None:
    deadline = time.monotonic() + 60
    while not heartbeat.exists():
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "the simulators never reported connected"
        await asyncio.sleep(0.2)


async def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 0, output
    return output


@pytest.fixture
async def queues(infra: Infra) -> object:
    """Every department's request queue under a prefix of this test, as verification
    declares them."""
    prefix = f"{infra.prefix}_simsel"
    connection = await aio_pika.connect(infra.amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(f"{prefix}.verification", aio_pika.ExchangeType.TOPIC)
    declared = []
    for code in CITY:
        queue = await channel.declare_queue(f"{prefix}.dept.{code}")
        await queue.bind(exchange, routing_key=f"request.{code}")
        declared.append(queue)
    try:
        yield prefix
    finally:
        for queue in declared:
            await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
        await connection.close()


async def consumers_while_running(
    infra: Infra, prefix: str, selection: str, tmp_path: Path
) -> dict[str, int]:
    """Consumers of each department queue once the simulators of ``selection`` report
    connected (and, with nothing to connect, after a moment more: they must stay up)."""
    heartbeat = tmp_path / "heartbeat"
    process = start(infra, prefix, selection, heartbeat)
    try:
        await until_heartbeat(process, heartbeat)
        if selection == "none":
            await asyncio.sleep(1.5)  # it stays up (honcho would stop the whole run otherwise)
            assert process.poll() is None
        return await consumers(infra, prefix)
    finally:
        await stop(process)


async def test_only_the_chosen_departments_are_simulated(
    infra: Infra, queues: str, tmp_path: Path
) -> None:
    counts = await consumers_while_running(infra, queues, "tax,civil_affairs", tmp_path)
    assert {code for code, n in counts.items() if n} == {"tax", "civil_affairs"}
    assert counts["tax"] == counts["civil_affairs"] == 1
    assert len(counts) == 12


async def test_none_simulates_nothing_and_keeps_running(
    infra: Infra, queues: str, tmp_path: Path
) -> None:
    counts = await consumers_while_running(infra, queues, "none", tmp_path)
    assert set(counts.values()) == {0}


async def test_unset_simulates_every_department(infra: Infra, queues: str, tmp_path: Path) -> None:
    counts = await consumers_while_running(infra, queues, "", tmp_path)
    assert counts == dict.fromkeys(CITY, 1)
