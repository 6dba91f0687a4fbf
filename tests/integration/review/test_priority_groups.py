"""Priority groups decided at qualification from the verified findings the case holds, by the
city's rules, and carried in ``application.qualified``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from shared.events.catalogue import PriorityFinding
from tests.conftest import Infra
from tests.harness import emitted, publish_and_handle
from tests.integration.review.support import (
    publicity_closed,
    publicity_opened,
    sign_stage,
    verification_completed,
)
from tests.integration.review.test_xiamen_path import STREET, accepted
from tests.services import RunningService, running_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def review(infra: Infra) -> AsyncIterator[RunningService]:
    async with running_service(infra, "review", system="rvp") as svc:
        yield svc


async def qualified_with(review: RunningService, findings: list[PriorityFinding]) -> dict:
    app_id, case_id = await accepted(review)
    await publish_and_handle(review, verification_completed(app_id, findings), subject=app_id)
    for stage, level, roles in (
        ("street_initial", "street", ["handler", "reviewer"]),
        ("district_review", "district", ["handler", "reviewer"]),
        ("city_confirmation", "city", ["handler", "reviewer", "leader"]),
    ):
        await sign_stage(review.client, case_id, stage, level, roles, street=STREET)
    notice = uuid.uuid4()
    opened = publicity_opened(app_id, notice)
    await publish_and_handle(review, opened, subject=app_id)
    await publish_and_handle(
        review, publicity_closed(app_id, notice, opened.opened_at), subject=app_id
    )
    [qualified] = await emitted(review, "application.qualified", app_id)
    return qualified


async def test_verified_findings_give_the_city_s_priority_groups_with_reasons(
    review: RunningService,
) -> None:
    qualified = await qualified_with(
        review,
        [
            PriorityFinding(kind="assistance", value="minimum_living", department="civil_affairs"),
            PriorityFinding(kind="disability", value="3", department="disabled_persons_federation"),
            PriorityFinding(kind="veteran", value="martyr_family", department="veterans_affairs"),
            PriorityFinding(kind="age", value="67", department="health"),
        ],
    )
    # Grade 3 is above the city's at_most 2: not the disability group.
    assert qualified["priority_groups"] == [
        {"code": "subsistence", "reason": "低保/特困家庭：市民政局核实最低生活保障家庭"},
        {"code": "veteran_martyr", "reason": "优抚对象及烈士家属：市退役军人事务局核实烈士遗属"},
        {
            "code": "elderly",
            "reason": "老年人家庭（60周岁以上）：市卫生健康委员会核实家庭成员年满67周岁",
        },
    ]


async def test_no_priority_finding_qualifies_without_a_group(review: RunningService) -> None:
    low_income = PriorityFinding(kind="assistance", value="low_income", department="civil_affairs")
    younger = PriorityFinding(kind="age", value="59", department="health")
    qualified = await qualified_with(review, [low_income, younger])
    assert qualified["priority_groups"] == []
