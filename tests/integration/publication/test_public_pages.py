"""The citizen's pages: Chinese error pages for browsers (problem+json for API clients), the
objection form of the notice page (no script, no API path shown, the same rules and limits as
the API), the progress page's steps and missing materials, and the card layout of wide tables
on a 375 px phone screen in Debian's Chromium with JavaScript off."""

from __future__ import annotations

import re
import shutil
import uuid
from datetime import date, timedelta
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from playwright.async_api import Route, async_playwright

from services.publication.tables import objections
from shared.clock import now
from shared.events.catalogue import ApplicationSupplementRequested, MissingItem
from tests.examples import resident_id
from tests.integration.publication.conftest import (
    Stack,
    accepted,
    publish_and_wait,
    qualified,
    serving,
)
from tests.services import token

pytestmark = pytest.mark.integration

CLERK = token("city_clerk", org="350200", sub="clerk-pages")
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FORM = {"Content-Type": "application/x-www-form-urlencoded", **BROWSER}
CHROMIUM = "/usr/bin/chromium"


async def open_notice(stack: Stack, tracking_no: str, street: str) -> tuple[str, str]:
    """An open qualification notice with one entry (the family of ``tracking_no``); each
    test its own street of 同安区, which no other test of the package uses."""
    event = accepted(tracking_no, street=street)
    await publish_and_wait(stack, event, stage="accepted")
    await publish_and_wait(stack, qualified(event), stage="qualified")
    created = await stack.svc.client.post(
        "/notices",
        json={"kind": "qualification", "unit": street, "batch": tracking_no, "days": 7},
        headers=CLERK,
    )
    assert created.status_code == 201, created.text
    notice = created.json()["id"]
    detail = (await stack.svc.client.get(f"/public/notices/{notice}")).json()
    return notice, detail["entries"]["items"][0]["entry_id"]


async def objection_count(stack: Stack, notice_id: str) -> int:
    async with stack.svc.runtime.engine.connect() as conn:
        return int(
            await conn.scalar(
                sa.select(sa.func.count())
                .select_from(objections)
                .where(objections.c.notice_id == uuid.UUID(notice_id))
            )
            or 0
        )


async def test_browsers_get_chinese_error_pages_and_api_clients_problem_json(
    stack: Stack,
) -> None:
    cases = [
        (f"/public/pages/notices/{uuid.uuid4()}", 404, "公示不存在或尚未发布"),
        ("/public/pages/notices/12345", 422, "链接中的编号不完整或格式不正确"),
        ("/public/pages/disclosures/no_such_section", 404, "没有该公开栏目"),
        (f"/public/pages/lottery/{uuid.uuid4()}", 404, "摇号批次不存在或尚未公布"),
        (f"/public/pages/objections/{uuid.uuid4()}", 404, "异议不存在"),
        ("/public/pages/no-such-page", 404, "没有这个页面"),
        # An API address opened in a browser (an old link) is a page too.
        (f"/public/notices/{uuid.uuid4()}", 404, "公示不存在或尚未发布"),
        ("/public/notices/not-an-id", 422, "链接中的编号不完整或格式不正确"),
    ]
    for path, status, text in cases:
        page = await stack.svc.client.get(path, headers=BROWSER)
        assert page.status_code == status, (path, page.text)
        assert page.headers["content-type"].startswith("text/html"), path
        assert text in page.text, path
        assert "返回信息公开首页" in page.text and '"type"' not in page.text, path
        # The same address for an API client: the problem document, unchanged.
        api = await stack.svc.client.get(path)
        assert api.status_code == status, path
        assert api.headers["content-type"] == "application/problem+json", path
        assert api.json()["status"] == status
    as_json = await stack.svc.client.get(
        f"/public/pages/notices/{uuid.uuid4()}", headers={"Accept": "application/json"}
    )
    assert as_json.headers["content-type"] == "application/problem+json"


