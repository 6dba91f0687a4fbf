"""deploy/rabbitmq/department_users.sh: a department's broker user reads only its own request
queue and publishes only its own response key (architecture.md §3)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import aio_pika
import aiormq
import pytest

from services.verification.adapters.department_queues import (
    declare_department_queues,
    department_queue_name,
)
from tests.conftest import Infra

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "rabbitmq" / "department_users.sh"
PASSWORD = "test-dept-password-1"


@pytest.fixture(scope="module")
def names(infra: Infra) -> dict[str, str]:
    prefix = f"{infra.prefix}.vusr"
    return {
        "exchange": f"{prefix}.verification",
        "queue_prefix": prefix,
        "user_prefix": f"{infra.prefix}_dept_",
    }


@pytest.fixture(scope="module")
def provisioned(infra: Infra, names: dict[str, str]) -> Iterator[None]:
    if infra.container_exec is not None or shutil.which("rabbitmqctl") is None:
        pytest.skip("needs rabbitmqctl on the broker host (local broker)")
    env = {
        **os.environ,
        "EXCHANGE": names["exchange"],
        "QUEUE_PREFIX": names["queue_prefix"],
        "USER_PREFIX": names["user_prefix"],
        "DEPT_PASSWORD_TAX": PASSWORD,
    }
    done = subprocess.run(
        ["bash", str(SCRIPT), "tax"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    try:
        yield
    finally:
        subprocess.run(
            ["rabbitmqctl", "-q", "delete_user", f"{names['user_prefix']}tax"],
            capture_output=True,
            timeout=60,
            check=False,
        )


@pytest.fixture(scope="module")
async def queues(infra: Infra, names: dict[str, str], provisioned: None) -> AsyncIterator[None]:
    connection = await aio_pika.connect(infra.amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        names["exchange"], aio_pika.ExchangeType.TOPIC, durable=True
    )
    await declare_department_queues(
        channel,
        exchange,
        queue_prefix=names["queue_prefix"],
        departments=["tax", "vehicle"],
        delivery_limit=5,
    )
    yield
    await connection.close()


def as_department(infra: Infra, names: dict[str, str], dept: str) -> str:
    host = infra.amqp_url.split("@", 1)[1]
    return f"amqp://{quote(names['user_prefix'] + dept)}:{PASSWORD}@{host}"


async def test_a_department_reads_only_its_own_queue(
    infra: Infra, names: dict[str, str], queues: None
) -> None:
    connection = await aio_pika.connect(as_department(infra, names, "tax"))
    try:
        channel = await connection.channel()
        own = await channel.get_queue(
            department_queue_name(names["queue_prefix"], "tax"), ensure=False
        )
        await own.consume(lambda message: None)  # allowed
        other_channel = await connection.channel()
        other = await other_channel.get_queue(
            department_queue_name(names["queue_prefix"], "vehicle"), ensure=False
        )
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await other.consume(lambda message: None)
    finally:
        await connection.close()


async def test_a_department_publishes_only_its_own_response_key(
    infra: Infra, names: dict[str, str], queues: None
) -> None:
    connection = await aio_pika.connect(as_department(infra, names, "tax"))
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(names["exchange"], ensure=False)
        # Unroutable here (no verification service in this test) but permitted: no error.
        await exchange.publish(aio_pika.Message(b"{}"), routing_key="response.tax")
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await exchange.publish(aio_pika.Message(b"{}"), routing_key="response.vehicle")
        denied = await connection.channel()
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await denied.declare_queue("sneaky", durable=False)
    finally:
        await connection.close()
