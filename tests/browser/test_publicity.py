"""Publicity in the browser, from the city clerk's notice to the investigator's conclusion: the
clerk publishes the street's qualification notice (a period under seven days refused at the
field), a citizen on a phone objects to the family's entry and gets a receipt, the district
clerk concludes the objection, and the city leader's early close asks for a real reason.

The family is set up through the services' APIs as the window and the three tiers leave it:
accepted, verified and signed by all seven, so that publication holds it as qualified."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from simulators.local_suite import LocalSuite
from tests.browser.support import (
    STREET,
    Workbench,
    choose,
    field_error,
    new_resident_id,
    review_case,
    verified,
    wait_for,
    window_application,
)
from tests.browser.test_citizen import PHONE, fits_the_phone
from tools.walkthrough_allocation import STAGES, dev_token, signer

pytestmark = pytest.mark.e2e

OPINION = "经核查，申请人收入、住房及户籍情况与部门核查结果一致，符合准入条件，同意。"
OBJECTION = "该户申请人名下在本市另有住房一套，请予核查。"
CONCLUSION = "经不动产登记部门核查，申请人名下无登记住房，异议不成立。"
DISTRICT_READER = dev_token("district_reviewer", STREET[:6], "browser-setup-district-reader")


def qualified(suite: LocalSuite, name: str) -> tuple[dict[str, Any], str]:
    """An application signed by all seven, once publication shows it qualified; and its ID."""
    resident_id = new_resident_id()
    application = window_application(suite, name=name, resident_id=resident_id)
    case_id = review_case(suite, application["id"])["case_id"]
    verified(suite, application["id"])
    with httpx.Client(base_url=suite.url("review"), timeout=30) as review:
        for stage, level, roles in STAGES:
            for role in roles:
                signed = review.post(
                    f"/cases/{case_id}/stages/{stage}/opinions",
                    json={"role": role, "decision": "approve", "opinion": OPINION},
                    headers=signer(level, role, who="browser-publicity"),
                )
                assert signed.status_code == 201, signed.text
    query = {"tracking_no": application["tracking_no"], "id_tail": resident_id[-4:]}

    def known() -> bool:
        # Publication learns the decision from review's event, a moment after the signature.
        answer = httpx.get(f"{suite.url('publication')}/public/progress", params=query, timeout=30)
        if answer.status_code == 429:
            time.sleep(float(answer.headers["Retry-After"]))
            return False
        return answer.status_code == 200 and answer.json()["stage"] == "qualified"

    wait_for(known, "the decision at publication")
    return application, resident_id


def test_a_notice_is_published_objected_to_and_the_objection_concluded(
    workbench: Workbench,
) -> None:
    page = workbench.page
    application, resident_id = qualified(workbench.suite, name="何静")
    publication = workbench.suite.url("publication")

    # The city clerk publishes the street's qualification notice; five days are refused.
    workbench.sign_in("demo-city-clerk", then="/publicity/notices")
    expect(page.get_by_role("heading", level=1)).to_have_text("公示公告")
    choose(page, "发布单位", "厦港街道")
    page.get_by_label("公示天数").fill("5")
    page.get_by_label("批次（可选）").fill(f"浏览器测试{application['tracking_no']}")
    page.get_by_role("button", name="发布", exact=True).click()
    expect(field_error(page, "公示天数")).to_have_text(
        "资格审核结果公示期不得少于7天（厦门市办法第九条第（七）项），本次为5天"
    )
    page.get_by_label("公示天数").fill("7")
    page.get_by_role("button", name="发布", exact=True).click()
    done = page.get_by_test_id("notice-done")
    expect(done).to_contain_text("已发布「")
    published = re.search(r"」(\S+)，列入 (\d+) 户，公示至 ", done.inner_text())
    assert published is not None, done.inner_text()
    notice_no, count = published.group(1), int(published.group(2))
    notices = httpx.get(f"{publication}/public/notices", params={"limit": 200}, timeout=30).json()
    notice = next(n for n in notices["items"] if n["notice_no"] == notice_no)
    entries = httpx.get(
        f"{publication}/public/notices/{notice['id']}", params={"limit": 200}, timeout=30
    ).json()["entries"]
    # Every family the street had ready, ours among them, each once.
    assert entries["total"] == count == notice["entry_count"]
    ours = [e for e in entries["items"] if e["id_masked"].endswith(resident_id[-4:])]
    assert [e["name_masked"] for e in ours] == ["何*"]
    row = page.get_by_test_id("notice-table").get_by_role("row").filter(has_text=notice_no)
    expect(row.locator("td").nth(1)).to_have_text(notice["title"])
    expect(row.locator("td").nth(2)).to_have_text("厦港街道")
    expect(row.locator("td").nth(3)).to_have_text(str(count))
    expect(row.locator("td").nth(5)).to_have_text("公示中")
    workbench.screenshot("publicity-notices")

    # A citizen on a phone objects to the family's entry.
    page.set_viewport_size(PHONE)
    workbench.sign_in("demo-applicant", then="/portal/objection")
    expect(page.get_by_role("heading", level=1)).to_have_text("对公示提出异议")
    page.get_by_role("button", name="提交异议").click()
    expect(field_error(page, "公示公告")).to_be_visible()
    # The entries are fetched once the notice is chosen; their select stays disabled until then.
    with page.expect_response(lambda r: f"/public/notices/{notice['id']}" in r.url):
        choose(page, "公示公告", f"{notice['title']}（{notice_no}）")
    expect(page.get_by_role("combobox", name="被异议的公示条目", exact=True)).to_be_enabled()
    entry = f"{ours[0]['seq']}. 何*（{ours[0]['id_masked']}，厦港街道）"
    choose(page, "被异议的公示条目", entry)
    page.get_by_label("联系电话（不公开）").fill("1390000")
    page.get_by_label("异议内容（10至2000字）").fill("有问题")
    page.get_by_role("button", name="提交异议").click()
    expect(field_error(page, "联系电话（不公开）")).to_be_visible()
    expect(field_error(page, "异议内容（10至2000字）")).to_be_visible()
    expect(page.get_by_test_id("objection-receipt")).to_have_count(0)
    page.get_by_label("联系电话（不公开）").fill("13900001111")
    page.get_by_label("异议内容（10至2000字）").fill(OBJECTION)
    page.get_by_role("button", name="提交异议").click()
    receipt = page.get_by_test_id("objection-receipt")
    expect(receipt).to_contain_text("异议已登记，编号 ")
    filed = re.search(
        r"编号 ([0-9a-f-]{36})，将于 (\d{4}-\d{2}-\d{2}) 前核查并公开结论", receipt.inner_text()
    )
    assert filed is not None, receipt.inner_text()
    objection_id, conclude_by = filed.groups()
    fits_the_phone(page)
    workbench.screenshot("citizen-objection")

    # The district clerk concludes it: the outcome must be chosen, then it is on record.
    page.set_viewport_size({"width": 1400, "height": 900})
    workbench.sign_in("demo-district-clerk", then="/publicity/objections")
    expect(page.get_by_role("heading", level=1)).to_have_text("异议核查")
    row = page.get_by_test_id("objection-table").get_by_role("row").filter(has_text=OBJECTION)
    expect(row.locator("td").nth(1)).to_have_text("厦港街道")
    expect(row.locator("td").nth(3)).to_have_text("139****1111")
    expect(row.locator("td").nth(4)).to_have_text(conclude_by)
    expect(row.locator("td").nth(5)).to_have_text("待核查")
    row.get_by_role("button", name="录入结论").click()
    dialog = page.get_by_role("dialog", name="录入异议核查结论")
    expect(dialog.get_by_test_id("chosen-objection")).to_have_text(OBJECTION)
    dialog.get_by_label("核查结论（将公开）").fill(CONCLUSION)
    dialog.get_by_role("button", name="提交结论").click()
    expect(dialog.locator(".el-form-item__error")).to_have_count(1)
    dialog.get_by_text("异议不成立", exact=True).click()
    dialog.get_by_role("button", name="提交结论").click()
    expect(page.get_by_test_id("objection-done")).to_have_text("已录入核查结论：异议不成立。")
    expect(row.locator("td").nth(5)).to_have_text("已办结")
    expect(row.locator("td").nth(6)).to_have_text(f"异议不成立：{CONCLUSION}")
    workbench.screenshot("publicity-objections")
    public = httpx.get(f"{publication}/public/objections/{objection_id}", timeout=30).json()
    assert (public["status"], public["outcome"], public["conclusion"]) == (
        "concluded",
        "dismissed",
        CONCLUSION,
    )
    staff = httpx.get(
        f"{publication}/objections",
        params={"status": "concluded", "limit": 200},
        headers=DISTRICT_READER,
        timeout=30,
    ).json()
    assert [
        (o["application_id"], o["content"], o["contact_masked"])
        for o in staff["items"]
        if o["objection_id"] == objection_id
    ] == [(application["id"], OBJECTION, "139****1111")]

    # The city leader may close it early, but only with a reason publication accepts.
    workbench.sign_in("demo-city-leader", then="/publicity/notices")
    row = page.get_by_test_id("notice-table").get_by_role("row").filter(has_text=notice_no)
    row.get_by_role("button", name="提前结束").click()
    dialog = page.get_by_role("dialog", name=f"提前结束公示 {notice_no}")
    dialog.get_by_label("提前结束的理由").fill("不")
    dialog.get_by_role("button", name="确认提前结束").click()
    expect(dialog.locator(".el-form-item__error")).to_be_visible()
    dialog.get_by_role("button", name="取消").click()
    expect(row.locator("td").nth(5)).to_have_text("公示中")
    still = httpx.get(f"{publication}/public/notices/{notice['id']}", timeout=30).json()
    assert (still["status"], still["closed_early"]) == ("open", False)
