"""A tax office's department system in 30 lines: answers verification requests (协查请求)
from its own records. Run: HOUSING_DEPARTMENT_AMQP_URL=amqp://dept_tax:…@mq:5672/ python
department.py"""

import asyncio
import logging
import os
from decimal import Decimal

from housing_department_sdk import Answer, DepartmentClient, IncomeFinding, VerificationRequested

# Your records (a database query in a real system): declared wages per resident ID.
MONTHLY_WAGES = {"35020319900101123X": Decimal("6200.00")}


async def check(request: VerificationRequested) -> Answer:
    findings = [
        IncomeFinding(
            member_ref=s.member_ref,  # echo the platform's reference, never the ID number
            kind="income",
            monthly_amount=MONTHLY_WAGES[s.resident_id],
            source="wages",
        )
        for s in request.subjects
        if s.resident_id in MONTHLY_WAGES
    ]
    if findings:
        return Answer(findings=findings, answered_by="tax-example")
    return Answer.nothing_on_record(answered_by="tax-example")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    client = DepartmentClient(
        department="tax",
        amqp_url=os.environ["HOUSING_DEPARTMENT_AMQP_URL"],
        handler=check,
        exchange=os.environ.get("HOUSING_VERIFICATION_EXCHANGE", "housing.verification"),
        queue_prefix=os.environ.get("HOUSING_QUEUE_PREFIX", "housing"),
    )
    asyncio.run(client.run_until_signalled())
