"""Pagination parameters: bounds are enforced before a query reaches the database."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.pagination import MAX_LIMIT, MAX_OFFSET, PageDep
from shared.problems import install_problem_handlers


def build_client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/things")
    async def things(page: PageDep) -> dict[str, int]:
        return {"limit": page.limit, "offset": page.offset}

    return TestClient(app, raise_server_exceptions=False)


def test_defaults_and_largest_accepted_values() -> None:
    client = build_client()
    assert client.get("/things").json() == {"limit": 50, "offset": 0}
    got = client.get("/things", params={"limit": MAX_LIMIT, "offset": MAX_OFFSET})
    assert got.json() == {"limit": MAX_LIMIT, "offset": MAX_OFFSET}


def test_offset_beyond_bigint_is_a_validation_problem_not_a_server_error() -> None:
    # Found by schemathesis: ?offset=8843959370211307612434759417856 reached PostgreSQL (500).
    got = build_client().get("/things", params={"offset": 8843959370211307612434759417856})
    assert got.status_code == 422
    assert got.headers["content-type"] == "application/problem+json"
    assert got.json()["field"] == "offset"
    assert got.json()["detail"] == "offset：数值超出范围"
