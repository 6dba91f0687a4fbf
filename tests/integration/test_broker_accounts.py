"""The production broker users of deploy/rabbitmq/service_users.sh: narrow enough that a
service reaches only its own queue family and the two exchanges, wide enough that it runs.

Verification is the test case because it needs the most (its queue family, the department
request queues it declares and binds, both exchanges, the default exchange for its retries):
started as its production user, it takes an acceptance, opens the case, and its relay publishes
every request and event; the same login may not touch another service's queue.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator

import aio_pika
import aiormq
import pytest
import sqlalchemy as sa

from services.verification.tables import verification_cases
from shared.tables import outbox
from tests.conftest import Infra
from tests.examples import accepted_application
from tests.harness import event_tap, publish, wait_for
from tests.services import RunningService, running_service

pytestmark = pytest.mark.integration

SCRIPT = "deploy/rabbitmq/service_users.sh"
SYSTEM = "accounts"


@pytest.fixture(scope="module")
async def verification(infra: Infra) -> AsyncIterator[tuple[RunningService, str]]:
    prefix = f"{infra.prefix}.{SYSTEM}"
    user_prefix = f"t{infra.run_id}_p_"
    password = uuid.uuid4().hex
    done = subprocess.run(
        ["bash", SCRIPT, "verification", "intake"],
        env={
            **os.environ,
            "QUEUE_PREFIX": prefix,
            "EVENTS_EXCHANGE": f"{prefix}.events",
            "VERIFICATION_EXCHANGE": f"{prefix}.verification",
            "USER_PREFIX": user_prefix,
            "SVC_PASSWORD_VERIFICATION": password,
            "SVC_PASSWORD_INTAKE": password,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"created {user_prefix}verification",
        f"permissions set for {user_prefix}verification",
        f"created {user_prefix}intake",
        f"permissions set for {user_prefix}intake",
    ]
    try:
        async with running_service(
            infra,
            "verification",
            system=SYSTEM,
            amqp_url=infra.broker_url(f"{user_prefix}verification", password),
            broker_user_template=f"{user_prefix}{{service}}",
        ) as svc:
            yield svc, infra.broker_url(f"{user_prefix}verification", password)
    finally:
        for service in ("verification", "intake"):
            infra.rabbitmqctl("-q", "delete_user", f"{user_prefix}{service}")


async def test_a_service_runs_on_its_production_permissions(
    infra: Infra, verification: tuple[RunningService, str]
) -> None:
    svc, _ = verification
    application = accepted_application("350203001")
    # The services that would consume verification's events are not running here; the tap
    # gives its events a route (they are published mandatory).
    async with event_tap(infra, svc, ["verification.#"]) as tap:
        await publish(svc, application, producer="intake")
        await tap.wait_for("verification.started", application.application_id)

    async def all_published() -> tuple[int, int] | None:
        async with svc.runtime.engine.connect() as conn:
            cases = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(verification_cases)
                .where(verification_cases.c.application_id == application.application_id)
            )
            unsent = await conn.scalar(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            )
            sent = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(outbox)
                # One request batch per department (HOUSING_VERIFICATION_REQUEST_BATCHES=all).
                .where(
                    outbox.c.type == "verification.requested_batch", outbox.c.sent_at.is_not(None)
                )
            )
        return (cases, sent) if cases == 1 and unsent == 0 and sent else None

    cases, requests = await wait_for(all_published, timeout=30, what="case opened, all sent")
    assert cases == 1
    assert requests == len(svc.runtime.city.verifying_departments(application.category))


async def test_its_login_reaches_no_other_services_queue(
    verification: tuple[RunningService, str],
) -> None:
    svc, url = verification
    connection = await aio_pika.connect(url, timeout=30)
    try:
        channel = await connection.channel()
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused) as refused:
            await channel.declare_queue(f"{svc.runtime.settings.queue_prefix}.intake")
        assert "access to queue" in str(refused.value)
        assert "refused for user" in str(refused.value)
    finally:
        await connection.close()
