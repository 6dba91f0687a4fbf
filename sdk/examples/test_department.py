"""The example department's own tests, as a department writes them with the SDK's harness:
the recorded request answered through a real broker (HOUSING_TEST_AMQP_URL, a throw-away
broker whose user may declare queues). Run: python -m pytest test_department.py"""

import asyncio
import os
import uuid
from decimal import Decimal

from department import check
from housing_department_sdk import answer_event_id
from housing_department_sdk.testing import FakePlatform, recorded_request

BROKER = os.environ.get("HOUSING_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def test_the_recorded_request_is_answered_with_the_applicants_wages() -> None:
    async def scenario() -> None:
        async with FakePlatform(BROKER, "tax") as platform:
            received = await platform.round_trip(check)
            request = recorded_request("tax")
            assert received.routing_key == "response.tax"
            request_id = uuid.UUID(request.data["request_id"])
            assert received.envelope.id == answer_event_id("tax", request_id)
            assert received.envelope.correlation_id == request.correlation_id
            applicant = request.data["subjects"][0]["member_ref"]
            assert [(f.member_ref, f.monthly_amount) for f in received.findings] == [
                (applicant, Decimal("6200.00"))
            ]

    asyncio.run(scenario())


def test_a_household_unknown_to_us_is_nothing_on_record() -> None:
    async def scenario() -> None:
        async with FakePlatform(BROKER, "tax") as platform:
            request = recorded_request("tax", request_id=uuid.uuid4())
            request.data["subjects"].pop(0)  # only the spouse, who has no wages on record
            received = await platform.round_trip(check, request)
            assert received.no_record is True
            assert received.findings == []

    asyncio.run(scenario())