async def test_the_objection_form_files_once_and_shows_errors_in_chinese(stack: Stack) -> None:
    notice_id, entry_id = await open_notice(stack, "PAGE-0001", "350212001")
    page = await stack.svc.client.get(f"/public/pages/notices/{notice_id}", headers=BROWSER)
    assert page.status_code == 200
    html = page.text
    # A real form posting to the page's own handler; no API path or method shown to citizens.
    assert f'action="/public/pages/notices/{notice_id}/objections#objection"' in html
    assert f'<option value="{entry_id}">1号' in html
    assert "/public/objections" not in html and "POST" not in html
    form_key = re.search(r'name="form_key" value="([0-9a-f-]{36})"', html)
    assert form_key is not None
    url = f"/public/pages/notices/{notice_id}/objections"

    async with stack.client("10.7.0.1") as client:
        wrong = await client.post(
            url,
            content=urlencode({"entry_id": entry_id, "contact": "123", "content": "太短"}),
            headers=FORM,
        )
        assert wrong.status_code == 422, wrong.text
        assert "请填写11位手机号码，便于核查人员联系您（不公开）" in wrong.text
        assert "异议内容应为10至2000个字" in wrong.text
        assert "请按提示修改后重新提交" in wrong.text
        assert f'<option value="{entry_id}" selected>' in wrong.text  # the form keeps its values
        assert await objection_count(stack, notice_id) == 0

        other = await client.post(
            url,
            content=urlencode(
                {"entry_id": str(uuid.uuid4()), "contact": "13900001111", "content": "x" * 20}
            ),
            headers=FORM,
        )
        assert other.status_code == 422 and "该公示中没有此条目" in other.text

        body = urlencode(
            {
                "entry_id": entry_id,
                "contact": "13900001111",
                "content": f"该户在本市另有住房，申请人身份证{resident_id()}。",
                "form_key": form_key.group(1),
            }
        )
        filed = await client.post(url, content=body, headers=FORM)
        assert filed.status_code == 303, filed.text
        location = filed.headers["location"]
        assert re.fullmatch(r"/public/pages/objections/[0-9a-f-]{36}\?filed=1#receipt", location)
        # Pressed twice (or reloaded): the same objection, not a second one.
        again = await client.post(url, content=body, headers=FORM)
        assert again.status_code == 303 and again.headers["location"] == location
        assert await objection_count(stack, notice_id) == 1

        receipt = await client.get(location, headers=BROWSER)
        assert receipt.status_code == 200
        assert "您的异议已提交" in receipt.text and "核查中" in receipt.text
        assert "核查办结期限：" in receipt.text and "年" in receipt.text
        assert "13900001111" not in receipt.text and resident_id() not in receipt.text

        # The filing rate limit of the API holds for the form: the burst per address counts
        # every filing that passed the form's own checks (the unknown entry, the filing and
        # its replay above), then the page answers 429 with Retry-After.
        burst = stack.config.objection_burst
        for n in range(burst - 3):
            more = await client.post(
                url,
                content=urlencode(
                    {
                        "entry_id": entry_id,
                        "contact": f"1390000200{n}",
                        "content": "另一件异议：该户另有商铺。",
                    }
                ),
                headers=FORM,
            )
            assert more.status_code == 303, more.text
        limited = await client.post(
            url,
            content=urlencode(
                {"entry_id": entry_id, "contact": "13900002999", "content": "再次提出的异议内容。"}
            ),
            headers=FORM,
        )
        assert limited.status_code == 429, limited.text
        assert int(limited.headers["Retry-After"]) >= 1
        assert "秒后再试" in limited.text
    assert await objection_count(stack, notice_id) == 1 + burst - 3


async def test_the_per_contact_cap_is_shown_on_the_form(stack: Stack) -> None:
    notice_id, entry_id = await open_notice(stack, "PAGE-0002", "350212002")
    cap = stack.config.objections_per_contact_per_notice
    url = f"/public/pages/notices/{notice_id}/objections"
    for n in range(cap + 1):
        async with stack.client(f"10.7.1.{n + 1}") as client:
            answer = await client.post(
                url,
                content=urlencode(
                    {
                        "entry_id": entry_id,
                        "contact": "13900003333",
                        "content": f"第{n}件异议：该户另有住房。",
                    }
                ),
                headers=FORM,
            )
        if n < cap:
            assert answer.status_code == 303, answer.text
    assert answer.status_code == 409
    assert f"同一联系电话对本公示提出的异议已达上限（{cap}件）" in answer.text
    assert await objection_count(stack, notice_id) == cap


