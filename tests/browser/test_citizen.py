"""The citizen portal on a phone (390 px): an online application in steps, saved on the server
half-way and resumed after leaving, submitted, a material uploaded, and the progress followed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import (
    PDF,
    Workbench,
    choose,
    field_error,
    new_resident_id,
    with_wrong_check_char,
)

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def next_step(page: Page, title: str) -> None:
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_test_id("step-title")).to_contain_text(title)


def fits_the_phone(page: Page) -> None:
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_citizen_applies_online_resumes_the_draft_and_follows_the_progress(
    workbench: Workbench,
) -> None:
    page = workbench.page
    page.set_viewport_size(PHONE)
    workbench.sign_in("demo-applicant", then="/portal/apply")
    resident_id = new_resident_id()

    # Step 1: the household, with the API's checks at the field before anything is sent.
    expect(page.get_by_role("heading", level=1)).to_have_text("网上申请公共租赁住房")
    expect(page.get_by_test_id("step-title")).to_have_text("第 1 步（共 5 步）：家庭基本信息")
    page.get_by_role("button", name="下一步").click()
    expect(page.locator(".el-form-item__error", has_text="请选择申请类别")).to_be_visible()
    expect(page.get_by_test_id("step-title")).to_contain_text("家庭基本信息")
    choose(page, "申请类别", "新就业无房职工")
    choose(page, "受理街道（镇）", "厦港街道")
    page.get_by_label("联系手机").fill("1391234")
    page.get_by_label("联系手机").press("Tab")
    expect(page.get_by_text("手机号码长度应为11位")).to_be_visible()
    page.get_by_label("联系手机").fill("13912345678")
    fits_the_phone(page)
    next_step(page, "家庭成员")

    # Step 2: the members.
    page.get_by_label("姓名").fill("李明")
    page.get_by_label("身份证号码").fill(with_wrong_check_char(resident_id))
    page.get_by_label("身份证号码").press("Tab")
    expect(page.get_by_text("身份证号码校验位错误")).to_be_visible()
    page.get_by_label("身份证号码").fill(resident_id)
    page.get_by_label("工作单位").fill("厦门软件园某科技有限公司")
    next_step(page, "收入与住房情况")
    expect(page.get_by_test_id("draft-saved")).to_contain_text("保存")

    # Leave, sign out, come back: the draft is on the server, where it was left.
    page.get_by_role("menuitem", name="我的申请").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("我的申请")
    workbench.sign_in("demo-applicant", then="/portal/apply")
    expect(page.get_by_test_id("draft-resumed")).to_contain_text("已恢复您于")
    expect(page.get_by_test_id("step-title")).to_have_text("第 3 步（共 5 步）：收入与住房情况")
    page.get_by_role("button", name="上一步").click()
    expect(page.get_by_label("姓名")).to_have_value("李明")
    expect(page.get_by_label("身份证号码")).to_have_value(resident_id)
    next_step(page, "收入与住房情况")

    # Step 3: income and housing; steps 4 and 5: the materials to prepare, review and pledge.
    page.get_by_label("申报月收入（元）").fill("5200")
    page.get_by_label("现住房地址").fill("厦门市思明区厦港街道沙坡尾1号")
    next_step(page, "申请材料清单")
    expect(page.get_by_test_id("required-materials")).to_contain_text("居民身份证")
    next_step(page, "确认并提交")
    review = page.get_by_test_id("review")
    expect(review).to_contain_text("新就业无房职工")
    expect(review).to_contain_text("厦港街道")
    expect(review).to_contain_text("李明，申请人本人，月收入 5200 元")
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_text("未签署守信承诺书，不能提交申请")).to_be_visible()
    page.get_by_text("本人承诺所填信息真实完整，同意签署《守信承诺书》").click()
    expect(
        page.get_by_role("checkbox", name="本人承诺所填信息真实完整，同意签署《守信承诺书》")
    ).to_be_checked()
    expect(page.get_by_text("未签署守信承诺书，不能提交申请")).to_be_hidden()
    expect(page.get_by_test_id("form-error")).to_be_hidden()
    fits_the_phone(page)
    workbench.screenshot("citizen-apply")
    page.get_by_role("button", name="提交申请").click()

    # The submitted application: upload a material, follow the progress.
    created = page.get_by_test_id("created-note")
    expect(created).to_contain_text("申请已提交，申请编号 SQ350200-")
    tracking_no = re.search(r"SQ350200-\d{8}-\d{6}", created.inner_text())
    assert tracking_no is not None
    expect(page.get_by_role("heading", level=1)).to_have_text(f"申请进度：{tracking_no.group(0)}")
    expect(page.get_by_test_id("portal-status")).to_have_text("已提交，待受理")
    page.get_by_test_id("upload-id_card").set_input_files(
        {"name": "身份证.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    expect(page.get_by_test_id("materials-list")).to_contain_text("已上传：身份证.pdf")
    expect(page.get_by_text("重新上传")).to_have_count(1)
    # Publication's progress (stage and steps) follows intake's event within moments.
    expect(page.get_by_test_id("progress-stage")).to_have_text("已提交，待受理", timeout=30_000)
    steps = page.get_by_test_id("progress-steps")
    expect(steps.get_by_role("listitem").first).to_have_text("提交申请已完成")
    expect(steps.get_by_role("listitem").nth(1)).to_have_text("街道受理办理中")
    fits_the_phone(page)
    workbench.screenshot("citizen-progress")

    # 我的申请 lists it; the draft went with the submission.
    page.get_by_role("menuitem", name="我的申请").click()
    expect(page.get_by_test_id("my-applications")).to_contain_text(tracking_no.group(0))
    expect(page.get_by_test_id("my-applications")).to_contain_text("已提交，待受理")
    response = page.request.get(f"{workbench.url}/api/intake/portal/draft")
    assert response.status == 404


def test_a_citizen_files_an_anonymous_complaint_and_can_look_it_up_with_the_code_shown_once(
    workbench: Workbench,
) -> None:
    page = workbench.page
    page.set_viewport_size(PHONE)
    workbench.sign_in("demo-applicant", then="/portal/complaint")
    expect(page.get_by_role("heading", level=1)).to_have_text("投诉举报")

    # Sent empty: alerting's refusal is shown at the two fields it names, nothing is filed.
    page.get_by_role("button", name="提交").click()
    for label in ("被投诉举报对象", "具体情况"):
        expect(field_error(page, label)).to_have_text("长度不足")
    expect(page.get_by_test_id("complaint-receipt")).to_have_count(0)

    page.get_by_label("被投诉举报对象").fill("某公租房小区3号楼1502室承租人")
    page.get_by_label("具体情况").fill("该房屋近三个月由陌生人居住，疑似转租。")
    page.get_by_role("button", name="提交").click()
    receipt = page.get_by_test_id("complaint-receipt")
    expect(receipt).to_contain_text("已受理，编号 TS-")
    filed = re.search(r"编号 (TS-\d{8}-\d{6})，查询码 (\S+?)（", receipt.inner_text())
    assert filed is not None, receipt.inner_text()
    fits_the_phone(page)

    # The number and code are what alerting keeps: the public lookup answers with them.
    number, code = filed.groups()
    looked_up = page.request.get(
        f"{workbench.url}/api/alerting/public/complaints/{number}", params={"check_code": code}
    )
    assert looked_up.status == 200, looked_up.text()
    answer = looked_up.json()
    assert (answer["complaint_no"], answer["kind"], answer["status"]) == (number, "sublet", "open")
