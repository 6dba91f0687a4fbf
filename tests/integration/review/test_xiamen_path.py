"""The whole Xiamen path on the real database and broker: a case per accepted application,
street -> district -> city signatures in order, publicity hand-off, objections, qualification."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from services.review.tables import signatures
from shared.audit.log import audit_log
from shared.db import create_engine
from shared.events.catalogue import ApplicationWithdrawn
from tests.conftest import Infra
from tests.examples import accepted_application
from tests.harness import emitted, publish_and_handle
from tests.integration.review.support import (
    OPINION,
    case_of,
    objection_concluded,
    objection_filed,
    publicity_closed,
    publicity_opened,
    sign,
    sign_stage,
    verification_completed,
)
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.integration

STREET = "350203001"  # 厦港街道, 思明区


@pytest.fixture(scope="module")
async def review(infra: Infra) -> AsyncIterator[RunningService]:
    async with running_service(infra, "review", system="rvx") as svc:
        yield svc


async def accepted(review: RunningService, street: str = STREET) -> tuple[uuid.UUID, uuid.UUID]:
    application = accepted_application(street)
    await publish_and_handle(review, application, subject=application.application_id)
    return application.application_id, await case_of(review, application.application_id)


async def to_city_approval(review: RunningService, app_id: uuid.UUID, case_id: uuid.UUID) -> None:
    client = review.client
    await publish_and_handle(review, verification_completed(app_id), subject=app_id)
    await sign_stage(
        client, case_id, "street_initial", "street", ["handler", "reviewer"], street=STREET
    )
    await sign_stage(
        client, case_id, "district_review", "district", ["handler", "reviewer"], street=STREET
    )
    await sign_stage(
        client,
        case_id,
        "city_confirmation",
        "city",
        ["handler", "reviewer", "leader"],
        street=STREET,
    )


async def test_whole_xiamen_path(review: RunningService) -> None:
    client = review.client
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    app_id, case_id = await accepted(review)

    # The case opened with the Xiamen layout; the first stage went to the application's street.
    [opened] = await emitted(review, "review.case_opened", app_id)
    assert opened["workflow"] == "xiamen"
    assert [s["stage"] for s in opened["stages"]] == [
        "street_initial",
        "district_review",
        "city_confirmation",
    ]
    [started] = await emitted(review, "review.stage_started", app_id)
    assert (started["stage"], started["level"], started["unit"]) == (
        "street_initial",
        "street",
        STREET,
    )
    assert started["time_limit_working_days"] == 15
    assert started["yellow_at"] < started["due_at"]

    # The street clerk sees it in the to-do list; a clerk of another street does not.
    clerk = token("street_clerk", org=STREET, sub="clerk-a")
    tasks = (await client.get("/tasks", headers=clerk)).json()
    mine = [t for t in tasks["items"] if t["case_id"] == str(case_id)]
    assert len(mine) == 1
    assert (mine[0]["stage_name"], mine[0]["signature"], mine[0]["working_days_left"]) == (
        "街道初审",
        "handler",
        15,
    )
    other = token("street_clerk", org="350203003", sub="clerk-b")
    assert str(case_id) not in {
        t["case_id"] for t in (await client.get("/tasks", headers=other)).json()["items"]
    }
    assert (await client.get(f"/cases/{case_id}", headers=other)).status_code == 403

    # The handler cannot sign before the verification result arrived.
    early = await sign(client, case_id, "street_initial", "street", "handler", street=STREET)
    assert early.status_code == 409
    assert "核查结果尚未返回" in early.json()["detail"]

    await publish_and_handle(review, verification_completed(app_id), subject=app_id)
    view = (await client.get(f"/cases/{case_id}", headers=clerk)).json()
    assert view["verification"]["recommendation"] == "eligible"
    assert view["verification"]["reasons"][0] == "家庭人均月收入2100.00元，不高于4500.00元"
    assert view["applicant_name_masked"] == "张*丰"

    # An out-of-order signature is refused, naming the missing prior signature.
    out_of_order = await sign(
        client, case_id, "street_initial", "street", "reviewer", street=STREET
    )
    assert out_of_order.status_code == 409
    assert out_of_order.headers["content-type"] == "application/problem+json"
    assert out_of_order.json()["missing_signatures"] == ["handler"]
    assert out_of_order.json()["detail"] == "须先由经办人签字，复核人不能提前签字。"

    # A boilerplate opinion is refused, naming the field; nothing is stored.
    boiler = await sign(
        client, case_id, "street_initial", "street", "handler", street=STREET, opinion="同意。"
    )
    assert (boiler.status_code, boiler.json()["field"]) == (422, "opinion")

    # Malformed requests: problem+json naming the field, nothing stored.
    bad = await client.post(
        f"/cases/{case_id}/stages/street_initial/opinions",
        json={"role": "handler", "decision": "maybe", "opinion": OPINION},
        headers=clerk,
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "decision")
    empty_items = await client.post(
        f"/cases/{case_id}/stages/street_initial/suspend",
        json={"missing_items": []},
        headers=clerk,
    )
    assert (empty_items.status_code, empty_items.json()["field"]) == (422, "missing_items")
    unknown_stage = await client.post(
        f"/cases/{case_id}/stages/no_such_stage/suspend",
        json={"missing_items": ["户口簿"]},
        headers=clerk,
    )
    assert (unknown_stage.status_code, unknown_stage.json()["field"]) == (404, "stage")

    # A discipline inspector reads everything and changes nothing.
    inspector = token("discipline_inspector", org="350000", sub="inspector-1")
    assert (await client.get(f"/cases/{case_id}", headers=inspector)).status_code == 200
    refused = await client.post(
        f"/cases/{case_id}/stages/street_initial/opinions",
        json={"role": "handler", "decision": "approve", "opinion": OPINION},
        headers=inspector,
    )
    assert refused.status_code == 403

    # The handler signs (retried with the same Idempotency-Key: one signature only).
    # (One token for both: the foundation scopes keys by the bearer token.)
    same = {
        **token("street_clerk", org=STREET, sub="same-person"),
        "Idempotency-Key": f"sign-{case_id}",
    }
    body = {"role": "handler", "decision": "approve", "opinion": OPINION}
    url = f"/cases/{case_id}/stages/street_initial/opinions"
    first = await client.post(url, json=body, headers=same)
    again = await client.post(url, json=body, headers=same)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert first.json()["next_signature"] == "reviewer"

    # The same person cannot give the reviewer's signature too.
    both = token(["street_clerk", "street_reviewer"], org=STREET, sub="same-person")
    twice = await client.post(
        f"/cases/{case_id}/stages/street_initial/opinions",
        json={"role": "reviewer", "decision": "approve", "opinion": OPINION},
        headers=both,
    )
    assert twice.status_code == 409
    assert twice.json()["detail"] == "同一人不能在同一环节签字两次。"

    reviewer = await sign(client, case_id, "street_initial", "street", "reviewer", street=STREET)
    assert reviewer.status_code == 201
    assert (reviewer.json()["stage_status"], reviewer.json()["current_stage"]) == (
        "completed",
        "district_review",
    )
    await sign_stage(
        client, case_id, "district_review", "district", ["handler", "reviewer"], street=STREET
    )
    # At city level the leader cannot approve before the reviewer.
    await sign_stage(client, case_id, "city_confirmation", "city", ["handler"], street=STREET)
    leader_early = await sign(client, case_id, "city_confirmation", "city", "leader", street=STREET)
    assert leader_early.status_code == 409
    assert leader_early.json()["missing_signatures"] == ["reviewer"]
    await sign_stage(
        client, case_id, "city_confirmation", "city", ["reviewer", "leader"], street=STREET
    )

    # Every signature is an event, in the statutory order, with server timestamps.
    signed = await emitted(review, "review.opinion_signed", app_id)
    assert [(s["stage"], s["role"]) for s in signed] == [
        ("street_initial", "handler"),
        ("street_initial", "reviewer"),
        ("district_review", "handler"),
        ("district_review", "reviewer"),
        ("city_confirmation", "handler"),
        ("city_confirmation", "reviewer"),
        ("city_confirmation", "leader"),
    ]
    assert [s["signed_at"] for s in signed] == sorted(s["signed_at"] for s in signed)
    assert [s["unit"] for s in signed] == [
        STREET,
        STREET,
        "350203",
        "350203",
        "350200",
        "350200",
        "350200",
    ]

    # Publicity hand-off: decided (qualified) and a request for the qualification notice.
    [decided] = await emitted(review, "review.decided", app_id)
    assert (decided["outcome"], decided["decided_by"]) == ("qualified", "city_leader-350200")
    [request] = await emitted(review, "review.publicity_requested", app_id)
    assert (request["tracking_no"], request["applicant_name_masked"], request["member_count"]) == (
        "XM2026-000123",
        "张*丰",
        2,
    )
    assert request["min_days"] == 7
    assert await emitted(review, "application.qualified", app_id) == []

    notice = uuid.uuid4()
    opened_notice = publicity_opened(app_id, notice)
    await publish_and_handle(review, opened_notice, subject=app_id)
    objection = objection_filed(app_id, notice)
    await publish_and_handle(review, objection, subject=app_id)
    await publish_and_handle(
        review, publicity_closed(app_id, notice, opened_notice.opened_at), subject=app_id
    )
    # Closed, but an objection is still under investigation: not yet qualified.
    view = (await client.get(f"/cases/{case_id}", headers=clerk)).json()
    assert view["status"] == "in_publicity"
    assert await emitted(review, "application.qualified", app_id) == []

    await publish_and_handle(review, objection_concluded(objection, "dismissed"), subject=app_id)
    [qualified] = await emitted(review, "application.qualified", app_id)
    assert (qualified["case_id"], qualified["street"]) == (str(case_id), STREET)
    view = (await client.get(f"/cases/{case_id}", headers=clerk)).json()
    assert view["status"] == "qualified"
    assert [o["outcome"] for o in view["objections"]] == ["dismissed"]
    assert [len(s["signatures"]) for s in view["stages"]] == [2, 2, 3]

    # Audited: every signature and every case read, in the same transactions.
    async with review.runtime.engine.connect() as conn:
        actions = (
            await conn.scalars(
                sa.select(audit_log.c.action).where(audit_log.c.subject_id == str(case_id))
            )
        ).all()
        assert actions.count("review.opinion_signed") == 7
        assert actions.count("review.case_read") == 4  # the refused read is not one
    # Signatures are evidence: the database refuses to change them, to the service's role for
    # want of the privilege, and to their owner by the append-only trigger.
    change = signatures.update().where(signatures.c.case_id == case_id).values(opinion="改")
    owner = create_engine(review.runtime.settings.migration_database_url)
    try:
        for engine, refusal in (
            (review.runtime.engine, "permission denied for table review_signatures"),
            (owner, "review_signatures is append-only"),
        ):
            async with engine.connect() as conn:
                with pytest.raises(sa.exc.DBAPIError, match=refusal):
                    await conn.execute(change)
                await conn.rollback()
    finally:
        await owner.dispose()


async def test_a_sustained_objection_returns_the_case_to_the_city_stage(
    review: RunningService,
) -> None:
    client = review.client
    app_id, case_id = await accepted(review)
    await to_city_approval(review, app_id, case_id)
    notice = uuid.uuid4()
    opened_notice = publicity_opened(app_id, notice)
    await publish_and_handle(review, opened_notice, subject=app_id)
    objection = objection_filed(app_id, notice)
    await publish_and_handle(review, objection, subject=app_id)
    await publish_and_handle(review, objection_concluded(objection, "sustained"), subject=app_id)

    view = (await client.get(f"/cases/{case_id}", headers=token("city_clerk", sub="c"))).json()
    assert (view["status"], view["current_stage"]) == ("in_review", "city_confirmation")
    assert [(s["stage"], s["round"]) for s in view["stages"]][-1] == ("city_confirmation", 2)
    # The notice closing afterwards does not qualify the returned case.
    await publish_and_handle(
        review, publicity_closed(app_id, notice, opened_notice.opened_at), subject=app_id
    )
    assert await emitted(review, "application.qualified", app_id) == []
    # The city re-examines and rejects: the case ends with its reasons.
    await sign_stage(
        client, case_id, "city_confirmation", "city", ["handler", "reviewer"], street=STREET
    )
    reason = "经核查，异议成立：该户隐瞒一套住房，人均住房面积超标，不予认定。"
    response = await sign(
        client,
        case_id,
        "city_confirmation",
        "city",
        "leader",
        street=STREET,
        decision="reject",
        opinion=reason,
    )
    assert response.json()["case_status"] == "rejected"
    decided = await emitted(review, "review.decided", app_id)
    assert [d["outcome"] for d in decided] == ["qualified", "rejected"]
    [rejected] = await emitted(review, "application.rejected", app_id)
    assert (rejected["stage"], rejected["reasons"]) == ("city_confirmation", [reason])


async def test_a_return_restarts_the_previous_stage_and_a_correction_keeps_the_original(
    review: RunningService,
) -> None:
    client = review.client
    app_id, case_id = await accepted(review)
    await publish_and_handle(review, verification_completed(app_id), subject=app_id)
    await sign_stage(
        client, case_id, "street_initial", "street", ["handler", "reviewer"], street=STREET
    )
    # District handler signs, then corrects their own opinion before the reviewer signs.
    first = (
        await sign(client, case_id, "district_review", "district", "handler", street=STREET)
    ).json()
    corrected = await client.post(
        f"/cases/{case_id}/stages/district_review/opinions",
        json={
            "role": "handler",
            "decision": "return",
            "opinion": "申请人户籍证明与核查结果不一致，退回街道核实户籍迁入时间。",
            "corrects": first["signature"]["id"],
        },
        headers=token("district_clerk", org="350203", sub="district_clerk-350203"),
    )
    assert corrected.status_code == 201, corrected.text
    assert corrected.json()["signature"]["corrects"] == first["signature"]["id"]
    await sign_stage(
        client,
        case_id,
        "district_review",
        "district",
        ["reviewer"],
        street=STREET,
        decision="return",
    )
    view = (await client.get(f"/cases/{case_id}", headers=token("city_clerk", sub="c"))).json()
    assert [(s["stage"], s["round"], s["outcome"]) for s in view["stages"]] == [
        ("street_initial", 1, "approve"),
        ("district_review", 1, "return"),
        ("street_initial", 2, None),
    ]
    district = view["stages"][1]
    assert [s["decision"] for s in district["signatures"]] == ["approve", "return", "return"]
    assert view["current_stage"] == "street_initial"


async def test_a_repeated_acceptance_opens_no_second_case_and_a_withdrawal_closes_it(
    review: RunningService,
) -> None:
    application = accepted_application("350203005")
    app_id = application.application_id
    await publish_and_handle(review, application, subject=app_id)
    await publish_and_handle(
        review, application, subject=app_id
    )  # same application, a new event id
    case_id = await case_of(review, app_id)
    assert len(await emitted(review, "review.case_opened", app_id)) == 1
    assert len(await emitted(review, "review.stage_started", app_id)) == 1

    withdrawn = ApplicationWithdrawn(
        application_id=app_id,
        tracking_no=application.tracking_no,
        initiated_by="applicant",
        withdrawn_by="applicant-1",
        withdrawn_at=application.accepted_at,
    )
    await publish_and_handle(review, withdrawn, subject=app_id)
    clerk = token("street_clerk", org="350203005", sub="clerk-binhai")
    view = (await review.client.get(f"/cases/{case_id}", headers=clerk)).json()
    assert (view["status"], view["stages"][0]["status"], view["stages"][0]["outcome"]) == (
        "withdrawn",
        "completed",
        "withdrawn",
    )
    tasks = (await review.client.get("/tasks", headers=clerk)).json()
    assert tasks["total"] == 0


async def test_each_tier_signs_its_own_stage_and_one_person_signs_one_tier(
    review: RunningService,
) -> None:
    client = review.client
    app_id, case_id = await accepted(review, "350203006")
    await publish_and_handle(review, verification_completed(app_id), subject=app_id)
    street = "350203006"
    # A city official who also holds the street roles does not sign the street's stage.
    city_with_street_roles = token(
        ["street_clerk", "street_reviewer", "city_reviewer"], org="350200", sub="city-wide-1"
    )
    refused = await client.post(
        f"/cases/{case_id}/stages/street_initial/opinions",
        json={"role": "handler", "decision": "approve", "opinion": OPINION},
        headers=city_with_street_roles,
    )
    assert (refused.status_code, refused.json()["detail"]) == (
        403,
        "本环节须由街道单位人员签字；您所在单位（350200）不是街道单位。",
    )

    await sign_stage(
        client, case_id, "street_initial", "street", ["handler", "reviewer"], street=street
    )
    # The street's handler, later moved to the district with its roles, signs nothing there
    # on this case: the district would be checking the handler's own work.
    again = await sign(
        client,
        case_id,
        "district_review",
        "district",
        "handler",
        street=street,
        sub="street_clerk-350203006",
    )
    assert (again.status_code, again.json()["detail"]) == (
        409,
        "同一人不能在本案不同层级的环节签字。",
    )
    async with review.runtime.engine.connect() as conn:
        district_signatures = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(signatures)
            .where(signatures.c.case_id == case_id, signatures.c.stage == "district_review")
        )
    assert district_signatures == 0
    assert (
        await sign(client, case_id, "district_review", "district", "handler", street=street)
    ).status_code == 201
