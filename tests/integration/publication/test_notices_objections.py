"""Notices and objections end to end: the 7-day rule, the lifecycle with its events, the
objection flow, the leader's early close (announced for R7) and the automatic close."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import orjson
import pytest
import sqlalchemy as sa

from services.publication.sweeps import notice_sweep
from services.publication.tables import notice_entries, notices, objections, push_log
from shared.clock import clock, now
from shared.db import UnitOfWork
from shared.events.catalogue import ReviewOpinionSigned
from shared.events.envelope import Envelope
from shared.scheduler import run_once
from shared.tables import outbox
from tests.harness import handled, publish
from tests.integration.publication.conftest import Stack, accepted, publish_and_wait, qualified
from tests.services import token

pytestmark = pytest.mark.integration

CLERK = token("city_clerk", org="350200", sub="clerk-1")
LEADER = token("city_leader", org="350200", sub="leader-1")
INVESTIGATOR = token("city_reviewer", org="350200", sub="reviewer-1")


async def outbox_events(stack: Stack, event_type: str) -> list[dict]:
    async with stack.svc.runtime.engine.connect() as conn:
        bodies = (
            await conn.scalars(
                sa.select(outbox.c.body).where(outbox.c.type == event_type).order_by(outbox.c.seq)
            )
        ).all()
    return [Envelope.from_bytes(b).data for b in bodies]


async def qualified_applications(stack: Stack, prefix: str, n: int, street: str) -> list[uuid.UUID]:
    """``n`` qualified applications of one street (each test its own street and unit)."""
    ids = []
    for i in range(n):
        event = accepted(f"{prefix}-{i:04d}", street=street)
        await publish_and_wait(stack, event, stage="accepted")
        await publish_and_wait(stack, qualified(event), stage="qualified")
        ids.append(event.application_id)
    return ids


async def test_qualification_publicity_shorter_than_7_days_is_refused(stack: Stack) -> None:
    await qualified_applications(stack, "SIX", 1, "350206003")
    async with stack.svc.runtime.engine.connect() as conn:
        before = await conn.scalar(sa.select(sa.func.count()).select_from(notices))
    response = await stack.svc.client.post(
        "/notices",
        json={"kind": "qualification", "unit": "350206003", "batch": "2026-11", "days": 6},
        headers=CLERK,
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == "days"
    assert "不得少于7天" in problem["detail"]
    async with stack.svc.runtime.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(notices)) == before
    assert await outbox_events(stack, "publicity.opened") == []


async def test_only_qualified_applications_go_on_a_qualification_notice(stack: Stack) -> None:
    pending = accepted("NQ-0001", street="350206005")
    await publish_and_wait(stack, pending, stage="accepted")
    response = await stack.svc.client.post(
        "/notices",
        json={
            "kind": "qualification",
            "unit": "350206005",
            "days": 7,
            "application_ids": [str(pending.application_id)],
        },
        headers=CLERK,
    )
    assert response.status_code == 422
    assert response.json()["field"] == "application_ids.0"


async def test_notice_objection_conclusion_and_early_close(stack: Stack) -> None:
    ids = await qualified_applications(stack, "QF", 2, "350206001")
    body = {"kind": "qualification", "unit": "350206001", "batch": "2026-11-A", "days": 7}
    headers = {**CLERK, "Idempotency-Key": "notice-a"}
    created = await stack.svc.client.post("/notices", json=body, headers=headers)
    assert created.status_code == 201, created.text
    again = await stack.svc.client.post("/notices", json=body, headers=headers)
    assert again.json() == created.json()
    notice = created.json()
    assert notice["status"] == "open"
    assert notice["entry_count"] == 2
    assert notice["planned_days"] == 7
    opened = await outbox_events(stack, "publicity.opened")
    assert len(opened) == 1
    assert sorted(opened[0]["application_ids"]) == sorted(str(i) for i in ids)
    assert opened[0]["planned_days"] == 7 and opened[0]["kind"] == "qualification"

    detail = (await stack.svc.client.get(f"/public/notices/{notice['id']}")).json()
    entry = detail["entries"]["items"][0]
    assert entry["name_masked"] == "张*丰"
    assert entry["id_masked"] == "3502**********" + entry["id_masked"][-4:]
    assert entry["street_name"] == "湖里街道"

    # The objection: contact stays private; the event goes out; the conclusion is published.
    objection = await stack.svc.client.post(
        "/public/objections",
        json={
            "notice_id": notice["id"],
            "entry_id": entry["entry_id"],
            "contact": "138 1234 5678",
            "content": "该户在本市另有住房一套，身份证350203199001011234可查。",
        },
    )
    assert objection.status_code == 201, objection.text
    receipt = objection.json()
    assert set(receipt) == {"objection_id", "status", "filed_at", "conclude_by"}
    async with stack.svc.runtime.engine.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(objections).where(objections.c.id == receipt["objection_id"])
            )
        ).one()
    assert stored.contact_masked == "138****5678"
    assert "13812345678" not in stored.contact_hash
    assert "350203199001011234" not in stored.content
    filed = await outbox_events(stack, "objection.filed")
    assert [f["objection_id"] for f in filed] == [receipt["objection_id"]]

    listed = await stack.svc.client.get("/objections", headers=INVESTIGATOR)
    assert listed.status_code == 200
    assert listed.json()["items"][0]["contact_masked"] == "138****5678"

    leaky = await stack.svc.client.post(
        f"/objections/{receipt['objection_id']}/conclusion",
        json={"outcome": "dismissed", "conclusion": "经核查，联系人13812345678反映不实。"},
        headers=INVESTIGATOR,
    )
    assert leaky.status_code == 422 and leaky.json()["field"] == "conclusion"
    concluded = await stack.svc.client.post(
        f"/objections/{receipt['objection_id']}/conclusion",
        json={
            "outcome": "dismissed",
            "conclusion": "经不动产登记核查，该户名下无住房，异议不成立。",
        },
        headers=INVESTIGATOR,
    )
    assert concluded.status_code == 200, concluded.text
    assert [c["outcome"] for c in await outbox_events(stack, "objection.concluded")] == [
        "dismissed"
    ]
    public = (await stack.svc.client.get(f"/public/objections/{receipt['objection_id']}")).json()
    assert public["outcome_title"] == "异议不成立"
    assert public["conclusion"].startswith("经不动产登记核查")
    detail = (await stack.svc.client.get(f"/public/notices/{notice['id']}")).json()
    objected = next(e for e in detail["entries"]["items"] if e["entry_id"] == entry["entry_id"])
    assert objected["objections"] == 1
    assert objected["objection_conclusions"][0].startswith("异议不成立：")

    # The conclusion is also published as an objection-conclusion announcement.
    announced = await stack.svc.client.post(
        "/notices",
        json={"kind": "objection_conclusion", "unit": "350206001", "days": 30},
        headers=CLERK,
    )
    assert announced.status_code == 201, announced.text
    announcement = (await stack.svc.client.get(f"/public/notices/{announced.json()['id']}")).json()
    assert [e["remark"] for e in announcement["entries"]["items"]] == [
        "异议不成立：经不动产登记核查，该户名下无住房，异议不成立。"
    ]
    nothing_left = await stack.svc.client.post(
        "/notices",
        json={"kind": "objection_conclusion", "unit": "350206001", "days": 30},
        headers=CLERK,
    )
    assert nothing_left.status_code == 422
    assert nothing_left.json()["field"] == "application_ids"

    # Early close: only a leader, only with a reason; announced with closed_early.
    by_clerk = await stack.svc.client.post(
        f"/notices/{notice['id']}/close", json={"reason": "批次合并发布"}, headers=CLERK
    )
    assert by_clerk.status_code == 403
    no_reason = await stack.svc.client.post(
        f"/notices/{notice['id']}/close", json={}, headers=LEADER
    )
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    closed = await stack.svc.client.post(
        f"/notices/{notice['id']}/close", json={"reason": "批次合并重新发布"}, headers=LEADER
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["closed_early"] is True
    [closed_event] = await outbox_events(stack, "publicity.closed")
    assert closed_event["closed_early"] is True
    assert closed_event["override_by"] == "leader-1"
    assert closed_event["reason"] == "批次合并重新发布"

    late = await stack.svc.client.post(
        "/public/objections",
        json={
            "notice_id": notice["id"],
            "entry_id": entry["entry_id"],
            "contact": "13812345678",
            "content": "公示结束后提出的异议内容。",
        },
    )
    assert late.status_code == 409 and late.json()["field"] == "notice_id"

    # Every event above was logged for the province, in order, on the application's stream,
    # without the household's personal data.
    async with stack.svc.runtime.engine.connect() as conn:
        application_id = await conn.scalar(
            sa.select(notice_entries.c.application_id).where(
                notice_entries.c.id == entry["entry_id"]
            )
        )
        pushed = (
            await conn.execute(
                sa.select(push_log.c.event_type, push_log.c.body)
                .where(push_log.c.stream_key == f"application:{application_id}")
                .order_by(push_log.c.stream_seq)
            )
        ).all()
    assert [r.event_type for r in pushed] == [
        "application.accepted",
        "application.qualified",
        "publicity.opened",
        "objection.filed",
        "objection.concluded",
        "publicity.opened",  # the objection-conclusion announcement
        "publicity.closed",  # the qualification notice, closed early
    ]
    for r in pushed:
        assert b"13812345678" not in r.body
        assert b"350203199001011234" not in r.body
        assert "household" not in orjson.loads(r.body)["data"]


async def test_notice_closes_by_itself_at_the_end_of_its_period(stack: Stack) -> None:
    await qualified_applications(stack, "AUTO", 1, "350206004")
    created = await stack.svc.client.post(
        "/notices",
        json={"kind": "qualification", "unit": "350206004", "batch": "2026-11-B", "days": 7},
        headers=CLERK,
    )
    assert created.status_code == 201, created.text
    notice_id = created.json()["id"]
    runtime = stack.svc.runtime

    async def sweep(uow: UnitOfWork) -> None:
        await notice_sweep(runtime.context, uow)

    try:
        clock.set(now() + timedelta(days=6, hours=23))
        assert await run_once(stack.svc.runtime, "notice-sweep-test", sweep)
        async with stack.svc.runtime.engine.connect() as conn:
            status = await conn.scalar(sa.select(notices.c.status).where(notices.c.id == notice_id))
        assert status == "open"
        clock.advance(timedelta(hours=2))
        assert await run_once(stack.svc.runtime, "notice-sweep-test", sweep)
    finally:
        clock.reset()
    async with stack.svc.runtime.engine.connect() as conn:
        row = (await conn.execute(sa.select(notices).where(notices.c.id == notice_id))).one()
    assert row.status == "closed" and row.closed_early is False
    closed = [
        e for e in await outbox_events(stack, "publicity.closed") if e["notice_id"] == notice_id
    ]
    assert len(closed) == 1 and closed[0]["closed_early"] is False
    assert closed[0]["override_by"] is None


async def test_objection_filing_is_rate_limited_per_address_and_capped_per_contact(
    stack: Stack,
) -> None:
    await qualified_applications(stack, "CAP", 1, "350206002")
    created = await stack.svc.client.post(
        "/notices",
        json={"kind": "qualification", "unit": "350206002", "batch": "2026-11-C", "days": 7},
        headers=CLERK,
    )
    assert created.status_code == 201, created.text
    notice = created.json()
    detail = (await stack.svc.client.get(f"/public/notices/{notice['id']}")).json()
    entry_id = detail["entries"]["items"][0]["entry_id"]

    def from_address(host: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=stack.svc.app, client=(host, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://publication")

    async def file(host: str, contact: str) -> httpx.Response:
        async with from_address(host) as client:
            return await client.post(
                "/public/objections",
                json={
                    "notice_id": notice["id"],
                    "entry_id": entry_id,
                    "contact": contact,
                    "content": "该户家庭成员名下另有商铺一间。",
                },
            )

    async def stored() -> int:
        async with stack.svc.runtime.engine.connect() as conn:
            return int(
                await conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(objections)
                    .where(objections.c.notice_id == uuid.UUID(notice["id"]))
                )
                or 0
            )

    # One contact, five addresses: five objections; the sixth is refused at the contact field.
    for n in range(5):
        assert (await file(f"10.0.1.{n}", "139 0000 1111")).status_code == 201
    capped = await file("10.0.1.9", "13900001111")
    assert capped.status_code == 409
    assert (capped.json()["field"], capped.json()["detail"]) == (
        "contact",
        "同一联系电话对本公示提出的异议已达上限（5件）",
    )
    assert await stored() == 5

    # One address, five contacts: the burst; the sixth filing waits a minute, stores nothing.
    for n in range(5):
        assert (await file("10.0.2.1", f"1370000222{n}")).status_code == 201
    limited = await file("10.0.2.1", "13700002229")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "60"
    assert limited.json()["detail"] == "提交异议过于频繁，请60秒后再试"
    assert await stored() == 10
    # Another address is not held up by it.
    assert (await file("10.0.2.2", "13700002229")).status_code == 201


async def test_who_signed_the_decision_cannot_conclude_an_objection_against_it(
    stack: Stack,
) -> None:
    [application_id] = await qualified_applications(stack, "SIG", 1, "350205001")
    signed = ReviewOpinionSigned(
        case_id=uuid.uuid4(),
        application_id=application_id,
        stage="city_confirmation",
        level="city",
        unit="350200",
        role="reviewer",
        decision="approve",
        signer="reviewer-who-signed",
        signed_at=now(),
    )
    await handled(stack.svc, *await publish(stack.svc, signed, producer="review"))
    created = await stack.svc.client.post(
        "/notices",
        json={"kind": "qualification", "unit": "350205001", "batch": "2026-11-S", "days": 7},
        headers=CLERK,
    )
    assert created.status_code == 201, created.text
    notice = created.json()
    detail = (await stack.svc.client.get(f"/public/notices/{notice['id']}")).json()
    filed = await stack.svc.client.post(
        "/public/objections",
        json={
            "notice_id": notice["id"],
            "entry_id": detail["entries"]["items"][0]["entry_id"],
            "contact": "13600003333",
            "content": "该户申请时隐瞒了一辆小汽车。",
        },
    )
    assert filed.status_code == 201, filed.text
    objection_id = filed.json()["objection_id"]
    conclusion = {"outcome": "dismissed", "conclusion": "经车管部门核查，该户名下无机动车。"}

    signer = token("city_reviewer", org="350200", sub="reviewer-who-signed")
    refused = await stack.svc.client.post(
        f"/objections/{objection_id}/conclusion", json=conclusion, headers=signer
    )
    assert (refused.status_code, refused.json()["detail"]) == (
        403,
        "参与过该申请审核签字的人员不能办结针对该决定的异议",
    )
    async with stack.svc.runtime.engine.connect() as conn:
        status = await conn.scalar(
            sa.select(objections.c.status).where(objections.c.id == uuid.UUID(objection_id))
        )
    assert status == "pending"
    other = await stack.svc.client.post(
        f"/objections/{objection_id}/conclusion", json=conclusion, headers=INVESTIGATOR
    )
    assert other.status_code == 200, other.text
