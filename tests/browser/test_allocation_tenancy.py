"""Allocation and tenancy staff in the browser: the housing officer adds a unit to the stock,
opens a round of it, and the round walks through approval (the city leader, four eyes), the
frozen pool and the published commitment; the notary's draw is refused while the pool is open
to objection; the tenancy lease list opens.

The round's category is 外来务工人员, which no other browser test qualifies anybody in: its
pool is empty, so the published pool digest is that of the empty pool file, exactly."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from services.allocation import lottery
from tests.browser.support import Workbench, choose

pytestmark = pytest.mark.e2e

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def test_the_officer_adds_a_unit_and_walks_a_round_to_its_commitment(
    workbench: Workbench,
) -> None:
    page = workbench.page
    code = f"B{uuid.uuid4().hex[:6].upper()}-1-101"
    workbench.sign_in("demo-housing-officer", then="/allocation/stock")
    expect(page.get_by_role("heading", level=1)).to_have_text("房源")

    # A unit too small for the service: its message at the field, nothing saved.
    page.get_by_role("button", name="新增房源").click()
    dialog = page.get_by_role("dialog", name="新增房源")
    dialog.get_by_label("项目编号").fill("BT-GZF")
    dialog.get_by_label("项目名称").fill("洪茂居公租房")
    choose(page, "所在区", "思明区")
    dialog.get_by_label("楼栋").fill("1")
    dialog.get_by_label("房号").fill(code)
    dialog.get_by_label("地址").fill("厦门市思明区洪茂居1号楼101室")
    dialog.get_by_label("建筑面积（平方米）").fill("3")
    dialog.get_by_label("租金单价（元/平方米·月）").fill("12.50")
    dialog.get_by_role("button", name="保存房源").click()
    area = dialog.locator(".el-form-item").filter(has_text="建筑面积（平方米）")
    expect(area.locator(".el-form-item__error")).to_have_text("数值超出范围")
    expect(dialog.get_by_test_id("unit-error")).to_be_visible()

    dialog.get_by_label("建筑面积（平方米）").fill("38.50")
    dialog.get_by_role("button", name="保存房源").click()
    expect(page.get_by_test_id("stock-done")).to_have_text(f"已新增房源 {code}")
    row = page.get_by_test_id("unit-table").get_by_role("row").filter(has_text=code)
    cells = row.locator("td")
    expect(cells.nth(0)).to_have_text(code)
    expect(cells.nth(1)).to_have_text("洪茂居公租房")
    expect(cells.nth(3)).to_have_text("思明区")
    expect(cells.nth(5)).to_have_text("38.50")
    expect(cells.nth(9)).to_have_text("12.50")
    expect(cells.nth(10)).to_have_text("空置")

    # A round of that unit, listed at once in its first state.
    title = f"外来务工人员公租房配租第{uuid.uuid4().int % 900 + 100}批"
    page.get_by_role("menuitem", name="配租批次").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("配租批次")
    page.get_by_label("批次名称").fill(title)
    choose(page, "申请类别", "外来务工人员")
    choose(page, "批次房源", f"{code} 洪茂居公租房 38.50㎡")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="开启批次").click()
    expect(page.get_by_test_id("round-done")).to_have_text(
        f"已开启批次「{title}」，待市级领导审批。"
    )
    listed = page.get_by_test_id("round-table").get_by_role("row").filter(has_text=title)
    expect(listed.locator("td").nth(1)).to_have_text("外来务工人员")
    expect(listed.locator("td").nth(2)).to_have_text("已开启，待审批")
    expect(listed.locator("td").nth(3)).to_have_text("1")
    expect(listed.locator("td").nth(4)).to_have_text("0")
    listed.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_test_id("round-status")).to_have_text("已开启，待审批")
    expect(page.get_by_test_id("round-waiting")).to_have_text(
        "待市级领导审批（开启人不能审批本批次）。"
    )
    round_url = page.url.removeprefix(workbench.url)
    round_id = round_url.rsplit("/", 1)[1]

    # Four eyes: the city leader approves the officer's round.
    workbench.sign_in("demo-city-leader", then=round_url)
    page.get_by_role("button", name="审批通过").click()
    expect(page.get_by_test_id("round-done")).to_have_text("批次已审批。")
    expect(page.get_by_test_id("round-status")).to_have_text("已审批，待冻结名单")

    # The officer freezes the pool and publishes the commitment.
    workbench.sign_in("demo-housing-officer", then=round_url)
    page.get_by_role("button", name="冻结入围名单").click()
    expect(page.get_by_test_id("round-done")).to_have_text("入围名单已冻结并公示。")
    expect(page.get_by_test_id("round-status")).to_have_text("入围名单已冻结")
    expect(page.get_by_test_id("pool-digest")).to_have_text(lottery.digest(lottery.pool_file([])))
    expect(page.get_by_test_id("commitment")).to_have_text("尚未公布")
    page.get_by_role("button", name="公布承诺值").click()
    expect(page.get_by_test_id("round-done")).to_have_text("承诺值已公布。")
    expect(page.get_by_test_id("round-status")).to_have_text("承诺值已公布，待摇号")
    published = httpx.get(
        f"{workbench.suite.url('allocation')}/public/rounds/{round_id}", timeout=30
    ).json()
    assert HEX64.match(published["commitment"])
    expect(page.get_by_test_id("commitment")).to_have_text(published["commitment"])
    expect(page.get_by_test_id("secret")).to_have_text("摇号后公布")
    expect(page.get_by_test_id("public-lottery-link")).to_have_attribute(
        "href", f"/api/publication/public/pages/lottery/{round_id}"
    )
    workbench.screenshot("allocation-rounds")

    # The notary may not draw while the pool is open to objection: the service's refusal.
    workbench.sign_in("demo-notary", then=round_url)
    page.get_by_label("公开随机数（如当日开奖号码）").fill(f"浏览器测试 {round_id}")
    page.get_by_role("button", name="摇号").click()
    expect(page.get_by_test_id("round-error")).to_have_text(
        re.compile(r"^入围名单异议期至 .+，期满方可摇号$")
    )
    expect(page.get_by_test_id("round-status")).to_have_text("承诺值已公布，待摇号")


def test_the_officer_opens_the_tenancy_lease_list(workbench: Workbench) -> None:
    page = workbench.page
    workbench.sign_in("demo-housing-officer", then="/tenancy/leases")
    expect(page.get_by_role("heading", level=1)).to_have_text("租约")
    menu = page.get_by_role("menuitem")
    for item in ("租约", "年度复核", "入户巡查", "违规", "退出", "统计"):
        expect(menu.filter(has_text=re.compile(f"^{item}$"))).to_have_count(1)
    # No contract has been signed in this suite: the list is empty, and says so.
    expect(page.get_by_test_id("lease-table")).to_contain_text("暂无租约")
    expect(page.locator(".el-pagination__total")).to_have_text("共 0 条")
    workbench.screenshot("tenancy-leases")

    page.get_by_role("menuitem", name="统计").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("租赁统计")
    figures = page.get_by_test_id("tenancy-statistics")
    expect(figures.locator("td").nth(0)).to_have_text("履约中租约")
    expect(figures.locator("td").nth(1)).to_have_text("0")
