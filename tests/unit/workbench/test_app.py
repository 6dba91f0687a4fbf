"""The workbench app without services: the built app's history-mode fallback, development
sign-in, the cookie's attributes and sign-out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from services.workbench.bootstrap import create_app
from services.workbench.settings import WorkbenchSettings
from shared.auth.tokens import token_keys, verify_token

# A key of its own, as `python -m services.workbench keygen` prints one.
PRODUCTION_KEY = Fernet.generate_key().decode()


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>工作台</title>", encoding="utf-8")
    (tmp_path / "assets" / "app-1234.js").write_text("console.log(1)", encoding="utf-8")
    (tmp_path / "favicon.svg").write_text("<svg/>", encoding="utf-8")
    return tmp_path


async def _client(settings: WorkbenchSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wb") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@pytest.fixture
async def client(dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(WorkbenchSettings(environment="test", web_dist=dist)):
        yield c


async def test_app_routes_fall_back_to_the_shell_and_files_are_served(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/", "/review/tasks", "/window/applications/abc/receipt"):
        answer = await client.get(path)
        assert answer.status_code == 200, path
        assert "工作台" in answer.text
        assert answer.headers["cache-control"] == "no-store"
    assert (await client.get("/assets/app-1234.js")).text == "console.log(1)"
    assert (await client.get("/favicon.svg")).text == "<svg/>"
    assert (await client.get("/../pyproject.toml")).text.startswith("<!doctype html>")
    missing = await client.get("/api/workbench/nothing")
    assert missing.status_code in (401, 404)
    assert (await client.get("/auth/nothing")).status_code == 404


async def test_readiness_says_whether_the_app_is_built(tmp_path: Path, dist: Path) -> None:
    async for c in _client(WorkbenchSettings(environment="test", web_dist=tmp_path / "none")):
        assert (await c.get("/readyz")).status_code == 503
        shell = await c.get("/")
        assert shell.status_code == 503
        assert "scripts/run.sh" in shell.json()["detail"]
    async for c in _client(WorkbenchSettings(environment="test", web_dist=dist)):
        assert (await c.get("/readyz")).json() == {"status": "ok", "checks": {"web_built": True}}


async def test_demo_sign_in_sets_a_strict_httponly_cookie_holding_a_dev_token(
    client: httpx.AsyncClient,
) -> None:
    users = (await client.get("/auth/demo-users")).json()
    ids = [u["id"] for u in users]
    assert ids[:7] == [
        "demo-street-clerk",
        "demo-street-reviewer",
        "demo-district-clerk",
        "demo-district-reviewer",
        "demo-city-clerk",
        "demo-city-reviewer",
        "demo-city-leader",
    ]
    assert "demo-dept-health" in ids
    refused = await client.post("/auth/demo-login", json={"id": "demo-city-leader"})
    assert refused.status_code == 403  # no X-CSRF-Token header: not from the app's script
    answer = await client.post(
        "/auth/demo-login", json={"id": "demo-city-leader"}, headers={"X-CSRF-Token": "signin"}
    )
    assert answer.status_code == 200
    assert answer.json()["roles"] == ["city_leader"]
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "eyJ" not in cookie  # the token is inside, encrypted
    me = (await client.get("/auth/me")).json()
    assert (me["sub"], me["name"], me["org"]) == ("demo-city-leader", "刘强", "350200")
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    session = ctx.codec.open_session(client.cookies["housing_wb_session"], max_age_seconds=60)
    principal = verify_token(session.token, keys=token_keys(""), audience="housing-review")
    assert (principal.sub, principal.roles, principal.org) == (
        "demo-city-leader",
        frozenset({"city_leader"}),
        "350200",
    )
    unknown = await client.post(
        "/auth/demo-login", json={"id": "nobody"}, headers={"X-CSRF-Token": "signin"}
    )
    assert (unknown.status_code, unknown.json()["field"]) == (422, "id")


async def test_sign_out_needs_the_sessions_csrf_token_and_ends_the_session(
    client: httpx.AsyncClient,
) -> None:
    signed_in = await client.post(
        "/auth/demo-login", json={"id": "demo-street-clerk"}, headers={"X-CSRF-Token": "signin"}
    )
    csrf = signed_in.json()["csrf"]
    assert (await client.post("/auth/logout", headers={"X-CSRF-Token": "other"})).status_code == 403
    assert (await client.get("/auth/me")).status_code == 200
    assert (await client.post("/auth/logout", headers={"X-CSRF-Token": csrf})).status_code == 204
    assert (await client.get("/auth/me")).status_code == 401


async def test_production_offers_no_demo_users(dist: Path) -> None:
    settings = WorkbenchSettings(
        environment="production",
        session_keys=[PRODUCTION_KEY],
        oidc_issuer="https://idp.example.gov.cn",
        oidc_client_id="workbench",
        public_url="https://wb.example.gov.cn",
        web_dist=dist,
    )
    async for c in _client(settings):
        assert (await c.get("/auth/demo-users")).status_code == 404
        login = await c.post(
            "/auth/demo-login", json={"id": "demo-admin"}, headers={"X-CSRF-Token": "x"}
        )
        assert login.status_code == 404
        options = (await c.get("/auth/options")).json()
        assert (options["development"], options["oidc"]) == (False, True)
