"""The dead-letter command line: help texts, JSON output and the confirmation before
``replay --all``, against real dead-letter queues on the broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aio_pika
import pytest

from shared.amqp import deadletters, producers
from shared.amqp.consumer import RETRY_HEADER
from shared.amqp.topology import QueueSpec, declare_queue, delete_queue_family
from tests.conftest import Infra
from tests.harness import wait_for

pytestmark = pytest.mark.integration

RESIDENT_ID = "35020319900101123X"


@dataclass
class DeadQueue:
    infra: Infra
    prefix: str
    service: str
    spec: QueueSpec
    channel: aio_pika.abc.AbstractChannel

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "HOUSING_QUEUE_PREFIX": self.prefix,
            "HOUSING_AMQP_URL": self.infra.amqp_url,
        }
        return subprocess.run(
            [sys.executable, "-m", "shared.amqp.deadletters", *args, "--service", self.service],
            env=env,
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    async def park(self, count: int) -> list[str]:
        ids = []
        for i in range(count):
            message_id = str(uuid.uuid4())
            body = {"id": message_id, "type": "probe.failed", "data": {"id_number": RESIDENT_ID}}
            await self.channel.default_exchange.publish(
                aio_pika.Message(
                    json.dumps(body).encode(),
                    message_id=message_id,
                    type="probe.failed",
                    headers={
                        "x-dead-reason": "retries_exhausted",
                        "x-error": f"ValueError: bad id {RESIDENT_ID} #{i}",
                        "x-dead-at": "2026-12-01T00:00:00+00:00",
                        "x-retry-count": 2,
                    },
                ),
                routing_key=self.spec.dead_letter_queue,
            )
            ids.append(message_id)
        await self.depth_is(self.spec.dead_letter_queue, len(ids))
        return ids

    async def depth(self, queue: str) -> int:
        declared = await self.channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count

    async def depth_is(self, queue: str, expected: int) -> None:
        async def reached() -> bool:
            return await self.depth(queue) == expected

        await wait_for(reached, what=f"{queue} holds {expected}")


@pytest.fixture
async def dead_queue(infra: Infra) -> AsyncIterator[DeadQueue]:
    prefix = f"{infra.prefix}.dlcli{uuid.uuid4().hex[:6]}"
    service = "probe"
    spec = QueueSpec(name=f"{prefix}.{service}", bindings=(), retry_delays_ms=(100,))
    connection = await aio_pika.connect(infra.amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    await declare_queue(channel, spec, {})
    try:
        yield DeadQueue(infra, prefix, service, spec, channel)
    finally:
        await delete_queue_family(channel, spec)
        await connection.close()


def test_every_command_describes_itself() -> None:
    def help_of(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "shared.amqp.deadletters", *args, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    top = help_of()
    for command, summary in (
        ("list", "list the dead letters"),
        ("show", "print one dead letter"),
        ("replay", "put dead letters back"),
    ):
        assert summary in " ".join(top.split()), command
    assert "HOUSING_QUEUE_PREFIX" in top
    listing = " ".join(help_of("list").split())
    assert "oldest first" in listing and "--json" in listing
    replay = " ".join(help_of("replay").split())
    assert "--all asks for confirmation unless --yes is given" in replay
    assert "do not ask before replaying --all" in replay


async def test_list_and_show_as_json_with_personal_data_masked(dead_queue: DeadQueue) -> None:
    ids = await dead_queue.park(2)
    listed = dead_queue.cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert RESIDENT_ID not in listed.stdout
    data = json.loads(listed.stdout)
    assert data["queue"] == dead_queue.spec.dead_letter_queue
    assert data["count"] == 2
    assert [x["message_id"] for x in data["dead_letters"]] == ids
    first = data["dead_letters"][0]
    assert first["type"] == "probe.failed"
    assert first["reason"] == "retries_exhausted"
    assert first["dead_at"] == "2026-12-01T00:00:00+00:00"
    assert first["error"] == "ValueError: bad id 3502**********123X #0"

    shown = dead_queue.cli("show", "--id", ids[1], "--json")
    assert shown.returncode == 0, shown.stderr
    assert RESIDENT_ID not in shown.stdout
    letter = json.loads(shown.stdout)
    assert letter["message_id"] == ids[1]
    assert letter["headers"]["x-retry-count"] == "2"
    assert letter["body"] == {
        "id": ids[1],
        "type": "probe.failed",
        "data": {"id_number": "3502**********123X"},
    }
    # Reading moved nothing.
    await dead_queue.depth_is(dead_queue.spec.dead_letter_queue, 2)
    assert dead_queue.cli("show", "--id", str(uuid.uuid4())).returncode == 1


async def test_replay_all_asks_first_and_yes_skips_the_question(dead_queue: DeadQueue) -> None:
    spec = dead_queue.spec
    ids = await dead_queue.park(3)

    declined = dead_queue.cli("replay", "--all", stdin="n\n")
    assert declined.returncode == 1
    assert f"replay all 3 dead letter(s) from {spec.dead_letter_queue} to {spec.name}?" in (
        declined.stderr
    )
    assert "nothing replayed" in declined.stderr
    no_answer = dead_queue.cli("replay", "--all", stdin="")
    assert no_answer.returncode == 1
    await dead_queue.depth_is(spec.dead_letter_queue, 3)
    assert await dead_queue.depth(spec.name) == 0

    accepted = dead_queue.cli("replay", "--all", "--json", stdin="yes\n")
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout) == {"queue": spec.name, "replayed": 3, "message_ids": ids}
    await dead_queue.depth_is(spec.name, 3)
    await dead_queue.depth_is(spec.dead_letter_queue, 0)

    await dead_queue.park(1)
    unasked = dead_queue.cli("replay", "--all", "--yes")
    assert unasked.returncode == 0, unasked.stderr
    assert "[y/N]" not in unasked.stderr
    assert unasked.stdout.strip() == f"replayed 1 message(s) to {spec.name}"
    await dead_queue.depth_is(spec.name, 4)
    assert json.loads(dead_queue.cli("list", "--json").stdout)["count"] == 0


def test_replay_needs_ids_or_all() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shared.amqp.deadletters", "replay", "--service", "intake"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "one of the arguments --id --all is required" in done.stderr


def test_replay_strips_the_consumers_own_retry_header() -> None:
    assert deadletters.RETRY_HEADER == RETRY_HEADER
    assert RETRY_HEADER in deadletters.STRIP_ON_REPLAY


def test_replay_spells_the_original_publisher_header_as_the_consumer_reads_it() -> None:
    assert deadletters.ORIGINAL_USER_HEADER == producers.ORIGINAL_USER_HEADER
    assert deadletters.ORIGINAL_USER_HEADER not in deadletters.STRIP_ON_REPLAY
