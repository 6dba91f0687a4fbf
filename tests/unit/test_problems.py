import io
import logging
from collections.abc import Iterator
from datetime import date

import orjson
import pytest
import structlog
from fastapi import FastAPI, Header, HTTPException, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from shared.logging import configure_logging
from shared.pii import ResidentId
from shared.problems import (
    PROBLEM_BASE,
    PROBLEM_RESPONSES,
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    ValidationProblem,
    install_problem_handlers,
)

RESIDENT_ID = "350203199003071519"
BAD_ID = "350203199003071518"  # wrong check digit
MEDIA_TYPE = "application/problem+json"


class Member(BaseModel):
    name: str
    resident_id: ResidentId


class ApplicationIn(BaseModel):
    members: list[Member] = Field(min_length=1)
    area: float = Field(gt=0, le=1000)
    category: str


def build_app() -> FastAPI:
    app = FastAPI(responses=PROBLEM_RESPONSES)
    install_problem_handlers(app)

    @app.post("/applications")
    async def submit(body: ApplicationIn, idempotency_key: str = Header()) -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/applications")
    async def search(page: int = Query(1, ge=1)) -> dict[str, int]:
        return {"page": page}

    @app.get("/conflict")
    async def conflict() -> None:
        raise Conflict(
            f"申请人{RESIDENT_ID}处于禁入期",
            field="members.0.resident_id",
            extra={"ban_ends_on": date(2027, 3, 1), "type": "ignored"},
        )

    @app.get("/unauthorized")
    async def unauthorized() -> None:
        raise Unauthorized("缺少身份令牌")

    @app.get("/busy")
    async def busy() -> None:
        raise TooManyRequests("请稍后再试", retry_after=30)

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound()

    @app.get("/http-error")
    async def http_error() -> None:
        raise HTTPException(status_code=400, detail="bad cursor")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(f"database said: duplicate key {RESIDENT_ID}")

    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(build_app(), raise_server_exceptions=False)


VALID_BODY = {
    "members": [{"name": "张三", "resident_id": RESIDENT_ID}],
    "area": 30,
    "category": "public_rental",
}


def test_valid_request_passes(client: TestClient) -> None:
    response = client.post("/applications", json=VALID_BODY, headers={"Idempotency-Key": "k"})
    assert response.status_code == 200


def test_validation_error_names_field_and_never_echoes_input(client: TestClient) -> None:
    body = {
        "members": [{"name": "张三", "resident_id": RESIDENT_ID}, {"resident_id": BAD_ID}],
        "area": 5000,
        "category": ["not", "a", "string", "13812345678"],
    }
    response = client.post("/applications", json=body, headers={"Idempotency-Key": "k"})
    assert response.status_code == 422
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.json() == {
        "type": f"{PROBLEM_BASE}validation",
        "title": "请求内容不符合要求",
        "status": 422,
        "detail": "members.1.name：缺少必填字段（另有3处问题）",
        "instance": "/applications",
        "field": "members.1.name",
        "errors": [
            {"field": "members.1.name", "detail": "缺少必填字段"},
            {"field": "members.1.resident_id", "detail": "身份证号码校验位错误"},
            {"field": "area", "detail": "数值超出范围"},
            {"field": "category", "detail": "格式不正确"},
        ],
    }
    assert BAD_ID not in response.text
    assert "13812345678" not in response.text


