"""Public reference data (no token): intake's streets and categories with their materials,
verification's departments, exactly as the city file says, and nothing personal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.city import city_config
from tests.conftest import Infra
from tests.services import RunningService, running_service

pytestmark = pytest.mark.integration

CITY = city_config()


@pytest.fixture(scope="module")
async def intake(infra: Infra) -> AsyncIterator[RunningService]:
    async with running_service(infra, "intake", system="ref") as svc:
        yield svc


@pytest.fixture(scope="module")
async def verification(infra: Infra) -> AsyncIterator[RunningService]:
    async with running_service(infra, "verification", system="ref") as svc:
        yield svc


async def test_streets_of_the_city_without_a_token(intake: RunningService) -> None:
    response = await intake.client.get("/reference/streets")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    body = response.json()
    assert (body["city_code"], body["city_name"]) == ("350200", "厦门市")
    assert body["any_street_may_accept"] is CITY.acceptance.any_street_may_accept
    assert [d["code"] for d in body["districts"]] == [d.code for d in CITY.units.districts]
    siming = body["districts"][0]
    assert siming["name"] == "思明区"
    assert siming["streets"][0] == {"code": "350203001", "name": "厦港街道"}
    assert sum(len(d["streets"]) for d in body["districts"]) == len(CITY.streets())


async def test_categories_with_their_required_materials(intake: RunningService) -> None:
    response = await intake.client.get("/reference/categories")
    assert response.status_code == 200
    categories = {c["code"]: c for c in response.json()}
    assert list(categories) == [c.code for c in CITY.categories]
    newly = categories["newly_employed"]
    assert [m["code"] for m in newly["required_materials"]] == list(
        CITY.category("newly_employed").required_materials
    )
    # 一证一簿两表 is part of every category's list, with the names a form shows.
    for category in categories.values():
        names = {m["code"]: m["name"] for m in category["required_materials"]}
        assert names["id_card"] == "居民身份证"
        assert "household_register" in names
    assert categories["low_income_family"]["verifying_departments"] == list(
        CITY.category("low_income_family").departments
    )


async def test_departments_as_the_city_file_lists_them(verification: RunningService) -> None:
    response = await verification.client.get("/reference/departments")
    assert response.status_code == 200
    departments = response.json()
    assert [d["code"] for d in departments] == [d.code for d in CITY.departments]
    police = departments[0]
    assert police == {
        "code": "public_security",
        "name": "市公安局",
        "checks": "户籍、居住证、家庭成员关系",
        "answer_deadline_working_days": 5,
        "fields": ["name", "resident_id", "relationship", "hukou_location"],
    }
    assert "disabled_persons_federation" in {d["code"] for d in departments}


async def test_reference_routes_need_no_token_and_take_no_writes(
    intake: RunningService, verification: RunningService
) -> None:
    for svc, path in (
        (intake, "/reference/streets"),
        (intake, "/reference/categories"),
        (verification, "/reference/departments"),
    ):
        operation = svc.app.openapi()["paths"][path]
        assert list(operation) == ["get"]
        assert "security" not in operation["get"], path
        assert (await svc.client.post(path, json={})).status_code == 405
