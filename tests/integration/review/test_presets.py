"""The Fujian and Pinghu presets run end to end, chosen by the city file's ``workflow``."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import Infra
from tests.examples import accepted_application
from tests.harness import emitted, publish_and_handle
from tests.integration.review.support import (
    case_of,
    city_file,
    publicity_closed,
    publicity_opened,
    sign,
    sign_stage,
    verification_completed,
)
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.integration


async def publicity_to_qualification(
    review: RunningService, app_id: uuid.UUID, case_id: uuid.UUID
) -> None:
    [request] = await emitted(review, "review.publicity_requested", app_id)
    assert request["case_id"] == str(case_id)
    notice = uuid.uuid4()
    opened = publicity_opened(app_id, notice)
    await publish_and_handle(review, opened, subject=app_id)
    await publish_and_handle(
        review, publicity_closed(app_id, notice, opened.opened_at), subject=app_id
    )
    [qualified] = await emitted(review, "application.qualified", app_id)
    assert qualified["case_id"] == str(case_id)


async def test_fujian_preset_end_to_end(infra: Infra, tmp_path: Path) -> None:
    street = "350211001"  # 集美街道
    async with running_service(
        infra, "review", system="rvf", city_config=city_file(tmp_path, "fujian")
    ) as review:
        application = accepted_application(street)
        app_id = application.application_id
        await publish_and_handle(review, application, subject=app_id)
        case_id = await case_of(review, app_id)
        [opened] = await emitted(review, "review.case_opened", app_id)
        assert opened["workflow"] == "fujian"
        assert [
            (s["stage"], s["level"], s["time_limit_working_days"]) for s in opened["stages"]
        ] == [
            ("joint_review", "district", 20),
            ("qualification_confirmation", "city", 20),
        ]
        # Joint review goes to the application's district; it waits for verification.
        tasks = (
            await review.client.get(
                "/tasks", headers=token("district_clerk", org="350211", sub="d")
            )
        ).json()["items"]
        assert [(t["stage_name"], t["unit"]) for t in tasks] == [("联合审核", "350211")]
        early = await sign(
            review.client, case_id, "joint_review", "district", "handler", street=street
        )
        assert early.status_code == 409
        await publish_and_handle(review, verification_completed(app_id), subject=app_id)

        # A supplement suspension and a manual resumption on the same day: 0 days suspended.
        clerk = token("district_clerk", org="350211", sub="district_clerk-350211")
        suspended = await review.client.post(
            f"/cases/{case_id}/stages/joint_review/suspend",
            json={"missing_items": ["劳动合同"], "reason": "缺少现工作单位劳动合同"},
            headers=clerk,
        )
        assert suspended.status_code == 201, suspended.text
        resumed = await review.client.post(
            f"/cases/{case_id}/stages/joint_review/resume", json={}, headers=clerk
        )
        assert resumed.status_code == 200, resumed.text
        assert (resumed.json()["automatic"], resumed.json()["suspended_working_days"]) == (False, 0)
        [event] = await emitted(review, "review.stage_resumed", app_id)
        assert event["resumed_by"] == "district_clerk-350211"

        await sign_stage(
            review.client,
            case_id,
            "joint_review",
            "district",
            ["handler", "reviewer"],
            street=street,
        )
        await sign_stage(
            review.client,
            case_id,
            "qualification_confirmation",
            "city",
            ["handler", "reviewer", "leader"],
            street=street,
        )
        completed = await emitted(review, "review.stage_completed", app_id)
        assert [(c["stage"], c["outcome"], c["next_stage"]) for c in completed] == [
            ("joint_review", "approve", "qualification_confirmation"),
            ("qualification_confirmation", "approve", None),
        ]
        await publicity_to_qualification(review, app_id, case_id)


async def test_pinghu_preset_end_to_end(infra: Infra, tmp_path: Path) -> None:
    street = "350212001"  # 大同街道
    async with running_service(
        infra, "review", system="rvp", city_config=city_file(tmp_path, "pinghu")
    ) as review:
        workflows = (await review.client.get("/workflows", headers=token("supervisor"))).json()
        assert [(w["name"], w["active"]) for w in workflows["items"]] == [
            ("fujian", False),
            ("pinghu", True),
            ("xiamen", False),
        ]
        assert workflows["items"][1]["budget_working_days"] == 40

        application = accepted_application(street)
        app_id = application.application_id
        await publish_and_handle(review, application, subject=app_id)
        case_id = await case_of(review, app_id)
        await publish_and_handle(review, verification_completed(app_id), subject=app_id)
        await sign_stage(
            review.client,
            case_id,
            "street_review",
            "street",
            ["handler", "reviewer"],
            street=street,
        )
        # The joint review group signs at city level; its leader only after its reviewer.
        await sign_stage(review.client, case_id, "joint_review", "city", ["handler"], street=street)
        early = await sign(review.client, case_id, "joint_review", "city", "leader", street=street)
        assert early.json()["missing_signatures"] == ["reviewer"]
        await sign_stage(
            review.client, case_id, "joint_review", "city", ["reviewer", "leader"], street=street
        )

        # A notice closed early does not qualify; the properly closed next notice does.
        notice = uuid.uuid4()
        opened = publicity_opened(app_id, notice)
        await publish_and_handle(review, opened, subject=app_id)
        await publish_and_handle(
            review, publicity_closed(app_id, notice, opened.opened_at, early=True), subject=app_id
        )
        assert await emitted(review, "application.qualified", app_id) == []
        view = (
            await review.client.get(f"/cases/{case_id}", headers=token("city_clerk", sub="c"))
        ).json()
        assert (view["status"], view["publicity_closed_early"]) == ("in_publicity", True)
        await publicity_to_qualification(review, app_id, case_id)


async def test_pinghu_rejection_at_street_review_ends_the_case(
    infra: Infra, tmp_path: Path
) -> None:
    street = "350212002"
    async with running_service(
        infra, "review", system="rvp2", city_config=city_file(tmp_path, "pinghu")
    ) as review:
        application = accepted_application(street)
        app_id = application.application_id
        await publish_and_handle(review, application, subject=app_id)
        case_id = await case_of(review, app_id)
        await publish_and_handle(review, verification_completed(app_id), subject=app_id)
        reason = "经核查，申请人名下有一处住房，人均住房面积超过本市标准，不予通过。"
        await sign(
            review.client,
            case_id,
            "street_review",
            "street",
            "handler",
            street=street,
            decision="reject",
            opinion=reason,
        )
        final = await sign(
            review.client,
            case_id,
            "street_review",
            "street",
            "reviewer",
            street=street,
            decision="reject",
            opinion=reason,
        )
        assert final.json()["case_status"] == "rejected"
        [rejected] = await emitted(review, "application.rejected", app_id)
        assert (rejected["stage"], rejected["reasons"]) == ("street_review", [reason])
        [decided] = await emitted(review, "review.decided", app_id)
        assert decided["outcome"] == "rejected"
