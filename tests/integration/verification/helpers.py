"""Helpers for the verification integration tests: acceptances, department answers over HTTP,
reading state (publishing and waiting come from ``tests.harness``)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from services.verification.tables import department_requests, verification_cases
from shared.clock import now
from shared.events.catalogue import ApplicationAccepted
from shared.runtime import Runtime
from shared.tables import outbox
from tests.examples import accepted_application
from tests.harness import wait_for
from tests.services import token


def accepted(category: str = "newly_employed") -> ApplicationAccepted:
    """An acceptance, today, of a category with the default eight departments."""
    base = accepted_application()
    return base.model_copy(
        update={"application_id": uuid.uuid4(), "category": category, "accepted_at": now()}
    )


def dept_token(department: str) -> dict[str, str]:
    return token(f"department:{department}", org="350200", sub=f"system-{department}")


async def answer_http(
    client: httpx.AsyncClient,
    department: str,
    request_id: uuid.UUID,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        f"/departments/{department}/requests/{request_id}/answer",
        json=body if body is not None else {"no_record": True},
        headers={**dept_token(department), **(headers or {})},
    )


async def case_row(runtime: Runtime, application_id: uuid.UUID) -> Any:
    async with runtime.engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(verification_cases).where(
                    verification_cases.c.application_id == application_id
                )
            )
        ).first()


async def requests_of(runtime: Runtime, application_id: uuid.UUID) -> list[Any]:
    async with runtime.engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    sa.select(department_requests)
                    .where(department_requests.c.application_id == application_id)
                    .order_by(department_requests.c.department)
                )
            ).all()
        )


async def wait_for_case(runtime: Runtime, application_id: uuid.UUID, **kw: Any) -> Any:
    return await wait_for(lambda: case_row(runtime, application_id), **kw)


async def wait_completed(runtime: Runtime, application_id: uuid.UUID, **kw: Any) -> Any:
    async def done() -> Any:
        row = await case_row(runtime, application_id)
        return row if row is not None and row.status == "completed" else None

    return await wait_for(done, **kw)


async def events_of(runtime: Runtime, event_type: str, subject: uuid.UUID) -> list[Any]:
    """Outbox rows of one type about one application: the whole row, where a test checks the
    routing key and exchange of a department request (``tests.harness.emitted`` gives only the
    payloads)."""
    async with runtime.engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    sa.select(outbox)
                    .where(outbox.c.type == event_type, outbox.c.subject == str(subject))
                    .order_by(outbox.c.seq)
                )
            ).all()
        )


async def requests_sent(runtime: Runtime, application_id: uuid.UUID) -> list[tuple[Any, dict]]:
    """The department requests verification published about one application, oldest first:
    each as (its outbox row, the request's data), from a ``verification.requested`` or as an
    item of a ``verification.requested_batch`` (whose row is about its first item's
    application, so every batch row is read)."""
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(outbox)
                .where(
                    sa.or_(
                        outbox.c.type == "verification.requested_batch",
                        sa.and_(
                            outbox.c.type == "verification.requested",
                            outbox.c.subject == str(application_id),
                        ),
                    )
                )
                .order_by(outbox.c.seq)
            )
        ).all()
    found = []
    for row in rows:
        data = orjson.loads(row.body)["data"]
        for item in data["items"] if row.type.endswith("_batch") else [data]:
            if item["application_id"] == str(application_id):
                found.append((row, item))
    return found
