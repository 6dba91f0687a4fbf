"""What the browser tests share: signing in as a demo user, and the department left to staff."""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from playwright.sync_api import Locator, Page, expect

from shared.auth import issue_token
from shared.city import city_config
from shared.pii import resident_id_check_char
from shared.settings import DEV_SIGNING_KEY
from simulators.local_suite import LocalSuite

T = TypeVar("T")

# The department whose staff answer in the workbench (no system of their own); the simulators
# answer every other one. 市卫生健康委员会 verifies only 低收入 families (the demo city file), so
# the other tests' newly-employed households are answered entirely by the simulators.
DEPARTMENTS_BY_HAND = ("health",)


@dataclass
class Workbench:
    page: Page
    url: str
    suite: LocalSuite

    def sign_in(self, demo_user: str, *, then: str = "/") -> None:
        """Sign in on the development sign-in page as ``demo_user`` (its id, demo-...)."""
        page = self.page
        # Off the app first: a request of the old page answered 401 after the cookie is gone
        # would send it to the sign-in page on its own, in the middle of this navigation.
        page.goto("about:blank")
        page.context.clear_cookies()
        page.goto(f"{self.url}/login?return_to={then}")
        page.get_by_test_id(f"demo-{demo_user}").click()
        expect(page.get_by_test_id("current-user")).to_be_visible()
        if then != "/":
            expect(page).to_have_url(re.compile(re.escape(self.url + then.split("?")[0])))

    def go(self, path: str) -> None:
        self.page.goto(self.url + path)

    def screenshot(self, name: str) -> None:
        """Save the page as docs/screenshots/<name>.png when HOUSING_SCREENSHOTS names that
        folder (the README's screenshots are taken by these tests: HOUSING_SCREENSHOTS=
        docs/screenshots scripts/test.sh tests/browser); otherwise nothing."""
        folder = os.environ.get("HOUSING_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.page.wait_for_load_state("networkidle")
            self.page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


_serial = itertools.count(int(time.time()) % 500)


def new_resident_id() -> str:
    """A valid resident ID (思明区, born 1985-1994) not used before in this run."""
    n = next(_serial)
    born = date(1985, 1, 1) + timedelta(days=(n * 37) % 3650)
    first17 = f"350203{born:%Y%m%d}{n % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def with_wrong_check_char(resident_id: str) -> str:
    last = resident_id[-1]
    return resident_id[:-1] + ("1" if last != "1" else "2")


# What a street window scans: any bytes of an accepted type (intake keeps them as received).
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def choose(page: Page, label: str, option: str) -> None:
    """Pick ``option`` of the Element Plus select labelled ``label``, from the keyboard (the
    select opens with Enter, as a clerk without a mouse would open it)."""
    select = page.get_by_role("combobox", name=label, exact=True)
    select.focus()
    page.keyboard.press("Enter")
    expect(select).to_have_attribute("aria-expanded", "true")
    page.get_by_role("option", name=option, exact=True).click()


def field_error(page: Page, label: str) -> Locator:
    """The error line of the Element Plus form item labelled ``label``."""
    item = page.locator(".el-form-item", has=page.get_by_text(label, exact=True))
    return item.locator(".el-form-item__error")


def _token(role: str, org: str, sub: str) -> dict[str, str]:
    jwt = issue_token(sub=sub, name="测试准备", roles=[role], org=org, key=DEV_SIGNING_KEY)
    return {"Authorization": f"Bearer {jwt}"}


STREET = "350203001"  # 厦港街道: the demo users' street
CLERK = _token("street_clerk", STREET, "browser-setup-clerk")


def window_application(
    suite: LocalSuite,
    *,
    category: str = "newly_employed",
    name: str = "孙立",
    resident_id: str | None = None,
) -> dict[str, Any]:
    """An application of one person at the demo street, materials uploaded and accepted,
    through intake's API (the set-up of tests about what comes after the window)."""
    intake = suite.url("intake")
    body = {
        "category": category,
        "street": STREET,
        "channel": "window",
        "mobile": "13712345678",
        "members": [
            {
                "name": name,
                "resident_id": resident_id or new_resident_id(),
                "relationship": "applicant",
                "marital_status": "unmarried",
                "hukou_division": STREET[:6],
                "residence_permit": False,
                "employer": "厦门某某有限公司",
                "declared_monthly_income": "3200.00",
                "declared_financial_assets": "10000.00",
                "declared_vehicle_count": 0,
                "declared_vehicle_value": "0",
            }
        ],
        "housing": {"address": "厦门市思明区某某路1号", "area_m2": "0", "tenure": "private_rental"},
        "pledge": {"version": "2026.1", "signed_at": datetime.now(UTC).isoformat()},
    }
    with httpx.Client(base_url=intake, headers=CLERK, timeout=30) as http:
        created = http.post("/applications", json=body)
        assert created.status_code == 201, created.text
        application = created.json()
        for code in city_config().category(category).required_materials:
            uploaded = http.post(
                f"/applications/{application['id']}/materials",
                params={"material_type": code, "file_name": f"{code}.pdf"},
                content=PDF,
                headers={"Content-Type": "application/pdf"},
            )
            assert uploaded.status_code == 201, uploaded.text
        accepted = http.post(f"/applications/{application['id']}/accept", json={})
        assert accepted.status_code == 201, accepted.text
    return application


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 90.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.5)


def review_case(suite: LocalSuite, application_id: str) -> dict[str, Any]:
    """The review case of an accepted application, once review opened it."""
    with httpx.Client(base_url=suite.url("review"), headers=CLERK, timeout=30) as http:

        def opened() -> dict[str, Any] | None:
            tasks = http.get("/tasks", params={"limit": 200}).json()["items"]
            return next((t for t in tasks if t["application_id"] == application_id), None)

        return wait_for(opened, "the review case")


def verified(suite: LocalSuite, application_id: str) -> dict[str, Any]:
    """The completed verification of an application (the simulators answer within seconds)."""
    with httpx.Client(base_url=suite.url("verification"), headers=CLERK, timeout=30) as http:

        def completed() -> dict[str, Any] | None:
            answer = http.get(f"/verifications/{application_id}")
            view = answer.json() if answer.status_code == 200 else None
            return view if view and view["status"] == "completed" else None

        return wait_for(completed, "the completed verification")
