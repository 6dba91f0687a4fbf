"""Alerting's printed documents over HTTP: the 《电子监察工作联系函》 as A4 PDF and the ticket
forms, 《红灯预警督办单》 and 《黄灯预警督办单》, as HTML and A4 PDF, with the fields Xiamen's
articles 11(1)-(3) list, read back from the PDF."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa

from services.alerting.tables import alerts
from shared.city import city_config
from shared.clock import clock
from tests.integration.alerting.builders import accepted
from tests.integration.alerting.conftest import Harness
from tests.integration.alerting.test_ticket_chain import only_ticket
from tests.printed import A4_POINTS, page_sizes, pdf_pages
from tests.services import token

pytestmark = pytest.mark.integration

CENTRE = city_config().offices.housing_centre


def _pdf_page(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert page_sizes(response.content) == {A4_POINTS}
    [text] = pdf_pages(response.content)
    return text


async def test_the_letter_and_the_red_ticket_form_print_as_a4_pdf(harness: Harness) -> None:
    street = "350212107"  # 洪塘镇, 同安区: no window of its own, the centre's is printed
    clock.set(datetime(2026, 11, 16, 1, 0, tzinfo=UTC))  # Monday 09:00 in Xiamen
    try:
        app = accepted(street, receipt_no=None)
        await harness.publish(app)
        district = token("supervisor", org="350212", sub="sup-ta")
        ticket = await only_ticket(harness, app.application_id, district)
        tid = ticket["ticket_id"]

        letter = await harness.client.get(f"/tickets/{tid}/letter.pdf", headers=district)
        text = _pdf_page(letter)
        assert f'filename="{ticket["ticket_no"]}.pdf"' in letter.headers["content-disposition"]
        assert text.splitlines()[0] == "电子监察工作联系函"
        for expected in (
            f"编号：{ticket['ticket_no']}",
            "洪塘镇：",
            "预警业务环节 申请受理",
            "预警时间 2026-11-16 09:00",
            f"申请受理编号 {app.tracking_no}",
            "督办反馈最后期限 2026-11-18 23:59",
            "出具机关：同安区住房保障行政管理部门",
            "接收单位签收：",
            "（盖章处）",
            f"地址：{CENTRE.address}",
            f"电话：{CENTRE.phone}",
        ):
            assert expected in text, expected

        form = await harness.client.get(f"/tickets/{tid}/form", headers=district)
        assert form.status_code == 200
        assert "<h1>红灯预警督办单</h1>" in form.text
        assert "<tr><th>督办单编号</th><td>" + ticket["ticket_no"] + "</td></tr>" in form.text
        text = _pdf_page(await harness.client.get(f"/tickets/{tid}/form.pdf", headers=district))
        assert text.splitlines()[0] == "红灯预警督办单"
        for expected in (
            f"编号：{ticket['ticket_no']}",
            "责任单位 洪塘镇",
            "出现红灯预警的原因",
            "处理意见",
            "出具机关：洪塘镇",
            "经办人签名：",
            "科室负责人审查：",
            "督察人员确认办结：",
            f"地址：{CENTRE.address}",
        ):
            assert expected in text, expected
        other = token("supervisor", org="350211", sub="sup-jm")
        assert (
            await harness.client.get(f"/tickets/{tid}/form.pdf", headers=other)
        ).status_code == 403
    finally:
        clock.reset()


async def test_the_yellow_ticket_form_carries_its_section_head_and_handler(
    harness: Harness,
) -> None:
    street = "350206001"  # 湖里街道, with its own acceptance window
    app = accepted(street, materials_complete=False, incomplete_reason="缺少申请表")
    await harness.publish(app)
    async with harness.alerting.runtime.engine.connect() as conn:
        alert_id = await conn.scalar(
            sa.select(alerts.c.alert_id).where(alerts.c.application_id == app.application_id)
        )
    supervisor = token("supervisor", org=street, sub="sup-hl")
    created = await harness.client.post(
        "/tickets",
        json={
            "alert_ids": [str(alert_id)],
            "responsible_section": "受理科",
            "section_head": "王科长",
            "handler": "李经办",
            "due_date": "2026-12-31",
        },
        headers=supervisor,
    )
    assert created.status_code == 201, created.text
    ticket = created.json()
    text = _pdf_page(
        await harness.client.get(f"/tickets/{ticket['ticket_id']}/form.pdf", headers=supervisor)
    )
    window = city_config().window_for(street)
    assert text.splitlines()[0] == "黄灯预警督办单"
    for expected in (
        f"编号：{ticket['ticket_no']}",
        "责任科室 受理科",
        "业务科室负责人 王科长",
        "业务经办人 李经办",
        "办理最后期限 2026-12-31",
        "出具机关：湖里街道",
        "业务科室负责人签名：",
        "预警消失确认人签名：",
        f"地址：{window.address}",
        f"电话：{window.phone}",
    ):
        assert expected in text, expected
    # A yellow ticket has no 联系函: that is for red lights only.
    letter = await harness.client.get(
        f"/tickets/{ticket['ticket_id']}/letter.pdf", headers=supervisor
    )
    assert letter.status_code == 409
