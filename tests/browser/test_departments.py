"""Departments answer: the simulators answer over the department contract, and the staff of a
department without a system of its own (市卫生健康委员会 in this suite) answer in the workbench;
the street handler then sees every department's answer and the reasoned result on the case."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, expect

from shared.city import city_config
from tests.browser.support import Workbench, review_case, wait_for, window_application

pytestmark = pytest.mark.e2e


def test_a_department_answers_in_the_workbench_and_the_reviewer_sees_all_answers(
    workbench: Workbench,
) -> None:
    page = workbench.page
    # 城市中等偏下收入住房困难家庭: verified by all twelve departments, health among them.
    application = window_application(workbench.suite, category="low_income_family", name="吴桐")
    task = review_case(workbench.suite, application["id"])

    workbench.sign_in("demo-dept-health", then="/departments/requests")
    expect(page.get_by_test_id("current-user")).to_have_text("市卫生健康委员会协查员")
    expect(page.get_by_role("combobox", name="部门")).to_be_visible()
    requests = page.get_by_test_id("request-table")

    def listed() -> Locator | None:
        # The request reaches the department's list once verification has sent it.
        page.reload()
        expect(requests).to_be_visible()
        row = requests.get_by_role("row").filter(has_text="吴桐")
        return row if row.count() else None

    row = wait_for(listed, "the health request in the list", timeout=60)
    expect(row).to_contain_text("待反馈")
    expect(row).to_contain_text("准入核查")
    row.get_by_role("link", name="填写反馈").click()
    expect(page.get_by_test_id("subject-table")).to_contain_text("吴桐")
    expect(page.get_by_test_id("subject-table")).to_contain_text("申请人本人")
    workbench.screenshot("department-answer")
    page.get_by_text("查无记录（所有对象均无记录）").click()
    page.get_by_role("button", name="提交反馈").click()
    expect(page.get_by_test_id("answer-receipt")).to_have_text(
        "反馈已提交，本案部门核查已全部完成。"
    )

    # The street handler sees each department's answer, the reasons and no missing department.
    workbench.sign_in("demo-street-clerk", then=f"/review/cases/{task['case_id']}")
    expect(page.get_by_test_id("verification-status")).to_have_text("已完成")
    departments = page.get_by_test_id("department-table").locator("tbody tr")
    city = city_config()
    expect(departments).to_have_count(len(city.departments))
    health = (
        page.get_by_test_id("department-table")
        .get_by_role("row")
        .filter(has_text="市卫生健康委员会")
    )
    expect(health.locator("td").nth(1)).to_have_text("已反馈")
    expect(health.locator("td").nth(2)).to_have_text("查无记录")
    expect(health.locator("td").nth(3)).to_have_text("网页填报")
    for department in city.departments:
        answered = (
            page.get_by_test_id("department-table")
            .get_by_role("row")
            .filter(has_text=department.name)
        )
        expect(answered.locator("td").nth(1)).to_have_text("已反馈")
    reasons = page.get_by_test_id("reason-table")
    expect(reasons).to_contain_text("依据准入参数第1版核查。")
    expect(page.get_by_test_id("recommendation")).not_to_have_text("尚无")
    workbench.screenshot("review-case-verification")