async def test_progress_page_lists_every_step_and_the_missing_materials(stack: Stack) -> None:
    event = accepted("PAGE-0003")
    await publish_and_wait(stack, event, stage="accepted")
    deadline = date.today() + timedelta(days=10)
    await publish_and_wait(
        stack,
        ApplicationSupplementRequested(
            application_id=event.application_id,
            tracking_no=event.tracking_no,
            notice_no="BJ-2026-000123",
            items=[
                MissingItem(code="household_register", name="户口簿", note="缺户主页"),
                MissingItem(code="income_proof", name="收入证明"),
            ],
            deadline=deadline,
            requested_by="clerk-1",
            requested_at=now(),
        ),
        stage="supplement",
    )
    tail = resident_id()[-4:]
    query = f"tracking_no=PAGE-0003&id_tail={tail}"
    async with stack.client("10.7.2.1") as client:
        api = (await client.get(f"/public/progress?{query}")).json()
        page = await client.get(f"/public/pages/progress?{query}", headers=BROWSER)
    assert api["missing_materials"] == ["户口簿", "收入证明"]
    assert api["supplement_deadline"] == deadline.isoformat()
    assert [(s["title"], s["state"]) for s in api["steps"]][:3] == [
        ("提交申请", "done"),
        ("街道受理", "current"),
        ("部门联合核查", "todo"),
    ]
    assert len(api["steps"]) == 9
    html = page.text
    assert f"{deadline.year}年{deadline.month}月{deadline.day}日" in html
    assert "<li>户口簿</li>" in html and "<li>收入证明</li>" in html
    assert "缺户主页" not in html  # the item's note may describe the family's papers
    assert '<li class="current" aria-current="step">街道受理（当前环节）</li>' in html
    assert html.count('class="todo"') == 7


CELLS = "cells => cells.map(c => [getComputedStyle(c).display, c.getBoundingClientRect().width])"


async def test_on_a_phone_without_javascript_the_notice_reads_as_cards_and_takes_an_objection(
    stack: Stack,
) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Debian's chromium is needed: apt-get install -y chromium fonts-noto-cjk")
    notice_id, entry_id = await open_notice(stack, "PAGE-0004", "350212105")
    # As behind a proxy that sets X-Forwarded-For (the rate limit's address).
    served = serving(stack.svc.app, proxy_headers=True, forwarded_allow_ips="127.0.0.1")
    async with served as base, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        outside: list[str] = []

        async def loopback_only(route: Route) -> None:
            if route.request.url.startswith(base):
                await route.continue_()
            else:
                outside.append(route.request.url)
                await route.abort()

        try:
            phone = await browser.new_context(
                viewport={"width": 375, "height": 800},
                java_script_enabled=False,
                extra_http_headers={"X-Forwarded-For": "10.7.9.9"},
            )
            page = await phone.new_page()
            await page.route("**/*", loopback_only)
            await page.goto(f"{base}/public/pages/notices/{notice_id}")
            # The seven columns as a card: every cell a labelled full-width line.
            cells = await page.eval_on_selector_all("table.cards td:not(.empty)", CELLS)
            assert len(cells) == 7
            assert {display for display, _ in cells} == {"block"}
            assert min(width for _, width in cells) >= 250, cells
            label = await page.eval_on_selector(
                "table.cards td", "c => getComputedStyle(c, '::before').content"
            )
            assert label == '"序号"'
            assert await page.evaluate("document.documentElement.scrollWidth") <= 375

            # The form, as a citizen fills it: a number the server refuses, then a good one.
            await page.select_option("#entry_id", entry_id)
            await page.fill("#contact", "12345678901")
            await page.fill("#content", "该户家庭成员名下另有商铺一间，请核查。")
            await page.click("button[type=submit]")
            assert "请填写11位手机号码，便于核查人员联系您（不公开）" in await page.content()
            assert await page.input_value("#content") == "该户家庭成员名下另有商铺一间，请核查。"
            await page.fill("#contact", "13900004444")
            await page.click("button[type=submit]")
            assert re.search(r"/public/pages/objections/[0-9a-f-]{36}\?filed=1#receipt$", page.url)
            text = await page.inner_text("main")
            assert "您的异议已提交" in text and "核查中" in text
            assert "13900004444" not in await page.content()

            # An unknown notice in the browser is a Chinese page.
            missing = await page.goto(f"{base}/public/pages/notices/{uuid.uuid4()}")
            assert missing is not None and missing.status == 404
            assert "未找到您要查看的内容" in await page.inner_text("main")
            assert outside == []  # nothing but the service itself was asked for

            desktop = await browser.new_page(viewport={"width": 1024, "height": 800})
            await desktop.goto(f"{base}/public/pages/notices/{notice_id}")
            cells = await desktop.eval_on_selector_all("table.cards td", CELLS)
            assert {display for display, _ in cells} == {"table-cell"}
        finally:
            await browser.close()
    assert await objection_count(stack, notice_id) == 1
