"""/metrics: per-route HTTP series and the gauges computed at scrape time, against a real
database and broker (alerting, publication and verification as they run)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import aio_pika
import pytest

from services.alerting.bootstrap import definition as alerting_definition
from services.alerting.tables import alerts, notifications, stages
from services.publication.bootstrap import definition as publication_definition
from services.publication.tables import push_log
from shared.clock import now
from shared.tables import outbox
from tests.conftest import Infra
from tests.harness import wait_for
from tests.integration.operations.metrics_support import scrape, value
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def alerting(infra: Infra) -> AsyncIterator[RunningService]:
    # Without its sweeps: a clock sweep would turn the overdue stage below into a red light
    # while the test counts them.
    quiet = dataclasses.replace(alerting_definition(), background=())
    async with running_service(infra, "alerting", system="opsm", definition=quiet) as svc:
        yield svc


async def test_http_series_carry_the_route_template_never_the_raw_path(
    alerting: RunningService,
) -> None:
    count = "http_request_duration_seconds_count"
    base = {"service": "alerting", "method": "GET"}
    series = {
        "/alerts/{alert_id}": {**base, "route": "/alerts/{alert_id}", "status_class": "4xx"},
        "/alerts": {**base, "route": "/alerts", "status_class": "2xx"},
        "unmatched": {**base, "route": "unmatched", "status_class": "4xx"},
    }
    # The registry is the process's: other services of the test run in this process may have
    # counted the same series already, so the test counts what its own requests add.
    _, before = await scrape(alerting)
    alert_id = uuid.uuid4()
    missing = await alerting.client.get(f"/alerts/{alert_id}", headers=token("supervisor"))
    assert missing.status_code == 404
    assert (await alerting.client.get(f"/no/such/{alert_id}")).status_code == 404
    assert (await alerting.client.get("/alerts", headers=token("supervisor"))).status_code == 200

    text, samples = await scrape(alerting)
    assert str(alert_id) not in text
    added = {
        name: (value(samples, count, **labels) or 0) - (value(before, count, **labels) or 0)
        for name, labels in series.items()
    }
    assert added == {"/alerts/{alert_id}": 1, "/alerts": 1, "unmatched": 1}


async def test_business_and_platform_gauges_count_the_rows(
    alerting: RunningService, infra: Infra
) -> None:
    at = now()
    unit = "350203001"

    def alert(colour: str, cleared: bool) -> dict[str, object]:
        return {
            "alert_id": uuid.uuid4(),
            "rule_id": "R1" if colour == "red" else "Y1",
            "colour": colour,
            "condition_key": str(uuid.uuid4()),
            "unit": unit,
            "raised_at": at,
            "source": "clock",
            "cleared_at": at if cleared else None,
        }

    def stage(status: str, due_in: timedelta) -> dict[str, object]:
        return {
            "case_id": uuid.uuid4(),
            "stage": "street_initial",
            "application_id": uuid.uuid4(),
            "level": "street",
            "unit": unit,
            "status": status,
            "started_at": at - timedelta(days=30),
            "due_at": at + due_in,
            "warn_at": at + due_in - timedelta(days=1),
            "time_limit_working_days": 15,
        }

    def notification(status: str, age: timedelta) -> dict[str, object]:
        return {
            "notification_id": uuid.uuid4(),
            "kind": "red_light",
            "dedupe_key": str(uuid.uuid4()),
            "recipient": f"supervisor@{unit}",
            "unit": unit,
            "message": "测试",
            "created_at": at - age,
            "status": status,
        }

    async with alerting.runtime.engine.begin() as conn:
        await conn.execute(
            alerts.insert(),
            [alert("red", False), alert("red", False), alert("red", True), alert("yellow", False)],
        )
        await conn.execute(
            stages.insert(),
            [
                stage("open", -timedelta(hours=2)),  # overdue
                stage("open", timedelta(days=3)),
                stage("completed", -timedelta(days=2)),
                stage("suspended", -timedelta(days=2)),  # suspension time does not count
            ],
        )
        await conn.execute(
            notifications.insert(),
            [
                notification("pending", timedelta(minutes=10)),
                notification("pending", timedelta(minutes=1)),
                notification("sent", timedelta(hours=5)),
            ],
        )
        # An outbox row the relay will not claim for a day: the backlog the gauge must show.
        await conn.execute(
            outbox.insert().values(
                id=uuid.uuid4(),
                type="probe.parked",
                exchange=alerting.runtime.settings.events_exchange,
                routing_key="probe.parked",
                subject="s",
                correlation_id="c",
                body=b"{}",
                created_at=at - timedelta(minutes=5),
                next_attempt_at=at + timedelta(days=1),
            )
        )

    _, samples = await scrape(alerting)
    svc = {"service": "alerting"}
    assert value(samples, "alerts_open", **svc, colour="red") == 2
    assert value(samples, "alerts_open", **svc, colour="yellow") == 1
    assert value(samples, "stages_overdue", **svc) == 1
    assert value(samples, "notifications_pending", **svc) == 2
    oldest = value(samples, "notifications_oldest_pending_seconds", **svc)
    assert oldest is not None and 600 <= oldest < 660
    assert value(samples, "outbox_backlog", **svc) == 1
    assert value(samples, "outbox_pending", **svc) == 1
    outbox_age = value(samples, "outbox_oldest_pending_seconds", **svc)
    assert outbox_age is not None and 300 <= outbox_age < 360
    assert value(samples, "service_ready", **svc) == 1
    assert value(samples, "readiness_check", **svc, check="consumers") == 1
    assert value(samples, "consumer_attached", **svc) == 1
    queue = alerting.runtime.queue_spec.name
    assert value(samples, "queue_consumers", **svc, queue=queue) == 1
    assert value(samples, "dead_letters", **svc, queue=f"{queue}.dead") == 0

    # A dead letter appears in the gauge of its queue.
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.default_exchange.publish(
            aio_pika.Message(b"{}", message_id=str(uuid.uuid4())),
            routing_key=f"{queue}.dead",
        )
    finally:
        await connection.close()

    async def one_dead_letter() -> bool:
        _, now_samples = await scrape(alerting)
        return value(now_samples, "dead_letters", **svc, queue=f"{queue}.dead") == 1

    await wait_for(one_dead_letter, what="dead_letters == 1")


async def test_publication_push_lag_is_computed_at_scrape_time(infra: Infra) -> None:
    quiet = dataclasses.replace(publication_definition(), background=())
    async with running_service(infra, "publication", system="opsp", definition=quiet) as svc:
        at = now()
        async with svc.runtime.engine.begin() as conn:
            await conn.execute(
                push_log.insert(),
                [
                    {
                        "endpoint": "province",
                        "stream_key": f"app:{i}",
                        "stream_seq": 1,
                        "push_id": f"p-{i}",
                        "event_type": "application.accepted",
                        "body": b"{}",
                        "created_at": at - timedelta(minutes=minutes),
                        "next_attempt_at": at + timedelta(days=1),
                    }
                    for i, minutes in enumerate((20, 2))
                ],
            )
        # No pusher ran (no background jobs): the values come from the scrape itself.
        _, samples = await scrape(svc)
        assert value(samples, "province_push_backlog", endpoint="province") == 2
        lag = value(samples, "province_push_oldest_unacked_seconds", endpoint="province")
        assert lag is not None and 1200 <= lag < 1260


async def test_verification_reports_every_department_dead_letter_queue(infra: Infra) -> None:
    async with running_service(infra, "verification", system="opsv") as svc:
        prefix = svc.runtime.settings.queue_prefix
        expected = {f"{prefix}.dept.{d.code}.dead" for d in svc.runtime.city.departments}
        assert len(expected) >= 8

        async def departments_reported() -> bool:
            _, samples = await scrape(svc)
            found = {
                dict(labels)["queue"]: v
                for (name, labels), v in samples.items()
                if name == "dead_letters"
            }
            return expected <= set(found) and all(found[q] == 0 for q in expected)

        # The department queues are declared by a background job just after the start: two
        # quorum queues per department, each a Raft log written to disk, which on a busy CI disk
        # took longer than wait_for's default 20 s.
        await wait_for(
            departments_reported, timeout=90, what="a dead_letters series per department"
        )
