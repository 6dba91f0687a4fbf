"""The workbench forwards the browser's calls to a real intake service (PostgreSQL, RabbitMQ)
with the signed-in user's token, passes problem+json through unchanged, and refuses what has
no session or no CSRF token before it reaches the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from services.workbench.bootstrap import create_app
from services.workbench.settings import WorkbenchSettings
from tests.conftest import Infra
from tests.integration.intake.conftest import application_body, new_resident_id
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.integration


@dataclass
class Bench:
    browser: httpx.AsyncClient  # the workbench as the browser sees it
    intake: RunningService


@pytest.fixture(scope="module")
async def bench(infra: Infra) -> AsyncIterator[Bench]:
    async with running_service(infra, "intake", system="wb") as intake:
        transport = httpx.ASGITransport(app=intake.app, raise_app_exceptions=False)
        settings = WorkbenchSettings(environment="test", service_urls={"intake": "http://intake"})
        app = create_app(settings, transports={"http://intake": transport})
        async with app.router.lifespan_context(app):
            workbench = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=workbench, base_url="http://wb") as browser:
                yield Bench(browser, intake)


async def _sign_in(browser: httpx.AsyncClient, demo_user: str) -> str:
    browser.cookies.clear()
    answer = await browser.post(
        "/auth/demo-login", json={"id": demo_user}, headers={"X-CSRF-Token": "signin"}
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["csrf"])


async def _count(intake: RunningService) -> int:
    answer = await intake.client.get(
        "/applications", headers=token("street_clerk", org="350203001")
    )
    return int(answer.json()["total"])


async def test_a_refusal_comes_back_exactly_as_intake_gave_it_and_nothing_is_stored(
    bench: Bench,
) -> None:
    csrf = await _sign_in(bench.browser, "demo-street-clerk")
    before = await _count(bench.intake)
    valid = new_resident_id()
    wrong = valid[:-1] + ("1" if valid[-1] != "1" else "2")  # the check character changed
    body = application_body(new_resident_id(), wrong, channel="window")
    via_workbench = await bench.browser.post(
        "/api/intake/applications", json=body, headers={"X-CSRF-Token": csrf}
    )
    direct = await bench.intake.client.post(
        "/applications", json=body, headers=token("street_clerk", org="350203001")
    )
    assert via_workbench.status_code == direct.status_code == 422
    assert via_workbench.headers["content-type"] == "application/problem+json"
    assert via_workbench.json() == direct.json()
    assert via_workbench.json()["errors"] == [
        {"field": "members.1.resident_id", "detail": "身份证号码校验位错误"}
    ]
    assert await _count(bench.intake) == before


async def test_an_application_is_submitted_with_the_signed_in_clerks_token(bench: Bench) -> None:
    csrf = await _sign_in(bench.browser, "demo-street-clerk")
    body = application_body(channel="window")
    created = await bench.browser.post(
        "/api/intake/applications",
        json=body,
        headers={"X-CSRF-Token": csrf, "Idempotency-Key": "wb-forwarding-1"},
    )
    assert created.status_code == 201, created.text
    application_id = created.json()["id"]
    # The clerk's own identity reached intake: the application is readable as that clerk, and
    # the same Idempotency-Key again answers the same application.
    again = await bench.browser.post(
        "/api/intake/applications",
        json=body,
        headers={"X-CSRF-Token": csrf, "Idempotency-Key": "wb-forwarding-1"},
    )
    assert (again.status_code, again.json()["id"]) == (201, application_id)
    read = await bench.browser.get(f"/api/intake/applications/{application_id}")
    assert read.status_code == 200
    assert read.json()["tracking_no"] == created.json()["tracking_no"]


async def test_without_csrf_token_or_session_nothing_reaches_the_service(bench: Bench) -> None:
    csrf = await _sign_in(bench.browser, "demo-street-clerk")
    before = await _count(bench.intake)
    body = application_body(channel="window")
    missing = await bench.browser.post("/api/intake/applications", json=body)
    wrong = await bench.browser.post(
        "/api/intake/applications", json=body, headers={"X-CSRF-Token": csrf + "x"}
    )
    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert missing.json()["detail"] == "页面已过期或请求来源不明，请刷新页面后重试"
    bench.browser.cookies.clear()
    anonymous = await bench.browser.get("/api/intake/applications")
    assert anonymous.status_code == 401
    assert anonymous.json()["detail"] == "请先登录工作台"
    assert await _count(bench.intake) == before


async def test_a_role_the_service_refuses_is_refused_by_the_service(bench: Bench) -> None:
    await _sign_in(bench.browser, "demo-applicant")
    listed = await bench.browser.get("/api/intake/applications")
    assert listed.status_code == 403
    assert listed.headers["content-type"] == "application/problem+json"


async def test_only_the_eight_services_are_forwarded_to(bench: Bench) -> None:
    await _sign_in(bench.browser, "demo-street-clerk")
    answer = await bench.browser.get("/api/billing/anything")
    assert answer.status_code == 404
    assert answer.json()["field"] == "service"


async def test_a_service_that_does_not_answer_is_a_chinese_502(infra: Infra) -> None:
    settings = WorkbenchSettings(
        environment="test",
        service_urls={"review": "http://127.0.0.1:9"},
        connect_timeout_seconds=2,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://wb") as browser:
            await _sign_in(browser, "demo-street-reviewer")
            answer = await browser.get("/api/review/tasks")
    assert answer.status_code == 502
    assert answer.json()["detail"] == "业务服务（review）暂时无法访问，请稍后重试"
