"""Regressions for what schemathesis found in intake (tests/integration/test_api_fuzz.py)."""

from __future__ import annotations

import pytest

from tests.integration.intake.conftest import application_body, counts
from tests.services import RunningService, token

pytestmark = pytest.mark.integration

PORTAL = token("portal", org="350200", sub="portal-web")


async def test_a_nul_character_in_free_text_is_a_validation_problem_and_nothing_is_stored(
    intake: RunningService,
) -> None:
    before = await counts(intake)
    body = application_body(
        housing={"address": "厦门市\u0000思明区", "area_m2": "0", "tenure": "private_rental"}
    )
    response = await intake.client.post("/applications", json=body, headers=PORTAL)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "请求内容含有不允许的控制字符（如 NUL），请删除后重新提交"
    assert await counts(intake) == before


async def test_offset_beyond_any_list_is_a_validation_problem(intake: RunningService) -> None:
    response = await intake.client.get(
        "/applications", params={"offset": 10**30}, headers=token("admin", org="350200")
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "offset"
