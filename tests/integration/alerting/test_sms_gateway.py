"""The HTTP SMS-gateway notifier against a real HTTP server on 127.0.0.1: retries after
failures, gives up after its retries, stores each result through the dispatcher."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from services.alerting.adapters.notifier import HttpSmsNotifier, Message, dispatch_pending
from services.alerting.tables import notifications
from shared.clock import now
from tests.integration.alerting.conftest import Harness

pytestmark = pytest.mark.integration


class Gateway:
    """Answers 503 to the first ``fail`` requests, then 200 with a message id."""

    def __init__(self) -> None:
        self.fail = 0
        self.status_when_failing = 503
        self.received: list[dict] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                gateway.received.append(json.loads(self.rfile.read(length)))
                if gateway.fail > 0:
                    gateway.fail -= 1
                    self.send_response(gateway.status_when_failing)
                    self.end_headers()
                    return
                payload = json.dumps({"id": f"sms-{len(gateway.received)}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    thread = threading.Thread(target=gw.server.serve_forever, daemon=True)
    thread.start()
    yield gw
    gw.server.shutdown()
    gw.server.server_close()


def message() -> Message:
    return Message(str(uuid.uuid4()), "supervisor@350203001", "red_light", "【红灯预警】测试")


async def test_retries_until_the_gateway_answers(gateway: Gateway) -> None:
    gateway.fail = 2
    delivery = await HttpSmsNotifier(gateway.url, retries=3, backoff_seconds=0.01).send(message())
    assert (delivery.ok, delivery.attempts, delivery.provider_ref) == (True, 3, "sms-3")
    assert [r["to"] for r in gateway.received] == ["supervisor@350203001"] * 3


async def test_gives_up_after_its_retries(gateway: Gateway) -> None:
    gateway.fail = 10
    delivery = await HttpSmsNotifier(gateway.url, retries=2, backoff_seconds=0.01).send(message())
    assert (delivery.ok, delivery.attempts, delivery.error) == (False, 3, "HTTP 503")


async def test_a_refused_message_is_not_retried(gateway: Gateway) -> None:
    gateway.fail, gateway.status_when_failing = 1, 400
    delivery = await HttpSmsNotifier(gateway.url, retries=3, backoff_seconds=0.01).send(message())
    assert (delivery.ok, delivery.attempts, delivery.error) == (False, 1, "HTTP 400")


async def test_dispatcher_stores_each_delivery_result(harness: Harness, gateway: Gateway) -> None:
    ok_id, failed_id = uuid.uuid4(), uuid.uuid4()
    async with harness.alerting.runtime.uow() as uow:
        # Nothing else pending: the dispatcher would otherwise send other tests' messages too.
        await uow.conn.execute(
            notifications.update().where(notifications.c.status == "pending").values(status="sent")
        )
        for nid, unit in ((ok_id, "350203001"), (failed_id, "350203003")):
            await uow.conn.execute(
                notifications.insert().values(
                    notification_id=nid,
                    kind="red_light",
                    dedupe_key=f"test:{nid}",
                    recipient=f"supervisor@{unit}",
                    unit=unit,
                    message="【红灯预警】测试",
                    created_at=now(),
                )
            )
        await uow.commit()
    gateway.fail = 1  # the first message succeeds on its 2nd attempt
    async with harness.alerting.runtime.uow() as uow:
        sent = await dispatch_pending(
            uow, HttpSmsNotifier(gateway.url, retries=1, backoff_seconds=0.01), batch=1
        )
        await uow.commit()
    gateway.fail = 5  # the second fails both attempts
    async with harness.alerting.runtime.uow() as uow:
        sent += await dispatch_pending(
            uow, HttpSmsNotifier(gateway.url, retries=1, backoff_seconds=0.01), batch=1
        )
        await uow.commit()
    assert sent == 2
    async with harness.alerting.runtime.engine.connect() as conn:
        rows = {
            r.notification_id: r
            for r in (
                await conn.execute(
                    sa.select(notifications).where(
                        notifications.c.notification_id.in_([ok_id, failed_id])
                    )
                )
            ).all()
        }
    assert (rows[ok_id].status, rows[ok_id].attempts, rows[ok_id].channel) == ("sent", 2, "sms")
    assert rows[ok_id].delivered_at is not None and rows[ok_id].provider_ref == "sms-2"
    assert (rows[failed_id].status, rows[failed_id].attempts, rows[failed_id].error) == (
        "failed",
        2,
        "HTTP 503",
    )
