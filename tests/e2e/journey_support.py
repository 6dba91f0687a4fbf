"""Helpers for the end-to-end journey: polling, a household, departments that answer
consistently with it, and the reference provincial receiver on a real port."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import uvicorn

from shared.city import city_config
from shared.events.catalogue import (
    HukouFinding,
    IncomeFinding,
    MarriageFinding,
    VerificationRequested,
)
from simulators.applicants import DECLARED_MONTHLY_INCOME, couple_application
from simulators.province import ProvinceReceiver, create_app
from simulators.sdk import Answer

T = TypeVar("T")
# What the demo city requires of a newly-employed household: upload these and the receipt says
# complete.
MATERIALS = tuple(city_config().category("newly_employed").required_materials)


async def eventually(
    check: Callable[[], Awaitable[T | None]], timeout: float = 20.0, what: str = "condition"
) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block and restore the previous values after it."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@asynccontextmanager
async def province_receiver(secret: str) -> AsyncIterator[tuple[ProvinceReceiver, str]]:
    """The reference provincial receiver served by uvicorn on a free port: (receiver, url)."""
    receiver = ProvinceReceiver(secret=secret)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(receiver), host="127.0.0.1", port=port, log_config=None, lifespan="off"
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        yield receiver, f"http://127.0.0.1:{port}/pushes"
    finally:
        server.should_exit = True
        await serving


def application_body(
    applicant_id: str, spouse_id: str, *, category: str, street: str
) -> dict[str, Any]:
    """An online application of a married couple, both earning the declared income."""
    return couple_application(applicant_id, spouse_id, category=category, street=street)


class HonestDepartment:
    """A department whose records agree with what the household declared: the tax office
    knows the declared wages, public security the local hukou, civil affairs the marriage;
    every other department has nothing on record (said explicitly, so it is not empty)."""

    def __init__(self, department: str) -> None:
        self.department = department
        self.requests: list[VerificationRequested] = []

    async def __call__(self, request: VerificationRequested) -> Answer:
        self.requests.append(request)
        by = f"e2e:{self.department}"
        findings: list[object] = []
        for s in request.subjects:
            if self.department == "tax":
                findings.append(
                    IncomeFinding(
                        member_ref=s.member_ref,
                        kind="income",
                        monthly_amount=DECLARED_MONTHLY_INCOME,
                        source="wages",
                    )
                )
            elif self.department == "public_security":
                findings.append(
                    HukouFinding(
                        member_ref=s.member_ref,
                        kind="hukou",
                        division=s.hukou_division or "350203",
                        residence_permit=False,
                    )
                )
            elif self.department == "civil_affairs" and s.relationship in ("applicant", "spouse"):
                findings.append(
                    MarriageFinding(member_ref=s.member_ref, kind="marriage", status="married")
                )
        if not findings:
            return Answer.nothing_on_record(answered_by=by)
        return Answer(findings=findings, answered_by=by)
