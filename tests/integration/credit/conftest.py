"""A running credit service (real PostgreSQL and RabbitMQ) and helpers to walk a record."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from shared.clock import SHANGHAI, clock
from shared.tables import outbox
from tests.conftest import Infra
from tests.services import RunningService, running_service, token

OFFICER_A = token("credit_officer", org="350200", sub="officer-a")
OFFICER_B = token("credit_officer", org="350200", sub="officer-b")
SERVICE = token("service", org="350200", sub="svc-intake")


def at_shanghai(day: str, hh: int = 10, mm: int = 0) -> datetime:
    return datetime.combine(datetime.fromisoformat(day).date(), time(hh, mm), SHANGHAI)


@pytest.fixture
def frozen_clock() -> Iterator[Any]:
    try:
        yield clock
    finally:
        clock.reset()


@pytest.fixture(scope="module")
async def credit(
    infra: Infra, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningService]:
    # Long sweep intervals: the tests run the sweeps themselves under a controlled clock.
    path: Path = tmp_path_factory.mktemp("credit") / "credit.yaml"
    path.write_text(
        "credit:\n  expiry_sweep_seconds: 3600\n  share_sweep_seconds: 3600\n", encoding="utf-8"
    )
    previous = os.environ.get("HOUSING_CREDIT_CONFIG")
    os.environ["HOUSING_CREDIT_CONFIG"] = str(path)
    try:
        async with running_service(infra, "credit", system="credit") as svc:
            yield svc
    finally:
        if previous is None:
            os.environ.pop("HOUSING_CREDIT_CONFIG", None)
        else:
            os.environ["HOUSING_CREDIT_CONFIG"] = previous


def family_record(resident_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "family",
        "kind": "concealed_housing",
        "severity": "general",
        "origin": "verification",
        "facts": "申请时隐瞒名下住房一套（87.5平方米）",
        "evidence": [{"title": "不动产登记查询结果", "reference": "BDC-2026-00017"}],
        "resident_id": resident_id,
        "name": "王小明",
    }
    body.update(overrides)
    return body


async def step(svc: RunningService, record_id: str, name: str, **extra: Any) -> dict[str, Any]:
    response = await svc.client.post(
        f"/records/{record_id}/notices", json={"step": name, **extra}, headers=OFFICER_A
    )
    assert response.status_code == 200, response.json()
    return response.json()


async def file_record(
    svc: RunningService, body: dict[str, Any], *, day: str = "2026-11-21"
) -> dict[str, Any]:
    """Create, approve and walk a record to ``recorded`` with the clock on ``day``.

    Notice delivered on ``day``; the 15-day correction period ends 15 days later; recorded on
    the day after that. Leaves the clock frozen; callers use the ``frozen_clock`` fixture.
    """
    start = at_shanghai(day)
    clock.set(start)
    created = await svc.client.post("/records", json=body, headers=OFFICER_A)
    assert created.status_code == 201, created.json()
    record_id = created.json()["id"]
    approved = await svc.client.post(f"/records/{record_id}/approve", json={}, headers=OFFICER_B)
    assert approved.status_code == 200, approved.json()
    await step(svc, record_id, "notice_issued", document_no="GZH-2026-001")
    delivered = await step(svc, record_id, "delivered")
    deadline = datetime.fromisoformat(delivered["correction_deadline"]).date()
    clock.set(at_shanghai((deadline + timedelta(days=1)).isoformat()))
    await step(svc, record_id, "deadline_passed")
    return await step(svc, record_id, "recorded")


async def events_for(svc: RunningService, subject: str) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of every event the service wrote about ``subject``, in order."""
    async with svc.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(outbox.c.type, outbox.c.body)
                .where(outbox.c.subject == subject)
                .order_by(outbox.c.seq)
            )
        ).all()
    return [(r.type, orjson.loads(r.body)["data"]) for r in rows]


def new_uuid() -> str:
    return str(uuid.uuid4())
