"""The workbench starts against the real suite: sign-in, the layout and a typed API call."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.support import Workbench

pytestmark = pytest.mark.e2e


def test_a_street_clerk_signs_in_and_sees_the_streets_applications(workbench: Workbench) -> None:
    page = workbench.page
    workbench.go("/window/applications")
    # Not signed in: the app sends the browser to the sign-in page with the demo users.
    expect(page.get_by_role("heading", level=2)).to_have_text("开发环境：选择演示账号登录")
    expect(page.get_by_test_id("demo-demo-city-leader")).to_have_text("厦门市 分管领导 · 刘强")
    workbench.screenshot("login")
    workbench.sign_in("demo-street-clerk")
    expect(page.get_by_test_id("current-user")).to_have_text("林晓")
    expect(page.get_by_role("navigation", name="主菜单")).to_contain_text("窗口申请录入")
    page.get_by_role("menuitem", name="本街道申请").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("本街道申请")
    expect(page.get_by_test_id("application-table").get_by_role("columnheader")).to_have_text(
        ["申请编号", "申请人", "身份证号", "类别", "渠道", "状态", "人数", "提交时间", "回执编号"]
    )
    # The browser holds no bearer token: only the encrypted, HttpOnly session cookie.
    cookies = page.context.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
        ("housing_wb_session", True, "Strict")
    ]
    assert "eyJ" not in page.evaluate("document.cookie + JSON.stringify(localStorage)")
