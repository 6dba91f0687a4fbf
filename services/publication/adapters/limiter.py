"""Token buckets per client address for the public endpoints: the progress query (JSON and
HTML alike) and objection filing."""

from __future__ import annotations

import time

from fastapi import Request

from services.publication import domain
from shared.problems import TooManyRequests


def client_address(request: Request) -> str:
    # The socket peer. Behind a reverse proxy, run uvicorn with --proxy-headers and the proxy's
    # address in --forwarded-allow-ips so this is the citizen's address, not the proxy's;
    # trusting X-Forwarded-For from anyone would let a client pick its own bucket.
    return request.client.host if request.client else "unknown"


class ProgressLimiter:
    """One bucket per client address, shared by ``GET /public/progress`` and its page (and,
    with its own instance and words, by objection filing)."""

    def __init__(self, burst: int, per_minute: float, doing: str = "查询") -> None:
        self.bucket = domain.TokenBucket(burst=burst, per_second=per_minute / 60.0)
        self.doing = doing

    def check(self, request: Request) -> None:
        wait = self.bucket.take(client_address(request), time.monotonic())
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            raise TooManyRequests(f"{self.doing}过于频繁，请{seconds}秒后再试", retry_after=seconds)
