"""The token bucket of the public complaint form and lookup, per client address.

The same rule as publication's progress limiter (burst, then a steady rate; the time passed in
so the rule is testable without sleeping), kept here because services share no code but
``shared/``. Lookups share the bucket with filing: check codes cannot be guessed at speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fastapi import Request

from shared.problems import TooManyRequests


@dataclass
class TokenBucket:
    burst: int
    per_second: float
    max_clients: int = 100_000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, client: str, at: float) -> float:
        """0 when allowed, else the seconds until a token is back."""
        tokens, last = self._buckets.get(client, (float(self.burst), at))
        tokens = min(float(self.burst), tokens + (at - last) * self.per_second)
        allowed = tokens >= 1.0
        # Re-inserting moves a client to the end; the oldest are forgotten past max_clients.
        self._buckets.pop(client, None)
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, at)
        while len(self._buckets) > self.max_clients:
            self._buckets.pop(next(iter(self._buckets)))
        return 0.0 if allowed else (1.0 - tokens) / self.per_second


class ComplaintLimiter:
    def __init__(self, burst: int, per_minute: float) -> None:
        self.bucket = TokenBucket(burst=burst, per_second=per_minute / 60.0)

    def check(self, request: Request) -> None:
        # The socket peer: behind a proxy, uvicorn's --proxy-headers makes it the citizen's.
        client = request.client.host if request.client else "unknown"
        wait = self.bucket.take(client, time.monotonic())
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            raise TooManyRequests(f"提交或查询过于频繁，请{seconds}秒后再试", retry_after=seconds)
