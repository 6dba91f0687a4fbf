"""The street window in the browser: a window application entered with the API's own field
checks, materials uploaded, accepted with a printed 受理回执."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.support import (
    PDF,
    Workbench,
    choose,
    new_resident_id,
    with_wrong_check_char,
)

pytestmark = pytest.mark.e2e

NEWLY_EMPLOYED_MATERIALS = (
    "id_card",
    "household_register",
    "application_form",
    "economic_verification_authorisation",
    "labour_contract",
    "graduation_certificate",
)


def enter_application(page: Page, resident_id: str, *, name: str = "王小明") -> None:
    """Fill the window form for a single newly-employed applicant and submit it."""
    page.get_by_role("menuitem", name="窗口申请录入").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("窗口申请录入")
    choose(page, "申请类别", "新就业无房职工")
    page.get_by_label("联系手机").fill("13912345678")
    page.get_by_label("姓名").fill(name)
    page.get_by_label("身份证号码").fill(resident_id)
    page.get_by_label("工作单位").fill("厦门软件园某科技有限公司")
    page.get_by_label("申报月收入（元）").fill("5200")
    page.get_by_label("现住房地址").fill("厦门市思明区厦港街道沙坡尾1号")
    page.get_by_text("申请人已在窗口签署《守信承诺书》").click()
    page.get_by_role("button", name="提交申请").click()


def test_a_window_application_is_accepted_with_a_printed_receipt(workbench: Workbench) -> None:
    page = workbench.page
    workbench.sign_in("demo-street-clerk")
    resident_id = new_resident_id()

    # The resident ID check of the API, made at the field before anything is sent.
    page.get_by_role("menuitem", name="窗口申请录入").click()
    page.get_by_label("身份证号码").fill(with_wrong_check_char(resident_id))
    page.get_by_label("姓名").focus()
    expect(page.get_by_text("身份证号码校验位错误")).to_be_visible()
    page.get_by_label("联系手机").fill("1391234")
    page.get_by_label("姓名").focus()
    expect(page.get_by_text("手机号码长度应为11位")).to_be_visible()

    enter_application(page, resident_id)
    created = page.get_by_test_id("created-note")
    expect(created).to_contain_text("申请已提交，申请编号 SQ350200-")
    tracking_no = re.search(r"SQ350200-\d{8}-\d{6}", created.inner_text())
    assert tracking_no is not None
    expect(page.get_by_test_id("application-status")).to_have_text("已提交，待受理")

    for code in NEWLY_EMPLOYED_MATERIALS:
        page.get_by_test_id(f"upload-{code}").set_input_files(
            {"name": f"{code}.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        expect(page.get_by_test_id("materials-table")).to_contain_text(f"{code}.pdf")

    workbench.screenshot("window-application")
    page.get_by_role("button", name="受理并出具受理回执").click()
    receipt = page.get_by_test_id("receipt")
    expect(receipt.get_by_role("heading")).to_have_text("厦门市公共租赁住房申请受理回执")
    expect(page.get_by_test_id("receipt-tracking-no")).to_have_text(tracking_no.group(0))
    expect(page.get_by_test_id("receipt-no")).to_have_text(re.compile(r"^\S+$"))
    expect(page.get_by_test_id("receipt-complete")).to_have_text("材料齐全")
    expect(page.get_by_test_id("receipt-received")).to_have_text(
        "居民身份证、居民户口簿、公共租赁住房申请表、家庭经济状况核对授权书、劳动合同、毕业证书"
    )
    expect(receipt).to_contain_text("受理人林晓")
    expect(receipt).to_contain_text("受理单位厦港街道")
    expect(receipt).to_contain_text("申请人王小明")
    workbench.screenshot("window-receipt")

    # Printing: the button opens the browser's print dialog; the printed page is the receipt
    # alone (the menu, header and buttons are screen-only).
    page.evaluate("window.__printed = 0; window.print = () => { window.__printed += 1 }")
    page.get_by_role("button", name="打印受理回执").click()
    assert page.evaluate("window.__printed") >= 1
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="打印受理回执")).to_be_hidden()
    expect(page.get_by_role("navigation", name="主菜单")).to_be_hidden()
    expect(receipt).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = page.pdf(path=str(ARTIFACTS / "receipt.pdf"), format="A4")
    assert pdf.startswith(b"%PDF")
    page.emulate_media(media="screen")

    page.get_by_role("menuitem", name="本街道申请").click()
    row = (
        page.get_by_test_id("application-table")
        .get_by_role("row")
        .filter(has_text=tracking_no.group(0))
    )
    expect(row).to_contain_text("已受理")
    expect(row).to_contain_text("王*明")
    workbench.screenshot("window-applications")
