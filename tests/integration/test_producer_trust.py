"""Internal producers are authenticated (issue 14, item 2): an event type is believed only from
the broker account of the service that owns it.

A client with write access to the events exchange but not the owner's account (a stolen
department or monitoring login, a leftover guest) publishes a well-formed ``credit.ban_lifted``
and ``verification.completed``. Every service that consumes them parks them as
``unexpected_producer`` before any handler or inbox sees them, the dead-letter listing names
them, a replay parks them again, and the broker itself refuses a message that claims the
owner's ``user_id`` from another login. The same events from the owner's account are handled.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import aio_pika
import aiormq
import pytest
import sqlalchemy as sa

from shared.amqp.deadletters import DeadLetter
from shared.clock import now
from shared.events.base import EventPayload
from shared.events.catalogue import CreditBanLifted
from shared.events.envelope import Envelope
from shared.tables import inbox
from tests.conftest import Infra
from tests.harness import handled, publish, wait_for
from tests.integration.credit.test_candidates import completed
from tests.services import RunningService, running_service

pytestmark = pytest.mark.integration

SYSTEM = "producers"


@dataclass
class Platform:
    services: dict[str, RunningService]
    intruder_url: str
    intruder: str


@pytest.fixture(scope="module")
async def platform(infra: Infra) -> AsyncIterator[Platform]:
    intruder = f"t{infra.run_id}_intruder"
    password = uuid.uuid4().hex
    # Allowed to publish anywhere, as a real broker's leftover or stolen login might be; no
    # impersonator tag, so RabbitMQ holds it to its own user_id.
    infra.rabbitmqctl("add_user", intruder, password)
    infra.rabbitmqctl("set_permissions", "-p", "/", intruder, ".*", ".*", ".*")
    try:
        async with (
            running_service(infra, "intake", system=SYSTEM) as intake,
            running_service(infra, "publication", system=SYSTEM) as publication,
            running_service(infra, "credit", system=SYSTEM) as credit,
            running_service(infra, "alerting", system=SYSTEM) as alerting,
        ):
            yield Platform(
                services={
                    "intake": intake,
                    "publication": publication,
                    "credit": credit,
                    "alerting": alerting,
                },
                intruder_url=infra.broker_url(intruder, password),
                intruder=intruder,
            )
    finally:
        infra.rabbitmqctl("-q", "delete_user", intruder)


def _envelope(payload: EventPayload, *, producer: str, subject: str) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type=payload.event_type,
        version=payload.event_version,
        occurred_at=now(),
        producer=producer,
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
        subject=subject,
        data=payload.model_dump(mode="json"),
    )


async def _send(
    url: str, svc: RunningService, envelope: Envelope, *, user_id: str | None = None
) -> None:
    """Publish on the events exchange under the event's own routing key, as its owner would."""
    connection = await aio_pika.connect(url, timeout=30)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(svc.runtime.exchange_names["events"], ensure=False)
        await exchange.publish(
            aio_pika.Message(
                envelope.to_bytes(),
                message_id=str(envelope.id),
                correlation_id=envelope.correlation_id,
                type=envelope.type,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                user_id=user_id,
            ),
            routing_key=envelope.type,
            mandatory=True,
        )
    finally:
        await connection.close()


async def _parked(infra: Infra, svc: RunningService, message_id: str) -> DeadLetter:
    """Wait until ``message_id`` sits in the service's dead-letter queue; leave it there."""
    connection = await aio_pika.connect(infra.amqp_url, timeout=30)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(svc.runtime.queue_spec.dead_letter_queue, passive=True)

        async def found() -> DeadLetter | None:
            seen = None
            taken = []
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                taken.append(message)
                if message.message_id == message_id:
                    seen = DeadLetter.of(message)
            for message in taken:
                await message.reject(requeue=True)
            return seen

        return await wait_for(found, timeout=30, what=f"{message_id} parked by {svc.name}")
    finally:
        await connection.close()


async def _in_inbox(svc: RunningService, envelope: Envelope) -> bool:
    async with svc.runtime.engine.connect() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count()).select_from(inbox).where(inbox.c.event_id == envelope.id)
        )
    return count == 1


