"""``Idempotency-Key`` for every POST: a retried request gets the first answer, not a second effect.

The key is scoped to the caller (token ``sub``) and remembered together with a hash of the
request and the response, in the same transaction as the request's effects: if the work rolls
back, so does the key, and a retry does the work again. A concurrent retry with the same key
waits on an advisory lock for the first to finish. The same key with a different request body
is refused (409) rather than silently answered with the other request's result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import jwt
import orjson
import sqlalchemy as sa
from fastapi import Depends, Header, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import db
from shared.clock import now
from shared.problems import Conflict, ValidationProblem
from shared.tables import platform_metadata

if TYPE_CHECKING:
    from shared.db import UnitOfWork

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"

idempotency_keys = sa.Table(
    "idempotency_keys",
    platform_metadata,
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # The periodic purge deletes by age.
    sa.Index("idempotency_keys_created_at", "created_at"),
)


# Every POST with a key runs these (fixed text on the driver: the hot path of every request).
_STORED = (
    "SELECT request_hash, status_code, body, created_at FROM idempotency_keys"
    " WHERE scope = $1 AND key = $2"
)
_FORGET = "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2"
_REMEMBER = (
    "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, body, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6)"
)


@dataclass(frozen=True)
class Answer:
    """What ``work`` returns when its status is not ``run``'s ``status_code`` (it depends on the
    outcome): intake answers an upload of a file it already holds with 200 and the stored
    material, verification a duplicate department answer with 200; the status is remembered
    with the body."""

    body: Any
    status_code: int


class Idempotency:
    """The idempotency context of one POST request (a no-op without the header)."""

    def __init__(
        self, key: str | None, scope: str, request_hash: str, ttl: timedelta = timedelta(hours=48)
    ) -> None:
        self.key = key
        self.scope = scope
        self.request_hash = request_hash
        self.ttl = ttl

    async def run(
        self,
        uow_factory: Callable[[], UnitOfWork],
        work: Callable[[UnitOfWork], Awaitable[Any]],
        *,
        status_code: int = 200,
    ) -> Response:
        """Replay, or do ``work`` in a fresh unit of work, remember its answer and commit.

        Every POST of the platform runs through here: ``work`` changes state, emits events and
        writes audit in the unit of work it is given and returns the response body (a pydantic
        model or plain data, or an ``Answer`` with its own status); a ``Problem`` it raises
        rolls everything back, key included.
        """
        async with uow_factory() as uow:
            if (replay := await self.replay(uow.conn)) is not None:
                return replay
            body = await work(uow)
            if isinstance(body, Answer):
                status_code, body = body.status_code, body.body
            response = await self.remember(uow.conn, status_code, body)
            await uow.commit()
        return response

    async def replay(self, conn: AsyncConnection) -> Response | None:
        """The stored answer when this key was used before; call first in the transaction."""
        if self.key is None:
            return None
        await db.lock_named(conn, f"{self.scope}|{self.key}")
        # After the lock: a concurrent first use has committed (or rolled back) by now.
        found = await db.fetch(conn, _STORED, self.scope, self.key)
        row = found[0] if found else None
        if row is None:
            return None
        if row["created_at"] <= now() - self.ttl:
            # Expired but not yet purged: forget it here, so the key starts afresh.
            await db.fetch(conn, _FORGET, self.scope, self.key)
            return None
        if row["request_hash"] != self.request_hash:
            raise Conflict(
                detail="该 Idempotency-Key 已用于另一个不同的请求，请换用新的键。",
                field=HEADER,
            )
        return Response(
            content=row["body"],
            status_code=row["status_code"],
            media_type="application/json",
            headers={REPLAY_HEADER: "true"},
        )

    async def remember(self, conn: AsyncConnection, status_code: int, body: Any) -> Response:
        """Store the answer in the request's transaction and return it as a response."""
        content = orjson.dumps(body, default=_default)
        if self.key is not None:
            await db.fetch(
                conn,
                _REMEMBER,
                self.scope,
                self.key,
                self.request_hash,
                status_code,
                content,
                now(),
            )
        return Response(content=content, status_code=status_code, media_type="application/json")


def _default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


async def get_idempotency(
    request: Request,
    # Declared so the OpenAPI document shows it on every operation that honours it; checked
    # below rather than by FastAPI, so the refusal names the header in the clerk's words.
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description=(
                "Optional. The same key with the same request within the retention time "
                "answers the first answer again (header Idempotent-Replayed: true) instead of "
                "acting twice; with a different request it is refused (409). One key per "
                "intended action, scoped to the caller."
            ),
            examples=["6f1c2d9e-4b7a-4f0e-9a51-1c2b3d4e5f60"],
            json_schema_extra={"minLength": 1, "maxLength": 200},
        ),
    ] = None,
) -> Idempotency:
    if key is not None and not (1 <= len(key) <= 200 and key.isprintable()):
        raise ValidationProblem(detail="Idempotency-Key 应为1至200个可见字符。", field=HEADER)
    scope = _caller(request)
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.url.path.encode())
    # The query string is part of the request: ``?draft=true`` and ``?draft=false`` differ.
    digest.update(b"?" + request.url.query.encode())
    digest.update(b"\n" + await request.body())
    settings = getattr(request.app.state, "settings", None)
    hours = getattr(settings, "idempotency_ttl_hours", 48)
    return Idempotency(key, scope, digest.hexdigest(), ttl=timedelta(hours=hours))


async def purge_expired(conn: AsyncConnection, ttl: timedelta) -> int:
    """Delete the keys older than ``ttl`` (the periodic purge every service runs)."""
    result = await conn.execute(
        sa.delete(idempotency_keys).where(idempotency_keys.c.created_at <= now() - ttl)
    )
    return result.rowcount or 0


def _caller(request: Request) -> str:
    """Keys are per user: the same key from two users never collides.

    The token's ``sub`` is read without checking the signature here because the endpoint's
    own auth dependency has already refused a bad token before its body calls ``replay``; a
    fresh token of the same user then still finds the user's earlier answer.
    """
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token:
        try:
            sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
        except jwt.PyJWTError:
            sub = None
        if sub:
            return f"sub:{sub}"
    # Anonymous callers (the public) are told apart by address.
    return f"anon:{request.client.host if request.client else 'unknown'}"


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
