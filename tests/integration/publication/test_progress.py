"""The public progress query: stage and dates, nothing personal, one answer for unknown and
wrong tail, and a per-client rate limit answered with 429 and Retry-After."""

from __future__ import annotations

import pytest

from tests.examples import resident_id
from tests.integration.publication.conftest import Stack, accepted, publish_and_wait

pytestmark = pytest.mark.integration


async def test_progress_query(stack: Stack) -> None:
    event = accepted("PROG-0001")
    await publish_and_wait(stack, event, stage="accepted")
    tail = resident_id()[-4:]
    async with stack.client("10.1.0.1") as client:
        found = await client.get(f"/public/progress?tracking_no=PROG-0001&id_tail={tail}")
        assert found.status_code == 200
        body = found.json()
        assert body["stage"] == "accepted"
        assert body["stage_title"] == "已受理，部门联合核查中"
        assert body["accepted_at"].startswith("2026-11-21T09:30:00")
        assert "name" not in str(body) and "id_masked" not in body

        wrong_tail = await client.get("/public/progress?tracking_no=PROG-0001&id_tail=0000")
        unknown = await client.get(f"/public/progress?tracking_no=NOPE-0001&id_tail={tail}")
    assert wrong_tail.status_code == unknown.status_code == 404
    assert wrong_tail.json() == unknown.json()
    assert wrong_tail.headers["content-type"] == "application/problem+json"


async def test_bad_input_names_the_field(stack: Stack) -> None:
    async with stack.client("10.1.0.2") as client:
        response = await client.get("/public/progress?tracking_no=PROG-0001&id_tail=12")
    assert response.status_code == 422
    assert response.json()["field"] == "id_tail"


async def test_rate_limit_per_client(stack: Stack) -> None:
    # The stack allows a burst of 3 and one more per minute.
    async with stack.client("10.2.0.1") as first, stack.client("10.2.0.2") as second:
        answers = [
            (await first.get("/public/progress?tracking_no=NOPE-0002&id_tail=1234")).status_code
            for _ in range(4)
        ]
        assert answers == [404, 404, 404, 429]
        limited = await first.get("/public/progress?tracking_no=NOPE-0002&id_tail=1234")
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "秒后再试" in limited.json()["detail"]
        # The HTML page shares the bucket.
        page = await first.get("/public/pages/progress?tracking_no=NOPE-0002&id_tail=1234")
        assert page.status_code == 429
        # Another address is not affected.
        other = await second.get("/public/progress?tracking_no=NOPE-0002&id_tail=1234")
        assert other.status_code == 404
