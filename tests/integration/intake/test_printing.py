"""The receipt (受理回执) and the supplement notice (补件通知单) as the window prints them: HTML and
A4 PDF over HTTP, for the applicant and staff within jurisdiction, audited for staff, with no
personal data in the logs."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from shared.audit import audit_log
from shared.city import CORE_MATERIALS, city_config
from tests.integration.intake.test_workflow import (
    APPLICANT,
    CLERK,
    OTHER_STREET_CLERK,
    PDF,
    new_application,
    upload,
)
from tests.printed import A4_POINTS, page_sizes, pdf_pages
from tests.services import RunningService

pytestmark = pytest.mark.integration

WINDOW = city_config().window_for("350203001")


async def _reads(svc: RunningService, app_id: str, what: str) -> int:
    async with svc.runtime.engine.connect() as conn:
        return int(
            await conn.scalar(
                sa.select(sa.func.count())
                .select_from(audit_log)
                .where(
                    audit_log.c.subject_id == app_id,
                    audit_log.c.action == "personal_data.read",
                    audit_log.c.details["what"].astext == what,
                )
            )
        )


async def test_the_receipt_prints_as_html_and_a4_pdf_for_applicant_and_clerk(
    intake: RunningService, capfd: pytest.CaptureFixture[str]
) -> None:
    app = await new_application(intake)
    base = f"/applications/{app['id']}/receipt"
    not_yet = await intake.client.get(base, headers=CLERK)
    assert not_yet.status_code == 404
    assert not_yet.json()["detail"] == "该申请尚未受理，没有受理回执"
    for code in CORE_MATERIALS:
        assert (await upload(intake, app["id"], code, PDF + code.encode())).status_code == 201
    accepted = await intake.client.post(f"/applications/{app['id']}/accept", json={}, headers=CLERK)
    assert accepted.status_code == 201, accepted.text
    receipt_no = accepted.json()["receipt_no"]
    capfd.readouterr()

    page = await intake.client.get(base, headers=APPLICANT)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-store"
    assert "<h1>受理回执</h1>" in page.text
    assert f"编号：{receipt_no}" in page.text

    pdf = await intake.client.get(f"{base}.pdf", headers=CLERK)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == (
        f'inline; filename="{receipt_no}.pdf"; '
        f"filename*=UTF-8''{quote(f'受理回执-{receipt_no}.pdf')}"
    )
    assert page_sizes(pdf.content) == {A4_POINTS}
    [text] = pdf_pages(pdf.content)
    assert text.splitlines()[0] == "受理回执"
    for expected in (
        f"编号：{receipt_no}",
        f"申请查询编号 {app['tracking_no']}",
        "出具机关：思明区厦港街道办事处",
        "经办人 王经办",
        "张三丰",
        f"地址：{WINDOW.address}",
        f"电话：{WINDOW.phone}",
        "申请人签收：",
    ):
        assert expected in text, expected
    for n, code in enumerate(CORE_MATERIALS, start=1):
        assert f"{n} {city_config().material(code).name} 1" in text
    assert "尚缺材料" not in text
    # The clerk's read is audited; the applicant reading their own receipt is not.
    assert await _reads(intake, app["id"], "acceptance_receipt.read") == 1
    logged = capfd.readouterr()
    assert "张三丰" not in logged.out + logged.err

    other = await intake.client.get(f"{base}.pdf", headers=OTHER_STREET_CLERK)
    assert other.status_code == 403
    unknown = await intake.client.get(f"/applications/{uuid.uuid4()}/receipt.pdf", headers=CLERK)
    assert unknown.status_code == 404


async def test_the_supplement_notice_prints_as_a4_pdf_with_its_items(
    intake: RunningService,
) -> None:
    app = await new_application(intake)
    items = [{"code": code} for code in CORE_MATERIALS]
    items[1]["note"] = "首页及本人页"
    created = await intake.client.post(
        f"/applications/{app['id']}/supplement-notice", json={"items": items}, headers=CLERK
    )
    assert created.status_code == 201, created.text
    notice = created.json()

    html = await intake.client.get(notice["url"], headers=APPLICANT)
    assert html.status_code == 200 and "<h1>补件通知单</h1>" in html.text

    pdf = await intake.client.get(f"{notice['url']}.pdf", headers=CLERK)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert f'filename="{notice["notice_no"]}.pdf"' in pdf.headers["content-disposition"]
    assert page_sizes(pdf.content) == {A4_POINTS}
    [text] = pdf_pages(pdf.content)
    assert text.splitlines()[0] == "补件通知单"
    names = [city_config().material(code).name for code in CORE_MATERIALS]
    for expected in (
        f"编号：{notice['notice_no']}",
        f"1 {names[0]}",
        f"2 {names[1]} 首页及本人页",
        f"3 {names[2]}",
        f"4 {names[3]}",
        "出具机关：思明区厦港街道办事处",
        f"地址：{WINDOW.address}",
        "申请人签收：",
    ):
        assert expected in text, expected
    assert await _reads(intake, app["id"], "supplement_notice.read") == 1
    missing = await intake.client.get(
        f"/applications/{app['id']}/supplement-notices/9.pdf", headers=CLERK
    )
    assert missing.status_code == 404