def _deadletters(infra: Infra, svc: RunningService, *args: str) -> str:
    env = {
        **os.environ,
        "HOUSING_QUEUE_PREFIX": svc.runtime.settings.queue_prefix,
        f"HOUSING_{svc.name.upper()}_AMQP_URL": infra.account_url(svc.name),
    }
    done = subprocess.run(
        [sys.executable, "-m", "shared.amqp.deadletters", *args, "--service", svc.name],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _ban_lifted() -> CreditBanLifted:
    return CreditBanLifted(
        record_id=uuid.uuid4(),
        id_hash=uuid.uuid4().hex * 2,
        lifted_on=date(2026, 11, 30),
        early=True,
        reason="经复核，处理依据不足，提前解除",
    )


async def test_a_ban_lifted_by_a_stranger_is_parked_by_every_consumer_and_changes_nothing(
    infra: Infra, platform: Platform
) -> None:
    intake = platform.services["intake"]
    lifted = _ban_lifted()
    anonymous = _envelope(lifted, producer="credit", subject=str(lifted.record_id))
    signed_as_self = _envelope(lifted, producer="credit", subject=str(lifted.record_id))
    await _send(platform.intruder_url, intake, anonymous)
    await _send(platform.intruder_url, intake, signed_as_self, user_id=platform.intruder)

    for name in ("intake", "publication"):
        svc = platform.services[name]
        unnamed = await _parked(infra, svc, str(anonymous.id))
        named = await _parked(infra, svc, str(signed_as_self.id))
        assert (unnamed.reason, named.reason) == ("unexpected_producer", "unexpected_producer")
        assert unnamed.error == (
            "UnexpectedProducer: type 'credit.ban_lifted' is published by credit "
            "('housing_credit'), not by a client that did not identify itself"
        )
        assert named.error == (
            "UnexpectedProducer: type 'credit.ban_lifted' is published by credit "
            f"('housing_credit'), not by '{platform.intruder}'"
        )
        assert not await _in_inbox(svc, anonymous)
        assert not await _in_inbox(svc, signed_as_self)
        listing = _deadletters(infra, svc, "list")
        assert f"{anonymous.id}  credit.ban_lifted  unexpected_producer" in listing
        assert f"{signed_as_self.id}  credit.ban_lifted  unexpected_producer" in listing

    # A replay does not launder it: the copy still names the stranger and is parked again.
    replayed = _deadletters(infra, intake, "replay", "--id", str(anonymous.id))
    assert replayed.strip() == f"replayed 1 message(s) to {intake.runtime.queue_spec.name}"
    again = await _parked(infra, intake, str(anonymous.id))
    assert again.reason == "unexpected_producer"
    assert "not by a client that did not identify itself" in again.error
    assert not await _in_inbox(intake, anonymous)

    # From credit's own account the same kind of event is believed.
    genuine = await publish(intake, _ban_lifted(), producer="credit", subject=str(uuid.uuid4()))
    await handled(intake, *genuine)


async def test_verification_results_from_a_stranger_are_parked_by_credit_and_alerting(
    infra: Infra, platform: Platform
) -> None:
    application_id, case_id = uuid.uuid4(), uuid.uuid4()
    forged = _envelope(
        completed(application_id, case_id), producer="verification", subject=str(application_id)
    )
    await _send(platform.intruder_url, platform.services["credit"], forged)
    for name in ("credit", "alerting"):
        svc = platform.services[name]
        parked = await _parked(infra, svc, str(forged.id))
        assert parked.reason == "unexpected_producer"
        assert parked.error == (
            "UnexpectedProducer: type 'verification.completed' is published by verification "
            "('housing_verification'), not by a client that did not identify itself"
        )
        assert not await _in_inbox(svc, forged)


async def test_the_broker_refuses_a_stranger_claiming_the_owners_account(
    platform: Platform,
) -> None:
    lifted = _ban_lifted()
    claimed = _envelope(lifted, producer="credit", subject=str(lifted.record_id))
    with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed) as refused:
        await _send(
            platform.intruder_url, platform.services["intake"], claimed, user_id="housing_credit"
        )
    assert "user_id property set to 'housing_credit'" in str(refused.value)
    assert f"authenticated user was '{platform.intruder}'" in str(refused.value)
    assert not await _in_inbox(platform.services["intake"], claimed)
