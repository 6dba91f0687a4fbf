"""Credit notices on the public pages, on the real broker and database: the announcement that
replaces an undeliverable notice letter (公告送达) and typical cases exposed (典型案例曝光),
masked on receipt; a typical case leaves when its ban is lifted, the announcement stays."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from shared.clock import now, today_shanghai
from shared.events.catalogue import CreditBanLifted, CreditCaseExposed, CreditNoticeStep
from tests.examples import resident_id
from tests.harness import publish_and_handle
from tests.integration.publication.conftest import Stack

pytestmark = pytest.mark.integration


def announcement(record_id: uuid.UUID, step: str = "public_announcement") -> CreditNoticeStep:
    today = today_shanghai()
    return CreditNoticeStep(
        record_id=record_id,
        step=step,  # type: ignore[arg-type]
        delivered=False if step == "notice_letter" else None,
        taken_by="officer-a",
        taken_at=now(),
        subject_kind="family",
        behaviour="concealed_housing",
        correction_deadline=today + timedelta(days=15) if step == "public_announcement" else None,
        # Arrives unmasked on purpose: publication masks on receipt whatever it is sent.
        subject_display="王小明",
        subject_id_masked="3502**********1234",
        announcement=(
            f"王*明（身份证号{resident_id(serial='771')}）：你在申请公共租赁住房时隐瞒名下住房，"
            "因告知函无法送达，特此公告，请于期限内到市住房保障中心说明并纠正。"
        )
        if step == "public_announcement"
        else None,
    )


def exposed(record_id: uuid.UUID) -> CreditCaseExposed:
    today = today_shanghai()
    return CreditCaseExposed(
        record_id=record_id,
        record_no="CX-20261202-AB12CD34",
        subject_kind="agency",
        subject_display="厦门某某代办咨询有限公司",
        behaviour="paid_proxy_application",
        kind_title="有偿代办公共租赁住房申请",
        severity="severe",
        summary_text="该公司以收费方式为多户家庭代办申请并伪造材料，已记入诚信档案并列入黑名单。",
        filed_on=today,
        ban_ends_on=today.replace(year=today.year + 5),
        proposed_by="officer-a",
        approved_by="leader-1",
        exposed_at=now(),
    )


async def test_announcements_and_typical_cases_are_published_masked(stack: Stack) -> None:
    svc = stack.svc
    announced_id, case_id = uuid.uuid4(), uuid.uuid4()
    # Other steps of the procedure are not public.
    await publish_and_handle(
        svc, announcement(announced_id, "notice_letter"), producer="credit", subject=announced_id
    )
    assert (await svc.client.get("/public/credit-notices")).json()["total"] == 0

    await publish_and_handle(
        svc, announcement(announced_id), producer="credit", subject=announced_id
    )
    await publish_and_handle(svc, exposed(case_id), producer="credit", subject=case_id)
    # Delivered twice: shown once.
    await publish_and_handle(svc, exposed(case_id), producer="credit", subject=case_id)

    listed = (await svc.client.get("/public/credit-notices")).json()
    assert listed["total"] == 2
    by_kind = {item["kind"]: item for item in listed["items"]}
    notice = by_kind["announcement"]
    assert (notice["kind_label"], notice["subject"], notice["subject_id_masked"]) == (
        "公告送达",
        "王*明",
        "3502**********1234",
    )
    assert notice["behaviour_title"] == "隐瞒家庭住房"
    assert resident_id(serial="771") not in notice["text"]
    rid = resident_id(serial="771")
    assert f"身份证号3502**********{rid[-4:]}）" in notice["text"]
    assert notice["correction_deadline"] == (today_shanghai() + timedelta(days=15)).isoformat()
    case = by_kind["typical_case"]
    assert (case["kind_label"], case["subject"], case["record_no"], case["behaviour_title"]) == (
        "典型案例曝光",
        "厦门某某代办咨询有限公司",
        "CX-20261202-AB12CD34",
        "有偿代办",
    )
    only_cases = (await svc.client.get("/public/credit-notices?kind=typical_case")).json()
    assert [i["record_id"] for i in only_cases["items"]] == [str(case_id)]
    bad = await svc.client.get("/public/credit-notices?kind=secret")
    assert bad.status_code == 422

    page = await svc.client.get("/public/pages/credit-notices")
    assert page.status_code == 200
    assert "【公告送达】王*明（3502**********1234）" in page.text
    assert "【典型案例曝光】厦门某某代办咨询有限公司" in page.text
    assert "王小明" not in page.text and resident_id(serial="771") not in page.text

    # The ban is lifted: the typical case leaves the page; the announcement (a delivery) stays.
    await publish_and_handle(
        svc,
        CreditBanLifted(
            record_id=case_id,
            id_hash="b" * 64,
            lifted_on=today_shanghai(),
            early=True,
            reason="经复核，处理依据不足",
        ),
        producer="credit",
        subject=case_id,
    )
    after = (await svc.client.get("/public/credit-notices")).json()
    assert [i["kind"] for i in after["items"]] == ["announcement"]
