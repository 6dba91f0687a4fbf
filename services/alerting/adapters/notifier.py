"""Notifications (短信提醒): a pluggable notifier and the dispatcher that sends stored messages.

Rules and tickets only *store* a notification (status ``pending``) in their own transaction;
the dispatcher sends pending ones and records each delivery result (sent / failed, attempts,
provider reference, error). So a slow or broken SMS gateway never blocks or rolls back
supervision, and every message has a stored outcome.

Recipients are roles in units (``supervisor@350203001``): the city's SMS gateway holds the
duty roster and phone numbers, so no phone number is stored or logged here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import httpx
import sqlalchemy as sa
import structlog

from services.alerting.tables import notifications
from shared.clock import now
from shared.correlation import http_client
from shared.db import UnitOfWork

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Message:
    notification_id: str
    recipient: str
    kind: str
    text: str


@dataclass(frozen=True)
class Delivery:
    ok: bool
    channel: str
    attempts: int
    provider_ref: str | None = None
    error: str | None = None


class Notifier(Protocol):
    async def send(self, message: Message) -> Delivery: ...


class LogNotifier:
    """Default: writes the message to the log (no personal data in messages by design)."""

    channel = "log"

    async def send(self, message: Message) -> Delivery:
        log.info(
            "notification",
            notification_id=message.notification_id,
            recipient=message.recipient,
            kind=message.kind,
            text=message.text,
        )
        return Delivery(ok=True, channel=self.channel, attempts=1)


class HttpSmsNotifier:
    """Posts to an SMS gateway: ``POST {url}`` with JSON ``{id, to, kind, text}``; a 2xx answer
    is delivery (its JSON ``id``, if any, is kept as the provider reference). Transport errors
    and 5xx/429 answers are retried with exponential backoff; other 4xx are final."""

    channel = "sms"

    def __init__(
        self,
        url: str,
        *,
        retries: int = 3,
        backoff_seconds: float = 0.5,
        timeout_seconds: float = 5.0,
        token: str | None = None,
    ) -> None:
        self.url = url
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self.token = token

    async def send(self, message: Message) -> Delivery:
        headers = {"Idempotency-Key": message.notification_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {
            "id": message.notification_id,
            "to": message.recipient,
            "kind": message.kind,
            "text": message.text,
        }
        attempts = 0
        error = "not sent"
        async with http_client(timeout=self.timeout_seconds) as client:
            while attempts <= self.retries:
                attempts += 1
                try:
                    response = await client.post(self.url, json=body, headers=headers)
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"[:300]
                else:
                    if response.is_success:
                        ref = _provider_ref(response)
                        return Delivery(True, self.channel, attempts, provider_ref=ref)
                    error = f"HTTP {response.status_code}"
                    if response.status_code < 500 and response.status_code != 429:
                        break  # the gateway refused the message itself; retrying won't help
                if attempts <= self.retries:
                    await asyncio.sleep(self.backoff_seconds * 2 ** (attempts - 1))
        return Delivery(False, self.channel, attempts, error=error)


def _provider_ref(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    ref = data.get("id") if isinstance(data, dict) else None
    return str(ref)[:128] if ref is not None else None


async def dispatch_pending(uow: UnitOfWork, notifier: Notifier, *, batch: int = 50) -> int:
    """Send up to ``batch`` pending notifications and store their results; returns how many.

    ``FOR UPDATE SKIP LOCKED`` lets replicas dispatch side by side without sending one message
    twice; the rows stay locked while the gateway answers (bounded by retries and timeout).
    """
    n = notifications.c
    rows = (
        await uow.conn.execute(
            sa.select(n.notification_id, n.recipient, n.kind, n.message)
            .where(n.status == "pending")
            .order_by(n.created_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        delivery = await notifier.send(
            Message(str(row.notification_id), row.recipient, row.kind, row.message)
        )
        await uow.conn.execute(
            notifications.update()
            .where(n.notification_id == row.notification_id)
            .values(
                status="sent" if delivery.ok else "failed",
                channel=delivery.channel,
                attempts=n.attempts + delivery.attempts,
                delivered_at=now() if delivery.ok else None,
                provider_ref=delivery.provider_ref,
                error=delivery.error,
            )
        )
    return len(rows)
