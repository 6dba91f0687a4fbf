"""Every service's API documentation in a real browser (Debian's Chromium) on a network that
reaches nothing beyond loopback, as on a government intranet: Swagger UI at ``/docs``, ReDoc
at ``/redoc`` and verification's AsyncAPI page at ``/asyncapi`` must load everything they
need from the service and show every operation.

The services are served by uvicorn on free loopback ports without their lifespan: these pages
read only the app's own OpenAPI document and static files, never the database or the broker.
Every request the page makes to another host is blocked by route interception and recorded;
the test fails if there is one. ``HOUSING_SCREENSHOTS=1`` also writes the screenshot kept in
``docs/screenshots/api-docs.png``.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Page, Route, async_playwright

from shared.app import create_app
from shared.service_names import SERVICES
from shared.settings import settings_for

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

if shutil.which(CHROMIUM) is None:  # pragma: no cover - the run command installs it
    pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium fonts-noto-cjk", pytrace=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
async def docs_servers() -> AsyncIterator[dict[str, str]]:
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
    urls: dict[str, str] = {}
    for name in SERVICES:
        definition = importlib.import_module(f"services.{name}.bootstrap").definition()
        app = create_app(definition, settings_for(name, environment="test"))
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
        )
        servers.append((server, asyncio.create_task(server.serve())))
        urls[name] = f"http://127.0.0.1:{port}"
    while not all(server.started for server, _ in servers):
        await asyncio.sleep(0.05)
    try:
        yield urls
    finally:
        for server, _ in servers:
            server.should_exit = True
        await asyncio.gather(*(task for _, task in servers))


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


async def _offline_page(browser: Browser, blocked: list[str]) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")

    async def only_loopback(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host == "127.0.0.1":
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    await page.route("**/*", only_loopback)
    return page


async def _document(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        document: dict[str, Any] = (await client.get(f"{url}/openapi.json")).json()
    return document


@pytest.mark.parametrize("name", SERVICES)
async def test_swagger_ui_and_redoc_show_every_operation_offline(
    name: str, docs_servers: dict[str, str], browser: Browser, tmp_path: Path
) -> None:
    url = docs_servers[name]
    document = await _document(url)
    operations = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    routes = {(m, path) for path, ops in document["paths"].items() for m in ops}
    blocked: list[str] = []
    errors: list[str] = []
    page = await _offline_page(browser, blocked)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    await page.goto(f"{url}/docs", wait_until="networkidle")
    await page.wait_for_selector(".opblock", timeout=30_000)
    # An operation with two tags is drawn in both sections: compare the distinct ones.
    drawn = await page.eval_on_selector_all(
        ".opblock",
        """els => els.map(e => [e.querySelector('.opblock-summary-method').innerText.toLowerCase(),
                                 e.querySelector('.opblock-summary-path').dataset.path])""",
    )
    assert {(m, p) for m, p in drawn} == routes
    assert await page.locator(".swagger-ui .info .title").inner_text() != ""
    if name == "intake":
        await page.locator(".opblock-summary-path[data-path='/applications']").first.wait_for()
        target = SCREENSHOTS if os.environ.get("HOUSING_SCREENSHOTS") == "1" else tmp_path
        target.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(target / "api-docs.png"), full_page=False)

    await page.goto(f"{url}/redoc", wait_until="networkidle")
    await page.wait_for_selector("[data-section-id^='operation/']", timeout=60_000)
    sections = await page.eval_on_selector_all(
        "[data-section-id^='operation/']",
        "els => [...new Set(els.map(e => e.getAttribute('data-section-id')))]",
    )
    assert sorted(s.removeprefix("operation/") for s in sections) == sorted(operations)
    await page.close()
    assert blocked == []
    assert errors == []


async def test_verification_serves_the_asyncapi_page_offline(
    docs_servers: dict[str, str], browser: Browser
) -> None:
    from shared.events.asyncapi import build_document

    messages = list(build_document()["components"]["messages"])
    blocked: list[str] = []
    page = await _offline_page(browser, blocked)
    response = await page.goto(f"{docs_servers['verification']}/asyncapi", wait_until="load")
    assert response is not None and response.status == 200
    shown = await page.eval_on_selector_all(
        "section.message", "els => els.map(e => e.id.replace('message-', ''))"
    )
    assert shown == messages
    example = await page.locator("#message-departmentAnsweredV1 pre").inner_text()
    assert '"department": "public_security"' in example
    assert await page.locator("#departments + p, #departments ~ ul").first.is_visible()
    await page.close()
    assert blocked == []
