"""Review consults credit bans on the real database and broker: a ban imposed on a member
during review stops the case with the reason ``credit_ban``; a case accepted while a ban is in
force stops at once; lifting the ban resurrects nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from shared.clock import today_shanghai
from shared.events.catalogue import CreditBanImposed, CreditBanLifted
from tests.conftest import Infra
from tests.examples import accepted_application
from tests.harness import emitted, publish_and_handle
from tests.integration.review.support import case_of, sign, verification_completed
from tests.services import RunningService, running_service, token

pytestmark = pytest.mark.integration

STREET = "350203001"
REASON = "申请家庭成员因失信行为被禁止申请（至{:%Y-%m-%d}），审核终止"


@pytest.fixture(scope="module")
async def review(infra: Infra) -> AsyncIterator[RunningService]:
    async with running_service(infra, "review", system="rvb") as svc:
        yield svc


def ban(id_hash: str, *, kind: str = "family", years: int = 3) -> CreditBanImposed:
    today = today_shanghai()
    return CreditBanImposed(
        record_id=uuid.uuid4(),
        id_hash=id_hash,
        subject_kind=kind,  # type: ignore[arg-type]
        severity="serious",
        starts_on=today,
        ends_on=today.replace(year=today.year + years),
    )


async def case_view(review: RunningService, case_id: uuid.UUID) -> dict:
    response = await review.client.get(
        f"/cases/{case_id}", headers=token("city_clerk", org="350200")
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_ban_during_review_stops_the_case_and_lifting_does_not_resurrect(
    review: RunningService,
) -> None:
    application = accepted_application(STREET)
    app_id = application.application_id
    await publish_and_handle(review, application, subject=app_id)
    case_id = await case_of(review, app_id)
    await publish_and_handle(review, verification_completed(app_id), subject=app_id)
    spouse = application.household.members[1].member_id_hash

    imposed = ban(spouse)
    await publish_and_handle(review, imposed, subject=imposed.record_id)

    reason = REASON.format(imposed.ends_on)
    [rejected] = await emitted(review, "application.rejected", app_id)
    assert rejected["reason_code"] == "credit_ban"
    assert rejected["reasons"] == [reason]
    assert rejected["stage"] == "street_initial"
    assert rejected["case_id"] == str(case_id)
    [decided] = await emitted(review, "review.decided", app_id)
    assert (decided["outcome"], decided["decided_by"]) == ("rejected", "system:credit")
    [completed] = await emitted(review, "review.stage_completed", app_id)
    assert (completed["stage"], completed["outcome"]) == ("street_initial", "reject")

    view = await case_view(review, case_id)
    assert (view["status"], view["stop_reason"], view["reasons"]) == (
        "rejected",
        "credit_ban",
        [reason],
    )
    assert view["current_stage"] is None

    # Nobody can sign on the stopped case.
    refused = await sign(
        review.client, case_id, "street_initial", "street", "handler", street=STREET
    )
    assert refused.status_code == 409, refused.text

    # The same ban delivered again changes nothing; lifting it reopens nothing.
    await publish_and_handle(review, imposed, subject=imposed.record_id)
    lifted = CreditBanLifted(
        record_id=imposed.record_id,
        id_hash=spouse,
        lifted_on=today_shanghai(),
        early=True,
        reason="经复核，处理依据不足，提前解除",
    )
    await publish_and_handle(review, lifted, subject=imposed.record_id)
    assert len(await emitted(review, "application.rejected", app_id)) == 1
    assert len(await emitted(review, "review.stage_started", app_id)) == 1
    assert (await case_view(review, case_id))["status"] == "rejected"


async def test_case_accepted_during_a_ban_stops_before_its_first_stage(
    review: RunningService,
) -> None:
    first = accepted_application(STREET)
    applicant = first.household.members[0].member_id_hash
    imposed = ban(applicant)
    await publish_and_handle(review, imposed, subject=imposed.record_id)

    # Same family, accepted while the ban is in force.
    second = first.model_copy(update={"application_id": uuid.uuid4()})
    await publish_and_handle(review, second, subject=second.application_id)
    case_id = await case_of(review, second.application_id)
    [rejected] = await emitted(review, "application.rejected", second.application_id)
    assert rejected["reason_code"] == "credit_ban"
    assert rejected["stage"] is None
    assert await emitted(review, "review.stage_started", second.application_id) == []
    assert (await case_view(review, case_id))["stop_reason"] == "credit_ban"

    # After the ban was lifted, a new application from the family is reviewed normally.
    lifted = CreditBanLifted(
        record_id=imposed.record_id,
        id_hash=applicant,
        lifted_on=today_shanghai(),
        early=True,
        reason="经复核，处理依据不足，提前解除",
    )
    await publish_and_handle(review, lifted, subject=imposed.record_id)
    third = first.model_copy(update={"application_id": uuid.uuid4()})
    await publish_and_handle(review, third, subject=third.application_id)
    await case_of(review, third.application_id)
    assert await emitted(review, "application.rejected", third.application_id) == []
    [started] = await emitted(review, "review.stage_started", third.application_id)
    assert started["stage"] == "street_initial"


async def test_bans_on_organisations_or_in_the_past_stop_nothing(review: RunningService) -> None:
    application = accepted_application(STREET)
    app_id = application.application_id
    await publish_and_handle(review, application, subject=app_id)
    await case_of(review, app_id)
    member = application.household.members[0].member_id_hash
    employer_ban = ban(member, kind="employer")
    today = today_shanghai()
    expired = CreditBanImposed(
        record_id=uuid.uuid4(),
        id_hash=member,
        subject_kind="family",
        severity="general",
        starts_on=today - timedelta(days=400),
        ends_on=today - timedelta(days=35),
    )
    await publish_and_handle(review, employer_ban, subject=employer_ban.record_id)
    await publish_and_handle(review, expired, subject=expired.record_id)
    assert await emitted(review, "application.rejected", app_id) == []
