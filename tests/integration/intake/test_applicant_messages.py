"""The applicant is told (及时告知): an in-portal message and an SMS at acceptance, at a
supplement notice, at qualification and at review's rejection, and when allocation ranks the
household; each SMS goes through a real HTTP gateway on 127.0.0.1 and its delivery is recorded.
No text carries an ID number or a full name. Real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from services.intake.bootstrap import definition
from services.intake.settings import IntakeSettings
from services.intake.sweeps import send_messages
from shared.clock import now
from shared.events.catalogue import (
    AllocationContractIssued,
    AllocationEntrySuspended,
    AllocationUnitAllocated,
    ApplicationQualified,
    ApplicationRejected,
    EconomicProfile,
    VerificationCompleted,
)
from shared.scheduler import run_once
from tests.conftest import Infra
from tests.harness import event_tap, publish_and_handle
from tests.integration.intake.conftest import application_body, new_resident_id
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.integration

OWNER = token("applicant", org="350200", sub="resident-msg-1")
STRANGER = token("applicant", org="350200", sub="resident-msg-2")
CLERK = token("street_clerk", org="350203001", sub="clerk-xg", name="王经办")
MOBILE = "13912345678"
PDF = b"%PDF-1.4 message test "


class Gateway:
    """The city's SMS gateway: answers 503 to the first ``fail`` requests, then 200 with an id."""

    def __init__(self) -> None:
        self.fail = 0
        self.received: list[dict] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                gateway.received.append(json.loads(self.rfile.read(length)))
                if gateway.fail > 0:
                    gateway.fail -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                payload = json.dumps({"id": f"sms-{len(gateway.received)}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    thread = threading.Thread(target=gw.server.serve_forever, daemon=True)
    thread.start()
    yield gw
    gw.server.shutdown()
    gw.server.server_close()


@pytest.fixture(scope="module")
async def sms_intake(
    infra: Infra, city_file: Path, gateway: Gateway
) -> AsyncIterator[RunningService]:
    # Intake with the HTTP gateway; the dispatcher's own tick is an hour apart so that the test
    # decides when messages go out.
    settings = IntakeSettings(
        notifier="http",
        sms_gateway_url=gateway.url,
        sms_backoff_seconds=0.01,
        notify_seconds=3600,
    )
    async with running_service(
        infra, "intake", system="intake-sms", definition=definition(settings), city_config=city_file
    ) as svc:
        # A tap gives intake's own events a route (nobody else listens in this system).
        async with event_tap(infra, svc, ("application.#",)):
            yield svc


async def dispatch(svc: RunningService) -> None:
    assert await run_once(
        svc.runtime, "intake.notify", lambda uow: send_messages(svc.runtime.context, uow)
    )


async def messages(svc: RunningService, app_id: str) -> list[dict]:
    response = await svc.client.get(f"/applications/{app_id}/messages", headers=OWNER)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_applicant_is_told_at_each_step_by_sms_and_in_the_portal(
    sms_intake: RunningService, gateway: Gateway
) -> None:
    svc = sms_intake
    ids = [new_resident_id(), new_resident_id()]
    body = application_body(*ids, mobile=MOBILE)
    names = [m["name"] for m in body["members"]]
    submitted = await svc.client.post("/applications", json=body, headers=OWNER)
    assert submitted.status_code == 201, submitted.text
    app = submitted.json()
    app_id, tracking_no = app["id"], app["tracking_no"]
    assert await messages(svc, app_id) == []  # submission itself tells nothing

    upload = await svc.client.post(
        f"/applications/{app_id}/materials",
        params={"material_type": "id_card", "file_name": "id_card.pdf"},
        content=PDF,
        headers={**OWNER, "Content-Type": "application/pdf"},
    )
    assert upload.status_code == 201, upload.text
    accepted = await svc.client.post(
        f"/applications/{app_id}/accept",
        json={"incomplete_reason": "户口簿由家属次日补交"},
        headers=CLERK,
    )
    assert accepted.status_code == 201, accepted.text
    receipt_no = accepted.json()["receipt_no"]
    missing = accepted.json()["materials_missing"]
    notice = await svc.client.post(
        f"/applications/{app_id}/supplement-notice",
        json={"items": [{"code": m["code"]} for m in missing]},
        headers=CLERK,
    )
    assert notice.status_code == 201, notice.text
    notice_no, deadline = notice.json()["notice_no"], notice.json()["deadline"]
    case_id = uuid.uuid4()
    qualified = ApplicationQualified(
        application_id=app_id,
        case_id=case_id,
        tracking_no=tracking_no,
        city="350200",
        district="350203",
        street="350203001",
        category="low_income_family",
        member_count=2,
        applicant_name_masked="张*丰",
        qualified_at=now(),
    )
    await publish_and_handle(svc, qualified, producer="review")
    await publish_and_handle(svc, qualified, producer="review")  # a second event: no twin

    before = await messages(svc, app_id)
    assert [m["kind"] for m in before] == ["qualified", "supplement_requested", "accepted"]
    assert {m["sms_status"] for m in before} == {"pending"}

    gateway.fail = 1  # the first SMS needs a retry: two attempts recorded
    await dispatch(svc)
    told = await messages(svc, app_id)
    by_kind = {m["kind"]: m for m in told}
    y, mo, d = deadline.split("-")
    assert by_kind["accepted"]["text"] == (
        f"【公租房】您的申请（编号{tracking_no}）已受理，受理回执编号{receipt_no}。"
        "请留意后续审核进度。"
    )
    wanted = "、".join(m["name"] for m in missing)
    assert by_kind["supplement_requested"]["text"] == (
        f"【公租房】您的申请（编号{tracking_no}）需补交材料：{wanted}。"
        f"请于{y}年{mo}月{d}日前补交（通知单{notice_no}），逾期未补视为材料不全。"
    )
    assert by_kind["qualified"]["text"] == (
        f"【公租房】您的申请（编号{tracking_no}）经审核公示，已取得保障资格，将进入轮候。"
    )
    # Sent oldest first, each to the applicant's mobile, each recorded with the gateway's id.
    assert [r["to"] for r in gateway.received] == [MOBILE] * 4
    assert [r["kind"] for r in gateway.received] == [
        "accepted",
        "accepted",
        "supplement_requested",
        "qualified",
    ]
    assert [(m["sms_status"], m["sms_attempts"], m["sms_provider_ref"]) for m in told] == [
        ("sent", 1, "sms-4"),
        ("sent", 1, "sms-3"),
        ("sent", 2, "sms-2"),
    ]
    assert all(m["sms_delivered_at"] for m in told)
    for text in [m["text"] for m in told] + [r["text"] for r in gateway.received]:
        assert not any(i in text for i in ids) and not any(n in text for n in names)

    # The portal list: the owner's messages across their applications; nobody else's.
    mine = await svc.client.get("/portal/messages", headers=OWNER)
    assert mine.status_code == 200
    assert [m["id"] for m in mine.json()["items"] if m["application_id"] == app_id] == [
        m["id"] for m in told
    ]
    theirs = await svc.client.get("/portal/messages", headers=STRANGER)
    assert theirs.json()["items"] == [] and theirs.json()["total"] == 0
    forbidden = await svc.client.get(f"/applications/{app_id}/messages", headers=STRANGER)
    assert forbidden.status_code == 403
    staff = await svc.client.get(f"/applications/{app_id}/messages", headers=CLERK)
    assert [m["id"] for m in staff.json()] == [m["id"] for m in told]
    # Nothing pending: a second dispatch sends nothing again.
    await dispatch(svc)
    assert len(gateway.received) == 4


async def test_reasons_written_by_staff_reach_the_applicant_without_id_or_full_name(
    sms_intake: RunningService, gateway: Gateway
) -> None:
    svc = sms_intake
    ids = [new_resident_id(), new_resident_id()]
    body = application_body(*ids, mobile=MOBILE)
    app = (await svc.client.post("/applications", json=body, headers=OWNER)).json()
    rejected = ApplicationRejected(
        application_id=app["id"],
        case_id=uuid.uuid4(),
        tracking_no=app["tracking_no"],
        city="350200",
        district="350203",
        street="350203001",
        category="low_income_family",
        stage="district_review",
        reasons=[f"张三丰（{ids[0]}）名下有房产一套", "家庭人均收入超过标准"],
        rejected_at=now(),
        rejected_by="rev-1",
    )
    allocated = AllocationUnitAllocated(
        allocation_id=uuid.uuid4(),
        round_id=uuid.uuid4(),
        household_reference=app["tracking_no"],
        unit_id=uuid.uuid4(),
        unit_code="XM-A-0301",
        rank=7,
        allocated_at=now(),
    )
    failed = VerificationCompleted(
        case_id=rejected.case_id,
        application_id=app["id"],
        category="low_income_family",
        completed_at=now(),
        recommendation="ineligible",
        reasons=["家庭人均月收入4200.00元，超过标准3500.00元"],
        profile=EconomicProfile(
            member_count=2,
            monthly_income_total="8400.00",
            per_capita_monthly_income="4200.00",
            financial_assets="0",
            housing_area_m2="0",
            per_capita_housing_area_m2="0",
            vehicle_count=0,
            vehicle_value="0",
            business_count=0,
            registered_capital_total="0",
        ),
        parameters_version=1,
    )
    suspended = AllocationEntrySuspended(
        entry_id=uuid.uuid4(),
        household_reference=app["tracking_no"],
        reason="declines",
        until=date(2027, 6, 1),
    )
    await publish_and_handle(svc, failed, producer="verification")
    await publish_and_handle(svc, rejected, producer="review")
    await publish_and_handle(svc, suspended, producer="allocation", subject=app["tracking_no"])
    await publish_and_handle(svc, allocated, producer="allocation", subject=app["tracking_no"])
    issued = AllocationContractIssued(
        contract_id=uuid.uuid4(),
        allocation_id=allocated.allocation_id,
        household_reference=app["tracking_no"],
        sign_by=date(2027, 1, 15),
    )
    await publish_and_handle(svc, issued, producer="allocation", subject=app["tracking_no"])
    told = {m["kind"]: m["text"] for m in await messages(svc, app["id"])}
    masked_id = f"{ids[0][:4]}{'*' * 10}{ids[0][-4:]}"
    assert told["rejected"] == (
        f"【公租房】您的申请（编号{app['tracking_no']}）未通过审核，原因："
        f"张*丰（{masked_id}）名下有房产一套；家庭人均收入超过标准。如有异议可依法申请复核。"
    )
    assert told["verification_failed"] == (
        f"【公租房】您的申请（编号{app['tracking_no']}）信息核对未通过，原因："
        "家庭人均月收入4200.00元，超过标准3500.00元。如有异议可向受理窗口说明。"
    )
    assert told["entry_suspended"] == (
        f"【公租房】您的家庭（编号{app['tracking_no']}）轮候已暂停，原因：多次放弃选房或未到场，"
        "2027年06月01日起恢复轮候。"
    )
    assert told["unit_allocated"] == (
        f"【公租房】您的家庭（编号{app['tracking_no']}）摇号排序第7位，已选定房源XM-A-0301。"
        "请按通知期限签订租赁合同。"
    )
    assert told["contract_issued"] == (
        f"【公租房】您的家庭（编号{app['tracking_no']}）租赁合同已生成，请于2027年01月15日前"
        "到住房保障部门签订，逾期视为放弃。"
    )
    await dispatch(svc)
    kinds = ("verification_failed", "rejected", "entry_suspended", "unit_allocated")
    sent = [r for r in gateway.received if r["kind"] in kinds]
    assert sorted(r["kind"] for r in sent) == sorted(kinds)
    assert {r["to"] for r in sent} == {MOBILE}
    assert ids[0] not in json.dumps(gateway.received, ensure_ascii=False)
