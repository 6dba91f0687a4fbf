"""The app factory every service shares: readiness, errors, correlation and idempotency."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel

from shared import correlation
from shared.amqp.topology import Binding
from shared.app import RuntimeDep
from shared.clock import now
from shared.db import UnitOfWork
from shared.events.envelope import Envelope
from shared.idempotency import IdempotencyDep, idempotency_keys, purge_expired
from shared.inbox import purge_retained
from shared.runtime import ServiceDefinition
from shared.tables import inbox, outbox
from tests.conftest import Infra
from tests.services import RunningService, running_service

pytestmark = pytest.mark.integration

probe_metadata = sa.MetaData()
notes = sa.Table(
    "notes",
    probe_metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
)

seen_outgoing: list[str | None] = []


class NoteIn(BaseModel):
    text: str


router = APIRouter()


@router.post("/notes", status_code=201)
async def add_note(body: NoteIn, runtime: RuntimeDep, idem: IdempotencyDep) -> Response:
    async def work(uow: UnitOfWork) -> dict[str, int]:
        note_id = await uow.conn.scalar(notes.insert().values(text=body.text).returning(notes.c.id))
        uow.emit_raw(event_type="probe.noted", data={"id": note_id}, subject=str(note_id))
        return {"id": note_id}

    return await idem.run(runtime.uow, work, status_code=201)


async def on_noted(uow: UnitOfWork, event: Envelope) -> None:
    # An outgoing call made while handling carries the event's correlation id.
    def capture(request: httpx.Request) -> httpx.Response:
        seen_outgoing.append(request.headers.get(correlation.HEADER))
        return httpx.Response(204)

    async with correlation.http_client(transport=httpx.MockTransport(capture)) as client:
        await client.get("http://department.example/ping")


PROBE = ServiceDefinition(
    name="probe",
    title="probe",
    description="test-only service",
    metadata=probe_metadata,
    bindings=(Binding("probe.#"),),
    handlers={"probe.noted": on_noted},
    routers=(router,),
)


@pytest.fixture(scope="module")
async def probe(infra: Infra) -> AsyncIterator[RunningService]:
    async with running_service(
        infra, "probe", system="app", definition=PROBE, max_request_bytes=4096
    ) as svc:
        yield svc


async def test_health_readiness_and_metrics(probe: RunningService) -> None:
    assert (await probe.client.get("/healthz")).json() == {"status": "ok", "service": "probe"}
    ready = await probe.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": True, "broker": True, "consumers": True, "broker_link": True},
    }
    metrics = await probe.client.get("/metrics")
    assert 'outbox_pending{service="probe"}' in metrics.text
    assert 'broker_link_ok{service="probe"} 1.0' in metrics.text


async def test_unknown_route_is_problem_json(probe: RunningService) -> None:
    response = await probe.client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


async def test_correlation_id_travels_http_outbox_amqp_consumer_and_httpx(
    probe: RunningService,
) -> None:
    seen_outgoing.clear()
    response = await probe.client.post(
        "/notes", json={"text": "hello"}, headers={"X-Correlation-ID": "corr-abc-123"}
    )
    assert response.status_code == 201
    assert response.headers["X-Correlation-ID"] == "corr-abc-123"
    async with probe.runtime.engine.connect() as conn:
        row = (await conn.execute(sa.select(outbox.c.id, outbox.c.correlation_id))).one()
    assert row.correlation_id == "corr-abc-123"
    deadline = time.monotonic() + 20
    while not seen_outgoing and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert seen_outgoing == ["corr-abc-123"]
    async with probe.runtime.engine.connect() as conn:
        handled = (await conn.scalars(sa.select(inbox.c.event_id))).all()
    assert handled == [row.id]


async def test_idempotency_key_replays_the_first_answer(probe: RunningService) -> None:
    headers = {"Idempotency-Key": "key-1"}
    first = await probe.client.post("/notes", json={"text": "once"}, headers=headers)
    second = await probe.client.post("/notes", json={"text": "once"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    async with probe.runtime.engine.connect() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count()).select_from(notes).where(notes.c.text == "once")
        )
    assert count == 1
    other = await probe.client.post("/notes", json={"text": "different"}, headers=headers)
    assert other.status_code == 409
    assert other.json()["field"] == "Idempotency-Key"


async def test_the_query_string_is_part_of_the_idempotent_request(probe: RunningService) -> None:
    headers = {"Idempotency-Key": "key-query"}
    first = await probe.client.post("/notes?draft=true", json={"text": "q"}, headers=headers)
    other = await probe.client.post("/notes?draft=false", json={"text": "q"}, headers=headers)
    assert (first.status_code, other.status_code) == (201, 409)


async def test_an_expired_key_is_a_new_request(probe: RunningService) -> None:
    headers = {"Idempotency-Key": "key-old"}
    first = await probe.client.post("/notes", json={"text": "aged"}, headers=headers)
    async with probe.runtime.engine.begin() as conn:
        await conn.execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.key == "key-old")
            .values(created_at=sa.func.now() - sa.text("interval '49 hours'"))
        )
    again = await probe.client.post("/notes", json={"text": "aged"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    async with probe.runtime.engine.begin() as conn:
        await conn.execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.key == "key-old")
            .values(created_at=sa.func.now() - sa.text("interval '49 hours'"))
        )
        assert await purge_expired(conn, timedelta(hours=48)) == 1


async def test_api_docs_load_without_any_outside_address(probe: RunningService) -> None:
    for page in ("/docs", "/redoc"):
        response = await probe.client.get(page)
        assert response.status_code == 200
        outside = re.findall(r"""(?:src|href)=["']?(https?://[^"' >]+)""", response.text)
        assert outside == [], page
        assets = re.findall(r"""["'](/_docs-assets/[^"']+)["']""", response.text)
        assert assets, page
        for asset in assets:
            assert (await probe.client.get(asset)).status_code == 200, asset


async def test_an_oversized_body_is_refused_before_anything_reads_it(
    probe: RunningService,
) -> None:
    async def count() -> int:
        async with probe.runtime.engine.connect() as conn:
            return await conn.scalar(sa.select(sa.func.count()).select_from(notes))

    before = await count()
    declared = await probe.client.post("/notes", json={"text": "x" * 5000})

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    chunked = await probe.client.post(
        "/notes", content=chunks(), headers={"content-type": "application/json"}
    )
    for response in (declared, chunked):
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["max_bytes"] == 4096
    assert await count() == before


async def test_every_response_carries_the_security_headers(probe: RunningService) -> None:
    for response in (await probe.client.get("/docs"), await probe.client.get("/healthz")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"


async def test_retention_deletes_only_old_published_rows_and_old_inbox_ids(
    probe: RunningService,
) -> None:
    old, fresh = uuid.uuid4(), uuid.uuid4()
    async with probe.runtime.engine.begin() as conn:
        await conn.execute(
            inbox.insert(),
            [
                {"event_id": old, "type": "probe.old", "handled_at": now() - timedelta(days=40)},
                {"event_id": fresh, "type": "probe.fresh", "handled_at": now()},
            ],
        )
        rows = [
            {"sent_at": now() - timedelta(days=40)},  # published long ago: goes
            {"sent_at": None},  # never published: stays, however old
            {"sent_at": now()},  # published today: stays
        ]
        for row in rows:
            await conn.execute(
                outbox.insert().values(
                    id=uuid.uuid4(),
                    type="probe.retained",
                    exchange="x",
                    routing_key="probe.retained",
                    subject="s",
                    correlation_id="c",
                    body=b"{}",
                    created_at=now() - timedelta(days=41),
                    **row,
                )
            )
        assert await purge_retained(conn, timedelta(days=30)) == (1, 1)
        left = (
            await conn.execute(
                sa.select(outbox.c.sent_at.is_(None)).where(outbox.c.type == "probe.retained")
            )
        ).scalars()
        assert sorted(left) == [False, True]
        ids = set((await conn.execute(sa.select(inbox.c.event_id))).scalars())
        assert fresh in ids and old not in ids
