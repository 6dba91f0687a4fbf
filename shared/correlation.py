"""The correlation id that follows one application end to end.

It travels HTTP ``X-Correlation-ID`` -> outbox row -> AMQP ``correlation_id`` -> consumer
context -> outgoing httpx calls. Stored in a contextvar and mirrored into structlog's
contextvars so that every log line carries it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar

import httpx
import structlog

HEADER = "X-Correlation-ID"

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_causation_id: ContextVar[str | None] = ContextVar("causation_id", default=None)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str | None:
    return _correlation_id.get()


def current_causation_id() -> str | None:
    return _causation_id.get()


def bind(correlation_id: str | None, causation_id: str | None = None) -> None:
    """Set the ids for the current task (request or consumed message)."""
    _correlation_id.set(correlation_id)
    _causation_id.set(causation_id)
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
    if causation_id:
        structlog.contextvars.bind_contextvars(causation_id=causation_id)


@contextlib.contextmanager
def scope(correlation_id: str) -> Iterator[None]:
    """Events emitted inside the block carry ``correlation_id`` (an application's own where one
    message carried several applications' answers); the outer id again after it."""
    token = _correlation_id.set(correlation_id)
    try:
        yield
    finally:
        _correlation_id.reset(token)


def clear() -> None:
    _correlation_id.set(None)
    _causation_id.set(None)
    structlog.contextvars.clear_contextvars()


async def _propagate(request: httpx.Request) -> None:
    cid = current_correlation_id()
    if cid and HEADER not in request.headers:
        request.headers[HEADER] = cid


def http_client(**kwargs: object) -> httpx.AsyncClient:
    """An httpx client that forwards the current correlation id on every request."""
    hooks = dict(kwargs.pop("event_hooks", None) or {})  # type: ignore[arg-type]
    hooks.setdefault("request", []).append(_propagate)
    return httpx.AsyncClient(event_hooks=hooks, **kwargs)  # type: ignore[arg-type]
