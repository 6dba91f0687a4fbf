"""The city credit system client (记入市征信管理系统): one HTTP push of one filed record.

``sweeps.push_shares`` decides what is due and records the outcome; this module only knows how
to talk to the city system: the URL, the timeout, the backoff between attempts, and that the
share row's id travels as ``Idempotency-Key`` so the city system can ignore a repeated push.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from services.credit.settings import CityCreditSystem
from shared.correlation import http_client


def backoff(system: CityCreditSystem, attempts: int) -> timedelta:
    """Delay before attempt ``attempts + 1``; the last configured delay repeats."""
    delays = system.retry_delays_seconds or [60.0]
    return timedelta(seconds=delays[min(attempts - 1, len(delays) - 1)])


class CityCredit:
    """Pushes to ``system.url``; without a URL sharing is queued, not sent."""

    def __init__(
        self,
        system: CityCreditSystem,
        client_factory: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self.system = system
        self._client_factory = client_factory

    @property
    def configured(self) -> bool:
        return self.system.url is not None

    @property
    def max_attempts(self) -> int:
        return self.system.max_attempts

    def backoff(self, attempts: int) -> timedelta:
        return backoff(self.system, attempts)

    def client(self) -> httpx.AsyncClient:
        """One HTTP client for a sweep's batch of pushes."""
        if self._client_factory is not None:
            return self._client_factory()
        return http_client(timeout=self.system.timeout_seconds)

    async def push(self, client: httpx.AsyncClient, share_id: object, payload: Any) -> str | None:
        """None on success, else a short reason (no personal data: the payload holds none in
        clear)."""
        try:
            response = await client.post(
                str(self.system.url), json=payload, headers={"Idempotency-Key": str(share_id)}
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {str(exc)[:200]}"
        if response.is_success:
            return None
        return f"HTTP {response.status_code}"