def test_validation_of_query_header_and_body(client: TestClient) -> None:
    response = client.get("/applications", params={"page": "x"})
    assert response.json()["errors"] == [{"field": "page", "detail": "格式不正确"}]
    response = client.get("/applications", params={"page": "0"})
    assert response.json()["errors"] == [{"field": "page", "detail": "数值超出范围"}]

    response = client.post("/applications", json=VALID_BODY)
    assert response.json()["errors"] == [{"field": "idempotency-key", "detail": "缺少必填字段"}]

    response = client.post(
        "/applications",
        content=b'{"members": [',
        headers={"Idempotency-Key": "k", "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "body", "detail": "请求体不是有效的JSON"}]

    response = client.post(
        "/applications",
        json={**VALID_BODY, "members": []},
        headers={"Idempotency-Key": "k"},
    )
    assert response.json()["errors"] == [{"field": "members", "detail": "数量不足"}]


def test_problem_with_extra_members_and_scrubbed_detail(client: TestClient) -> None:
    response = client.get("/conflict")
    assert response.status_code == 409
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.json() == {
        "type": f"{PROBLEM_BASE}conflict",
        "title": "与当前状态冲突",
        "status": 409,
        "detail": "申请人3502**********1519处于禁入期",
        "instance": "/conflict",
        "field": "members.0.resident_id",
        "ban_ends_on": "2027-03-01",
    }


def test_unauthorized_challenges(client: TestClient) -> None:
    response = client.get("/unauthorized")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"] == f"{PROBLEM_BASE}unauthorized"


def test_too_many_requests_has_retry_after(client: TestClient) -> None:
    response = client.get("/busy")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"


def test_problem_without_detail_uses_title(client: TestClient) -> None:
    assert client.get("/missing").json() == {
        "type": f"{PROBLEM_BASE}not-found",
        "title": "资源不存在",
        "status": 404,
        "detail": "资源不存在",
        "instance": "/missing",
    }


def test_unknown_route_is_problem_404(client: TestClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.json() == {
        "type": f"{PROBLEM_BASE}not-found",
        "title": "资源不存在",
        "status": 404,
        "detail": "请求的地址不存在",
        "instance": "/nowhere",
    }


def test_wrong_method_is_problem_405_with_allow(client: TestClient) -> None:
    response = client.delete("/conflict")
    assert response.status_code == 405
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.headers["allow"] == "GET"
    assert response.json()["type"] == f"{PROBLEM_BASE}method-not-allowed"


def test_http_exception_keeps_custom_detail(client: TestClient) -> None:
    response = client.get("/http-error")
    assert response.status_code == 400
    assert response.json()["detail"] == "bad cursor"
    assert response.json()["type"] == f"{PROBLEM_BASE}bad-request"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("test-service", "INFO", stream=stream)
    yield stream
    structlog.contextvars.clear_contextvars()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "stream", None) is stream]:
        root.removeHandler(handler)


def test_unhandled_exception_is_generic_500_and_logged_masked(
    client: TestClient, log_output: io.StringIO
) -> None:
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.json() == {
        "type": f"{PROBLEM_BASE}internal",
        "title": "服务器内部错误",
        "status": 500,
        "detail": "服务器处理请求时发生错误，请稍后重试；如问题持续，请联系运维人员。",
        "instance": "/boom",
    }
    assert "database" not in response.text
    logged = [orjson.loads(line) for line in log_output.getvalue().splitlines()]
    [event] = [line for line in logged if line["event"] == "unhandled_exception"]
    assert event["path"] == "/boom"
    assert "RuntimeError: database said: duplicate key 3502**********1519" in event["exception"]
    assert RESIDENT_ID not in log_output.getvalue()


def test_unhandled_exception_carries_correlation_id(log_output: io.StringIO) -> None:
    app = build_app()

    @app.middleware("http")
    async def bind(request, call_next):  # type: ignore[no-untyped-def]
        structlog.contextvars.bind_contextvars(correlation_id="corr-1")
        return await call_next(request)

    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500
    assert response.json()["correlation_id"] == "corr-1"


def test_problem_classes() -> None:
    assert [(c.status, c.type.removeprefix(PROBLEM_BASE)) for c in (
        ValidationProblem, NotFound, Conflict, Forbidden, Unauthorized,
        TooManyRequests, ServiceUnavailable,
    )] == [
        (422, "validation"), (404, "not-found"), (409, "conflict"), (403, "forbidden"),
        (401, "unauthorized"), (429, "too-many-requests"), (503, "service-unavailable"),
    ]  # fmt: skip
    problem = Forbidden("无权操作", field="org")
    assert isinstance(problem, Problem)
    assert str(problem) == "无权执行此操作: 无权操作"
    assert problem.body("/x") == {
        "type": f"{PROBLEM_BASE}forbidden",
        "title": "无权执行此操作",
        "status": 403,
        "detail": "无权操作",
        "instance": "/x",
        "field": "org",
    }
    assert ServiceUnavailable(retry_after=5).headers() == {"Retry-After": "5"}


def test_openapi_documents_problem_json(client: TestClient) -> None:
    schema = client.app.openapi()  # type: ignore[attr-defined]
    responses = schema["paths"]["/applications"]["post"]["responses"]
    assert set(responses) == {"200", "4XX", "5XX"}
    for key in ("4XX", "5XX"):
        assert list(responses[key]["content"]) == [MEDIA_TYPE]
        assert responses[key]["content"][MEDIA_TYPE]["schema"]["required"] == [
            "type",
            "title",
            "status",
        ]
