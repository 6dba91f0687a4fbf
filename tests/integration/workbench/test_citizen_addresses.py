"""Through the workbench every citizen keeps a rate-limit bucket of their own: the workbench
passes the browser's address on as X-Forwarded-For, and publication (served as uvicorn serves it,
believing that header only from ``forwarded_allow_ips``) counts the progress queries of that
address. The same header from anyone else is ignored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from services.workbench.bootstrap import create_app
from services.workbench.settings import WorkbenchSettings
from tests.conftest import Infra
from tests.services import running_service

pytestmark = pytest.mark.integration

PROGRESS = "/public/progress"
QUERY = {"tracking_no": "SQ350200-20260101-000001", "id_tail": "1234"}
BURST = 10  # publication's default progress_burst


@dataclass
class Bench:
    workbench: httpx.ASGITransport
    publication: object  # the ASGI app as uvicorn serves it


@pytest.fixture(scope="module")
async def bench(infra: Infra) -> AsyncIterator[Bench]:
    async with running_service(infra, "publication", system="wbip") as publication:
        assert publication.runtime.settings.forwarded_allow_ips == "127.0.0.1"
        served = ProxyHeadersMiddleware(
            publication.app, trusted_hosts=publication.runtime.settings.forwarded_allow_ips
        )
        # The workbench reaches publication from 127.0.0.1, as under the run command.
        to_publication = httpx.ASGITransport(app=served, client=("127.0.0.1", 40000))
        settings = WorkbenchSettings(
            environment="test", service_urls={"publication": "http://publication"}
        )
        app = create_app(settings, transports={"http://publication": to_publication})
        async with app.router.lifespan_context(app):
            yield Bench(app, served)  # type: ignore[arg-type]


async def citizen(bench: Bench, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=bench.workbench, client=(address, 51000))
    browser = httpx.AsyncClient(transport=transport, base_url="http://wb")
    signed = await browser.post(
        "/auth/demo-login", json={"id": "demo-applicant"}, headers={"X-CSRF-Token": "signin"}
    )
    assert signed.status_code == 200, signed.text
    return browser


async def test_each_citizen_behind_the_workbench_has_a_bucket_of_their_own(bench: Bench) -> None:
    first = await citizen(bench, "203.0.113.5")
    second = await citizen(bench, "203.0.113.6")
    try:
        # The first citizen's browser may send its own X-Forwarded-For: it is not passed on.
        spent = [
            (
                await first.get(
                    f"/api/publication{PROGRESS}",
                    params=QUERY,
                    headers={"X-Forwarded-For": "203.0.113.6"},
                )
            ).status_code
            for _ in range(BURST + 1)
        ]
        assert spent == [404] * BURST + [429]
        # The second citizen has not been charged for any of them.
        answers = [
            (await second.get(f"/api/publication{PROGRESS}", params=QUERY)).status_code
            for _ in range(BURST)
        ]
        assert answers == [404] * BURST
    finally:
        await first.aclose()
        await second.aclose()


async def test_the_header_from_an_address_not_trusted_is_ignored(bench: Bench) -> None:
    # A client reaching publication directly names a citizen's address: it is counted as itself.
    direct = httpx.ASGITransport(app=bench.publication, client=("198.51.100.7", 52000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=direct, base_url="http://publication") as client:
        answers = [
            (
                await client.get(PROGRESS, params=QUERY, headers={"X-Forwarded-For": "203.0.113.9"})
            ).status_code
            for _ in range(BURST + 1)
        ]
    assert answers == [404] * BURST + [429]
    late = await citizen(bench, "203.0.113.9")
    try:
        answer = await late.get(f"/api/publication{PROGRESS}", params=QUERY)
    finally:
        await late.aclose()
    assert answer.status_code == 404
