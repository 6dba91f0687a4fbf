"""The city office's feedback on a red ticket (alerting's ``ticket.feedback_reported``) reaches
the provincial platform through publication's push, on the stream of the application."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.publication.adapters.province import Pusher
from shared.events.catalogue import TicketFeedbackReported
from shared.scheduler import run_once
from tests.harness import handled, publish
from tests.integration.publication.conftest import Stack

pytestmark = pytest.mark.integration


async def test_ticket_feedback_is_pushed_to_the_province(stack: Stack) -> None:
    pusher = Pusher(stack.config)
    pusher.city = "350200"
    application_id = uuid.uuid4()
    feedback = TicketFeedbackReported(
        ticket_id=uuid.uuid4(),
        ticket_no="HD-20261127-0A1B2C3D",
        rule_id="R1",
        application_id=application_id,
        unit="350206002",
        category="acceptance",
        cause_kind="human",
        cause="窗口人员漏录受理回执",
        handling_opinion="已补录回执并约谈经办人",
        summary_text="市住房保障办报省：已整改",
        opened_at=datetime(2026, 11, 20, 1, 0, tzinfo=UTC),
        handled_at=datetime(2026, 11, 20, 3, 0, tzinfo=UTC),
        reported_by="office-1",
        reported_at=datetime(2026, 11, 27, 2, 0, tzinfo=UTC),
    )
    sent = await publish(stack.svc, feedback, producer="alerting")
    await handled(stack.svc, *sent)
    assert await run_once(stack.svc.runtime, "province-push-feedback", pusher.sweep)
    stream = f"application:{application_id}"
    [pushed] = [p for p in stack.receiver.received if p["stream"] == stream]
    assert (pushed["type"], pushed["city"]) == ("ticket.feedback_reported", "350200")
    assert pushed["data"] == {
        "ticket_id": str(feedback.ticket_id),
        "ticket_no": "HD-20261127-0A1B2C3D",
        "rule_id": "R1",
        "application_id": str(application_id),
        "unit": "350206002",
        "department": None,
        "category": "acceptance",
        "cause_kind": "human",
        "cause": "窗口人员漏录受理回执",
        "handling_opinion": "已补录回执并约谈经办人",
        "summary_text": "市住房保障办报省：已整改",
        "opened_at": "2026-11-20T01:00:00Z",
        "handled_at": "2026-11-20T03:00:00Z",
        "reported_at": "2026-11-27T02:00:00Z",
    }
    # The staff member who reported stays in the city.
    assert "office-1" not in str(pushed)
