"""One intake service for the whole intake integration package, on real PostgreSQL and RabbitMQ,
plus a tap on its events exchange (``tests.harness``) so tests see what was really published."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from services.intake.tables import applications
from shared.city import DEFAULT_CITY_PATH
from shared.tables import outbox
from tests.conftest import Infra
from tests.examples import resident_id
from tests.harness import EventTap, event_tap
from tests.services import RunningService, running_service

MAX_UPLOAD = 64 * 1024


@pytest.fixture(scope="package")
def city_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The demo city with a small upload limit, so the size refusal needs no 20 MB body.
    data = yaml.safe_load(DEFAULT_CITY_PATH.read_text(encoding="utf-8"))
    data["acceptance"]["max_upload_bytes"] = MAX_UPLOAD
    path = tmp_path_factory.mktemp("city") / "city.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="package")
async def intake(infra: Infra, city_file: Path) -> AsyncIterator[RunningService]:
    async with running_service(infra, "intake", system="intake", city_config=city_file) as svc:
        yield svc


@pytest.fixture(scope="package")
async def tap(intake: RunningService, infra: Infra) -> AsyncIterator[EventTap]:
    async with event_tap(infra, intake, ("application.#",)) as result:
        yield result


_serials = itertools.count(1)


def new_resident_id() -> str:
    """A valid resident ID never used before in this run."""
    n = next(_serials)
    born = date(1970, 1, 1) + timedelta(days=n)
    return resident_id(birth=f"{born:%Y%m%d}", serial=f"{n % 1000:03d}")


def application_body(*resident_ids: str, **changes: Any) -> dict[str, Any]:
    ids = list(resident_ids) or [new_resident_id(), new_resident_id()]
    relationships = ["applicant", "spouse", "child", "child", "parent"]
    body: dict[str, Any] = {
        "category": "low_income_family",
        "street": "350203001",
        "channel": "online",
        "mobile": "13812345678",
        "members": [
            {
                "name": ["张三丰", "李四娘", "张小明", "张小红", "张老汉"][i % 5],
                "resident_id": rid,
                "relationship": relationships[i % 5],
                "marital_status": "married" if i < 2 else "unmarried",
                "hukou_division": "350203",
                "residence_permit": False,
                "employer": "厦门某某有限公司" if i == 0 else None,
                "declared_monthly_income": "3200.00",
                "declared_financial_assets": "20000.00",
                "declared_vehicle_count": 0,
                "declared_vehicle_value": "0",
            }
            for i, rid in enumerate(ids)
        ],
        "housing": {"address": "厦门市思明区某某路1号", "area_m2": "0", "tenure": "private_rental"},
        "pledge": {"version": "2026.1", "signed_at": datetime.now(UTC).isoformat()},
    }
    body.update(changes)
    return body


async def counts(svc: RunningService) -> tuple[int, int]:
    """(applications stored, events in the outbox): what a refusal must leave unchanged."""
    async with svc.runtime.engine.connect() as conn:
        apps = await conn.scalar(sa.select(sa.func.count()).select_from(applications))
        events = await conn.scalar(sa.select(sa.func.count()).select_from(outbox))
    return int(apps or 0), int(events or 0)
