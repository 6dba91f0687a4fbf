"""Database errors a request's own text causes are the client's; every other one stays a 500."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError

from shared.db import create_engine
from shared.problems import install_problem_handlers


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def build_client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/fail/{sqlstate}")
    async def fail(sqlstate: str) -> None:
        raise DBAPIError("INSERT ...", {}, _DriverError(sqlstate))

    return TestClient(app, raise_server_exceptions=False)


def test_nul_in_text_or_jsonb_is_a_validation_problem() -> None:
    client = build_client()
    for sqlstate in ("22021", "22P05"):
        got = client.get(f"/fail/{sqlstate}")
        assert got.status_code == 422
        assert got.headers["content-type"] == "application/problem+json"
        assert got.json()["detail"] == "请求内容含有不允许的控制字符（如 NUL），请删除后重新提交"


def test_any_other_database_error_is_still_the_generic_500() -> None:
    got = build_client().get("/fail/40001")
    assert got.status_code == 500
    assert got.headers["content-type"] == "application/problem+json"
    assert got.json()["type"] == "/problems#internal"


def test_failed_statements_never_log_their_bound_values() -> None:
    # Seen while fuzzing: a NUL-bearing insert logged members' names with its parameters.
    engine = create_engine("postgresql+asyncpg://u@127.0.0.1:1/none")
    assert engine.sync_engine.hide_parameters is True
