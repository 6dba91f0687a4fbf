"""The applicant's SMS (短信告知): a pluggable notifier, log or HTTP gateway.

The same shape as alerting's notifier, kept apart on purpose: alerting addresses roles in
units and never holds a phone number, while intake holds the applicant's mobile and sends to
it, so its log line masks the number. Messages are stored first (``applicant_messages``) in the
transaction that decided them; the dispatcher (``sweeps.send_messages``) sends pending ones and
records every outcome, so a slow or broken gateway never blocks acceptance or a notice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import httpx
import structlog

from shared.correlation import http_client
from shared.pii import mask_mobile

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Sms:
    message_id: str
    mobile: str
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
    async def send(self, sms: Sms) -> Delivery: ...


class LogNotifier:
    """Default (development): writes the message to the log, the mobile masked."""

    channel = "log"

    async def send(self, sms: Sms) -> Delivery:
        log.info(
            "applicant_sms",
            message_id=sms.message_id,
            to=mask_mobile(sms.mobile),
            kind=sms.kind,
            text=sms.text,
        )
        return Delivery(ok=True, channel=self.channel, attempts=1)


class HttpSmsNotifier:
    """Posts to the city's SMS gateway: ``POST {url}`` with JSON ``{id, to, kind, text}`` and
    ``Idempotency-Key: id``; a 2xx answer is delivery (its JSON ``id`` is kept as the provider
    reference). Transport errors, 5xx and 429 are retried with exponential backoff; other 4xx
    are final (the gateway refused this message)."""

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

    async def send(self, sms: Sms) -> Delivery:
        headers = {"Idempotency-Key": sms.message_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {"id": sms.message_id, "to": sms.mobile, "kind": sms.kind, "text": sms.text}
        attempts = 0
        error = "not sent"
        async with http_client(timeout=self.timeout_seconds) as client:
            while attempts <= self.retries:
                attempts += 1
                try:
                    response = await client.post(self.url, json=body, headers=headers)
                except httpx.HTTPError as exc:
                    # The exception text may quote the request; keep only its kind.
                    error = type(exc).__name__
                else:
                    if response.is_success:
                        return Delivery(True, self.channel, attempts, _provider_ref(response))
                    error = f"HTTP {response.status_code}"
                    if response.status_code < 500 and response.status_code != 429:
                        break
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
