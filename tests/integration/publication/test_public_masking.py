"""Every public endpoint, JSON and HTML, carries no full resident ID or mobile number.

The routes are enumerated from the app itself, so a public route added later is scanned too
(a route whose path parameter this test cannot fill fails the test rather than being skipped).
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.publication.domain import FULL_MOBILE, FULL_RESIDENT_ID
from services.publication.queries import SECTIONS
from services.publication.tables import notice_entries
from shared.clock import now, today_shanghai
from shared.events.catalogue import (
    AllocationCommitmentPublished,
    AllocationPoolFrozen,
    AllocationRoundDrawn,
    CreditAgencyBlacklisted,
    RankedHousehold,
)
from tests.examples import resident_id
from tests.harness import publish, publish_and_handle, wait_for
from tests.integration.publication.conftest import (
    Stack,
    accepted,
    publish_and_wait,
    qualified,
)
from tests.services import token

pytestmark = pytest.mark.integration

CLERK = token("city_clerk", org="350200", sub="clerk-2")
LEADER = token("city_leader", org="350200", sub="leader-2")
MOBILE = "13912345678"


def assert_no_personal_data(where: str, text: str) -> None:
    ids = FULL_RESIDENT_ID.findall(text)
    mobiles = FULL_MOBILE.findall(text)
    assert not ids, f"{where}: full resident ID in a public response"
    assert not mobiles, f"{where}: full mobile number in a public response"
    # And the concrete values known to be in this test's data.
    assert resident_id() not in text and MOBILE not in text, where


async def test_every_public_response_is_masked(stack: Stack) -> None:
    # Data on every public surface: a notice whose entries come from an application.accepted
    # carrying full IDs, an objection with a mobile, a conclusion, a closed notice (the
    # beneficiaries disclosure), a blacklisted agency.
    event = accepted("MASK-0001", street="350211001")
    await publish_and_wait(stack, event, stage="accepted")
    await publish_and_wait(stack, qualified(event), stage="qualified")
    created = await stack.svc.client.post(
        "/notices",
        json={"kind": "qualification", "unit": "350211", "batch": "mask", "days": 7},
        headers=CLERK,
    )
    assert created.status_code == 201, created.text
    notice_id = created.json()["id"]
    async with stack.svc.runtime.engine.connect() as conn:
        entry_id = await conn.scalar(
            sa.select(notice_entries.c.id).where(notice_entries.c.notice_id == notice_id)
        )
    filed = await stack.svc.client.post(
        "/public/objections",
        json={
            "notice_id": notice_id,
            "entry_id": str(entry_id),
            "contact": MOBILE,
            "content": f"请核查，申请人身份证{resident_id()}，我的电话{MOBILE}。",
        },
    )
    assert filed.status_code == 201, filed.text
    assert_no_personal_data("POST /public/objections", filed.text)
    objection_id = filed.json()["objection_id"]
    concluded = await stack.svc.client.post(
        f"/objections/{objection_id}/conclusion",
        json={"outcome": "dismissed", "conclusion": "经核查反映不实，异议不成立。"},
        headers=token("city_reviewer", org="350200", sub="reviewer-2"),
    )
    assert concluded.status_code == 200, concluded.text
    closed = await stack.svc.client.post(
        f"/notices/{notice_id}/close", json={"reason": "测试提前结束"}, headers=LEADER
    )
    assert closed.status_code == 200, closed.text
    record_id = uuid.uuid4()
    await publish(
        stack.svc,
        CreditAgencyBlacklisted(
            record_id=record_id,
            id_hash="a" * 64,
            agency_name="厦门某某代办咨询有限公司",
            org_credit_code="91350200MA2XXXXX0X",
            behaviour="paid_proxy_application",
            listed_on=today_shanghai(),
        ),
        producer="credit",
        subject=record_id,
    )

    async def listed() -> bool:
        response = await stack.svc.client.get("/public/blacklist")
        return response.json()["total"] >= 1

    await wait_for(listed)
    # A lottery round with its shortlist and ranking naming the same household.
    round_id = uuid.uuid4()
    digest, at = "d" * 64, now()
    await publish_and_handle(
        stack.svc,
        AllocationPoolFrozen(
            round_id=round_id,
            category="low_income_family",
            pool_digest=digest,
            households=1,
            household_references=["MASK-0001"],
            cut_off=at,
            objection_until=at + timedelta(days=5),
        ),
        AllocationCommitmentPublished(
            round_id=round_id,
            category="low_income_family",
            pool_digest=digest,
            commitment="c" * 64,
            committed_at=at,
        ),
        AllocationRoundDrawn(
            round_id=round_id,
            category="low_income_family",
            pool_digest=digest,
            commitment="c" * 64,
            public_input="123 456",
            secret="e" * 64,
            seed="f" * 64,
            households=1,
            drawn_at=at,
            ranking=[RankedHousehold(household_reference="MASK-0001", rank=1, priority_tier=9)],
        ),
        producer="allocation",
        subject=round_id,
    )

    # Fill every path parameter of every public GET route, then scan each answer.
    values = {
        "notice_id": notice_id,
        "objection_id": objection_id,
        "section": list(SECTIONS),
        "round_id": round_id,
    }
    tail = resident_id()[-4:]
    queries = {
        "/public/progress": f"?tracking_no=MASK-0001&id_tail={tail}",
        "/public/pages/progress": f"?tracking_no=MASK-0001&id_tail={tail}",
    }
    scanned: list[str] = []
    async with stack.client("10.9.9.9") as client:
        # From the OpenAPI document: every documented route, whatever the router nesting.
        for route_path, operations in stack.svc.app.openapi()["paths"].items():
            if not route_path.startswith("/public") or "get" not in operations:
                continue
            names = re.findall(r"{(\w+)}", route_path)
            assert set(names) <= set(values), f"cannot fill {route_path}"
            paths = [route_path]
            for name in names:
                options = values[name] if isinstance(values[name], list) else [values[name]]
                paths = [p.replace("{" + name + "}", str(o)) for p in paths for o in options]
            for path in paths:
                response = await client.get(path + queries.get(route_path, ""))
                assert response.status_code == 200, (path, response.status_code, response.text)
                assert_no_personal_data(path, response.text)
                scanned.append(path)
    # The progress answers really found the application (not a masked 404).
    assert "/public/progress" in scanned and "/public/pages/progress" in scanned
    # The objection's own page (the form's receipt) is public too, and scanned above.
    assert f"/public/pages/objections/{objection_id}" in scanned
    html_pages = [p for p in scanned if p.startswith("/public/pages")]
    assert len(html_pages) >= 6 + len(SECTIONS)
    detail = (await stack.svc.client.get(f"/public/pages/notices/{notice_id}")).text
    assert "张*丰" in detail and "经核查反映不实" in detail and "提前结束" in detail
    stock = (await stack.svc.client.get("/public/disclosures/beneficiaries")).json()
    assert stock["page"]["total"] >= 1
    assert all("*" in item["id_masked"] for item in stock["page"]["items"])
