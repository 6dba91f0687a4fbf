"""The notice letter (告知函) printed for delivery: HTML and A4 PDF read back, only once the
letter was issued, for readers of the record, audited."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from shared.audit import audit_log
from shared.city import city_config
from tests.examples import resident_id
from tests.integration.credit.conftest import OFFICER_A, OFFICER_B, at_shanghai, family_record, step
from tests.printed import A4_POINTS, page_sizes, pdf_pages
from tests.services import RunningService, token

pytestmark = pytest.mark.integration


async def test_the_notice_letter_prints_once_issued(
    credit: RunningService, frozen_clock: Any
) -> None:
    rid = resident_id(serial="731")
    frozen_clock.set(at_shanghai("2026-11-24"))
    created = await credit.client.post(
        "/records", json=family_record(rid, severity="serious"), headers=OFFICER_A
    )
    assert created.status_code == 201, created.text
    record = created.json()
    url = f"/records/{record['id']}/notice-letter"
    assert (
        await credit.client.post(f"/records/{record['id']}/approve", json={}, headers=OFFICER_B)
    ).status_code == 200
    early = await credit.client.get(url, headers=OFFICER_A)
    assert (early.status_code, early.json()["detail"]) == (409, "该记录尚未发出告知函")

    await step(credit, record["id"], "notice_issued", document_no="GZH-2026-731")
    page = await credit.client.get(url, headers=OFFICER_A)
    assert page.status_code == 200
    assert "<h1>告知函</h1>" in page.text
    assert f"<tr><th>记录编号</th><td>{record['record_no']}</td></tr>" in page.text

    pdf = await credit.client.get(f"{url}.pdf", headers=OFFICER_B)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert 'filename="GZH-2026-731.pdf"' in pdf.headers["content-disposition"]
    assert page_sizes(pdf.content) == {A4_POINTS}
    [text] = pdf_pages(pdf.content)
    centre = city_config().offices.housing_centre
    assert text.splitlines()[0] == "告知函"
    for expected in (
        "编号：GZH-2026-731",
        f"王*明（身份证号码：3502**********{rid[-4:]}）：",
        "失信行为 隐报、瞒报、假报家庭住房",
        "认定等级 较重失信",
        "事实 申请时隐瞒名下住房一套（87.5平方米）",
        "请自收到本告知函之日起15日内予以纠正",
        "3年内不得申请保障性住房",
        "出具机关：厦门市住房保障管理中心",
        "2026年11月24日",
        "被告知人签收：",
        f"地址：{centre.address}",
        f"电话：{centre.phone}",
    ):
        assert expected in text, expected
    # The registry never holds the full name or ID, so neither can reach the paper.
    assert "王小明" not in text and rid not in text

    async with credit.runtime.engine.connect() as conn:
        reads = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(audit_log)
            .where(
                audit_log.c.action == "credit.read.credit_notice_letter",
                audit_log.c.subject_id == record["id"],
            )
        )
    assert reads == 2
    clerk = token("street_clerk", org="350203001", sub="clerk-xg")
    assert (await credit.client.get(f"{url}.pdf", headers=clerk)).status_code == 403
