"""A supervisor sees a red light appear once the clock passes a stage's deadline, the cockpit
drills down from the city to its ticket (region → unit → case → stage → rule → ticket), and
the responsible street handles the ticket in the workbench; the ticket then waits for its
written report to the district."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import expect

from shared.settings import SERVICES
from tests.browser.support import Workbench, review_case, verified, window_application
from tools.dev_clock import move_clocks

pytestmark = pytest.mark.e2e

R8 = "R8 环节超出规定办理时限仍未提交审核意见或完整材料"


def _move(workbench: Workbench, **change: object) -> None:
    async def move() -> None:
        clients = {
            s: httpx.AsyncClient(base_url=workbench.suite.url(s), timeout=120) for s in SERVICES
        }
        try:
            moved = await move_clocks(clients, **change)  # type: ignore[arg-type]
        finally:
            for c in clients.values():
                await c.aclose()
        assert [m.error for m in moved] == [None] * len(SERVICES), moved

    # Playwright's sync API runs an event loop in this thread: the move runs in another one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, move()).result()


def test_a_red_light_after_the_deadline_is_drilled_down_to_and_its_ticket_handled(
    workbench: Workbench,
) -> None:
    page = workbench.page
    application = window_application(workbench.suite, name="郭宁")
    review_case(workbench.suite, application["id"])
    verified(workbench.suite, application["id"])
    tracking_no = application["tracking_no"]

    # Before the deadline: no light of this case.
    workbench.sign_in("demo-supervisor", then="/supervision/alerts")
    table = page.get_by_test_id("alert-table")
    expect(table).not_to_contain_text(tracking_no)

    try:
        # 街道初审 has 15 working days: five weeks later it is past them, and review's and
        # alerting's sweeps (run by the clock move) light R8 with its red ticket.
        _move(workbench, offset=timedelta(days=35))
        page.reload()
        row = page.get_by_test_id("alert-table").get_by_role("row").filter(has_text=tracking_no)
        expect(row).to_have_count(1)
        expect(row.locator("td").nth(0)).to_have_text(f"● 红灯 {R8}")
        expect(row.locator("td").nth(2)).to_have_text("街道初审")
        expect(row.locator("td").nth(3)).to_have_text("厦港街道")
        expect(row.locator("td").nth(5)).to_have_text("未消除")
        workbench.screenshot("supervision-alerts")

        # The cockpit: city → 思明区 → 厦港街道 → the case → 街道初审 → R8 → the ticket.
        workbench.go("/cockpit")
        expect(page.get_by_test_id("crumb")).to_have_text(["厦门市"])
        workbench.screenshot("cockpit-city")
        page.get_by_test_id("unit-350203").click()
        expect(page.get_by_test_id("crumb")).to_have_text(["厦门市", "思明区"])
        page.get_by_test_id("unit-350203001").click()
        expect(page.get_by_test_id("crumb")).to_have_text(["厦门市", "思明区", "厦港街道"])
        page.get_by_test_id(f"case-{tracking_no}").click()
        expect(page.get_by_test_id("crumb")).to_have_text(
            ["厦门市", "思明区", "厦港街道", f"案件 {tracking_no}"]
        )
        page.get_by_test_id("stage-street_initial").click()
        page.get_by_test_id("rule-R8").click()
        expect(page.get_by_test_id("crumb")).to_have_text(
            ["厦门市", "思明区", "厦港街道", f"案件 {tracking_no}", "环节 街道初审", "规则 R8"]
        )
        tickets = page.get_by_test_id("cockpit-tickets-table").locator("tbody tr")
        expect(tickets).to_have_count(1)
        expect(tickets.locator("td").nth(1)).to_have_text("红灯 R8")
        expect(tickets.locator("td").nth(2)).to_have_text("待办理（当日办结）")
        workbench.screenshot("cockpit-case")
        tickets.get_by_role("link").click()
        expect(page.get_by_test_id("ticket-step")).to_have_text("待办理（当日办结）")
        ticket_url = page.url

        # The street handles it: cause, handling opinion, who, and the cause's kind.
        workbench.sign_in("demo-street-clerk")
        page.goto(ticket_url)
        page.get_by_label("出现预警的原因").fill("经办人员休假，案件未及时移交")
        page.get_by_label("处理意见").fill("已指定专人接办，三个工作日内完成初审")
        page.get_by_text("人为因素", exact=True).click()
        page.get_by_label("业务科室负责人").fill("陈科长")
        page.get_by_label("业务经办人").fill("林经办")
        page.get_by_test_id("handle-submit").click()
        expect(page.get_by_test_id("ticket-done")).to_contain_text("已提交办理结果")
        expect(page.get_by_test_id("ticket-step")).to_have_text("待向区级书面报告")
        fields = page.get_by_test_id("ticket-fields")
        expect(fields).to_contain_text("经办人员休假，案件未及时移交")
        expect(fields).to_contain_text("人为因素")
        workbench.screenshot("supervision-ticket")
    finally:
        _move(workbench, reset=True)
