"""Three tiers sign a case in the browser, in order: 街道初审 (经办人, 复核人), 区级审核
(经办人, 复核人), 市级复核认定 (经办人, 复核人, 领导); a signature out of turn is refused with the
service's own message, shown on the case."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.support import Workbench, review_case, verified, window_application

pytestmark = pytest.mark.e2e

# (demo user, stage shown, signature shown, signer's name)
SIGNERS = (
    ("demo-street-clerk", "街道初审", "经办人", "林晓"),
    ("demo-street-reviewer", "街道初审", "复核人", "陈静"),
    ("demo-district-clerk", "区住房保障行政管理部门审核", "经办人", "黄磊"),
    ("demo-district-reviewer", "区住房保障行政管理部门审核", "复核人", "吴芳"),
    ("demo-city-clerk", "市住房保障管理中心复核认定", "经办人", "郑伟"),
    ("demo-city-reviewer", "市住房保障管理中心复核认定", "复核人", "王敏"),
    ("demo-city-leader", "市住房保障管理中心复核认定", "领导", "刘强"),
)
OPINION = "经核查，申请人收入、住房及户籍情况与部门核查结果一致，符合准入条件，同意。"


def sign_from_the_task_list(
    workbench: Workbench, tracking_no: str, stage: str, signature: str
) -> None:
    page = workbench.page
    page.get_by_role("menuitem", name="我的待办").click()
    row = page.get_by_test_id("task-table").get_by_role("row").filter(has_text=tracking_no)
    expect(row).to_contain_text(stage)
    expect(row).to_contain_text(signature)
    if signature == "领导":
        workbench.screenshot("review-tasks")
    row.get_by_role("link", name=tracking_no).click()
    expect(page.get_by_test_id("sign-card")).to_contain_text(f"{stage} · {signature}")
    page.get_by_label("具体审核意见").fill(OPINION)
    page.get_by_role("button", name="签字").click()
    expect(page.get_by_test_id("case-notice")).to_have_text(f"已签字：{stage} · {signature}")


def test_three_tiers_sign_in_order_and_a_signature_out_of_turn_is_refused(
    workbench: Workbench,
) -> None:
    page = workbench.page
    application = window_application(workbench.suite, name="周梅")
    task = review_case(workbench.suite, application["id"])
    verified(workbench.suite, application["id"])
    tracking_no = application["tracking_no"]

    # The street reviewer before the street handler: refused by review, message on the case.
    workbench.sign_in("demo-street-reviewer", then=f"/review/cases/{task['case_id']}")
    expect(page.get_by_test_id("current-stage")).to_have_text("街道初审")
    page.get_by_label("具体审核意见").fill(OPINION)
    page.get_by_role("button", name="签字").click()
    expect(page.get_by_test_id("sign-error")).to_have_text("须先由经办人签字，复核人不能提前签字。")
    expect(page.get_by_test_id("signature-table")).to_contain_text("尚无签字")
    workbench.screenshot("review-case-refused")

    for user, stage, signature, _ in SIGNERS:
        workbench.sign_in(user)
        sign_from_the_task_list(workbench, tracking_no, stage, signature)

    # Every signature in order, and the case out of review (to publicity).
    rows = page.get_by_test_id("signature-table").locator("tbody tr")
    expect(rows).to_have_count(len(SIGNERS))
    for n, (_, stage, signature, name) in enumerate(SIGNERS):
        cells = rows.nth(n).locator("td")
        expect(cells.nth(0)).to_have_text(str(n + 1))
        expect(cells.nth(1)).to_have_text(stage)
        expect(cells.nth(2)).to_have_text(signature)
        expect(cells.nth(3)).to_have_text(name)
        expect(cells.nth(5)).to_have_text("同意")
        expect(cells.nth(6)).to_have_text(OPINION)
    expect(page.get_by_test_id("case-status")).not_to_have_text("审核中")
    expect(page.get_by_test_id("sign-card")).to_have_count(0)
    workbench.screenshot("review-case-signed")
