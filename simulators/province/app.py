"""The provincial receiver: a tiny FastAPI app.

Wire contract (what a real provincial platform implements; the publication service sends it):

* ``POST /pushes`` with a JSON body ``{"push_id", "event_id", "type", "occurred_at", "stream",
  "data"}`` and headers ``X-Housing-Push-Id`` (the idempotency key), ``X-Housing-City``,
  ``X-Housing-Timestamp`` and ``X-Housing-Signature: sha256=<hex>`` = HMAC-SHA256 under the
  shared secret over ``<timestamp>.<raw body>``.
* 200 ``{"status": "ack"}`` acknowledges (a repeated push id is acknowledged again and not
  stored twice); 401 for a bad signature; 503 while told to fail.

Written independently of the sender's code on purpose: it checks the contract, not itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

DEV_SECRET = "dev-only-province-push-secret"  # noqa: S105 - the development default


@dataclass
class ProvinceReceiver:
    """What the receiver holds: its secret, the pushes it stored, how many requests to fail."""

    secret: str = DEV_SECRET
    fail_next: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    requests: int = 0
    rejected_signatures: int = 0

    def verify(self, timestamp: str, body: bytes, presented: str) -> bool:
        mac = hmac.new(self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
        return hmac.compare_digest("sha256=" + mac.hexdigest(), presented)


class Control(BaseModel):
    fail_next: int | None = Field(default=None, ge=0, le=1_000_000)
    clear: bool = False


def create_app(receiver: ProvinceReceiver | None = None) -> FastAPI:
    state = receiver or ProvinceReceiver()
    app = FastAPI(title="省监管系统（参考接收端）", version="0.1.0")
    app.state.receiver = state

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "province"}

    @app.post("/pushes")
    async def receive(request: Request) -> JSONResponse:
        state.requests += 1
        body = await request.body()
        if state.fail_next > 0:
            state.fail_next -= 1
            return JSONResponse({"status": "unavailable"}, status_code=503)
        timestamp = request.headers.get("X-Housing-Timestamp", "")
        signature = request.headers.get("X-Housing-Signature", "")
        if not (timestamp and signature and state.verify(timestamp, body, signature)):
            state.rejected_signatures += 1
            return JSONResponse({"status": "bad signature"}, status_code=401)
        try:
            push = json.loads(body)
        except ValueError:
            return JSONResponse({"status": "bad body"}, status_code=400)
        push_id = str(push.get("push_id") or request.headers.get("X-Housing-Push-Id", ""))
        if push_id and push_id not in state.seen:
            state.seen.add(push_id)
            state.received.append({**push, "city": request.headers.get("X-Housing-City", "")})
        return JSONResponse({"status": "ack", "push_id": push_id})

    @app.get("/pushes")
    async def list_pushes(stream: str | None = None) -> dict[str, Any]:
        items = [p for p in state.received if stream is None or p.get("stream") == stream]
        return {"items": items, "total": len(items), "requests": state.requests}

    @app.post("/_control")
    async def control(change: Control) -> dict[str, int]:
        if change.clear:
            state.received.clear()
            state.seen.clear()
            state.requests = 0
        if change.fail_next is not None:
            state.fail_next = change.fail_next
        return {"fail_next": state.fail_next, "received": len(state.received)}

    return app
