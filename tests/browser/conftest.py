"""Browser tests: Debian's Chromium, driven by Playwright, against the whole platform.

The eight services, the reference department simulators and the workbench run as real
processes (``simulators.local_suite``, the way the run command starts them), each on a free
port with this run's own databases and queue names. The web app is the built one the workbench
serves (``scripts/build_web.sh`` builds it when missing or stale). A failing test leaves a
screenshot of its page in ``HOUSING_BROWSER_ARTIFACTS`` (default ``.artifacts/browser/``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from simulators.local_suite import LocalSuite
from tests.browser.support import DEPARTMENTS_BY_HAND, Workbench
from tests.conftest import Infra

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("HOUSING_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("HOUSING_BROWSER_ARTIFACTS", ROOT / ".artifacts" / "browser"))
READY_WITHIN_SECONDS = 180
# Eight migrations side by side; on a shared two-core machine each can take minutes.
MIGRATE_WITHIN_SECONDS = 600


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    # The page fixture reads this in its teardown to know whether to take a screenshot.
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def built_web() -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "build_web.sh")], check=True, cwd=ROOT)


# Package scope, not session: Playwright's sync API keeps an event loop of its own running in
# this thread while it is open, and pytest-asyncio cannot run the session's loop beside it, so
# everything async after the browser tests would fail. Closed when tests/browser is done.
@pytest.fixture(scope="package")
def platform(infra: Infra, built_web: None) -> Iterator[LocalSuite]:
    suite = LocalSuite(
        prefix=f"{infra.prefix}.browser",
        amqp_url=infra.amqp_url,
        database_url=lambda name: infra.database(f"browser_{name}"),
        env={
            "HOUSING_DB_POOL_SIZE": "4",
            "HOUSING_PUBLICATION_PROVINCE_ENDPOINTS": "[]",
            "HOUSING_CONSUMER_WORKERS": "2",
        },
    )
    suite.migrate(timeout=MIGRATE_WITHIN_SECONDS)
    suite.start()
    try:
        url = suite.start_workbench()
        suite.wait_ready(timeout=READY_WITHIN_SECONDS)
        suite.wait_ready(["workbench"], timeout=READY_WITHIN_SECONDS)
        # Every department answers through the simulators except those the department-staff
        # test answers by hand in the workbench (they have "no system of their own").
        heartbeat = suite.start_departments(
            latency_ms=20, extra=["--departments", ",".join(suite_departments())]
        )
        suite.wait_departments(heartbeat)
        suite.env = {**suite.env, "WORKBENCH_URL": url}
        yield suite
    finally:
        suite.stop(timeout=20)


def suite_departments() -> list[str]:
    from shared.city import city_config

    return [d.code for d in city_config().departments if d.code not in DEPARTMENTS_BY_HAND]


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # Debian's Chromium, never a browser Playwright downloads (no internet on the intranet).
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"{request.node.name}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failed page: {shot}")


@pytest.fixture
def workbench(platform: LocalSuite, page: Page) -> Workbench:
    return Workbench(page, platform.url("workbench"), platform)
