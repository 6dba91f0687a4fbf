"""Helpers for the review integration tests: the events peers would send, signatures through
the HTTP API (publishing and reading the outbox come from ``tests.harness``)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml

from shared.city import DEFAULT_CITY_PATH
from shared.clock import now
from shared.events.catalogue import (
    EconomicProfile,
    ObjectionConcluded,
    ObjectionFiled,
    PriorityFinding,
    PublicityClosed,
    PublicityOpened,
    VerificationCompleted,
)
from tests.harness import emitted
from tests.services import RunningService, token

OPINION = "经核查，家庭人均月收入2100元，名下无住房，材料齐全，符合申请条件，同意。"


def city_file(directory: Path, workflow: str) -> Path:
    """A copy of the demo city that chooses ``workflow``."""
    data = yaml.safe_load(DEFAULT_CITY_PATH.read_text(encoding="utf-8"))
    data["workflow"] = workflow
    path = directory / f"city-{workflow}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


async def case_of(svc: RunningService, application_id: uuid.UUID) -> uuid.UUID:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        opened = await emitted(svc, "review.case_opened", application_id)
        if opened:
            return uuid.UUID(opened[0]["case_id"])
        await asyncio.sleep(0.05)
    raise AssertionError("no case opened")


def verification_completed(
    application_id: uuid.UUID, priority_findings: list[PriorityFinding] | None = None
) -> VerificationCompleted:
    return VerificationCompleted(
        case_id=uuid.uuid4(),
        application_id=application_id,
        category="low_income_family",
        completed_at=now(),
        recommendation="eligible",
        reasons=[
            "家庭人均月收入2100.00元，不高于4500.00元",
            "人均住房建筑面积0.00㎡，不高于15.00㎡",
        ],
        profile=EconomicProfile(
            member_count=2,
            monthly_income_total=Decimal("4200.00"),
            per_capita_monthly_income=Decimal("2100.00"),
            financial_assets=Decimal("20000.00"),
            housing_area_m2=Decimal("0"),
            per_capita_housing_area_m2=Decimal("0"),
            vehicle_count=0,
            vehicle_value=Decimal("0"),
            business_count=0,
            registered_capital_total=Decimal("0"),
        ),
        parameters_version=1,
        priority_findings=priority_findings or [],
    )


def publicity_opened(application_id: uuid.UUID, notice_id: uuid.UUID) -> PublicityOpened:
    at = now()
    return PublicityOpened(
        notice_id=notice_id,
        kind="qualification",
        city="350200",
        unit="350200",
        application_ids=[application_id],
        opened_at=at,
        closes_at=at + timedelta(days=7),
        planned_days=7,
    )


def publicity_closed(
    application_id: uuid.UUID, notice_id: uuid.UUID, opened_at: datetime, *, early: bool = False
) -> PublicityClosed:
    return PublicityClosed(
        notice_id=notice_id,
        kind="qualification",
        application_ids=[application_id],
        opened_at=opened_at,
        closed_at=now(),
        closed_early=early,
        override_by="admin-1" if early else None,
        reason="系统维护提前结束" if early else None,
    )


def objection_filed(application_id: uuid.UUID, notice_id: uuid.UUID) -> ObjectionFiled:
    return ObjectionFiled(
        objection_id=uuid.uuid4(),
        notice_id=notice_id,
        application_id=application_id,
        channel="online",
        anonymous=True,
        filed_at=now(),
    )


def objection_concluded(filed: ObjectionFiled, outcome: str) -> ObjectionConcluded:
    return ObjectionConcluded(
        objection_id=filed.objection_id,
        notice_id=filed.notice_id,
        application_id=filed.application_id,
        outcome=outcome,  # type: ignore[arg-type]
        conclusion="经核查，反映的情况不属实。"
        if outcome == "dismissed"
        else "经核查，该户隐瞒房产。",
        concluded_by="city-clerk-1",
        concluded_at=now(),
    )


# Who signs where: (token role, org) per (level, signature role).
def signer(level: str, role: str, street: str) -> tuple[str, str]:
    org = {"street": street, "district": street[:6], "city": "350200"}[level]
    if role == "leader":
        return "city_leader", org
    return f"{level}_{'clerk' if role == 'handler' else 'reviewer'}", org


async def sign(
    client: httpx.AsyncClient,
    case_id: uuid.UUID,
    stage: str,
    level: str,
    role: str,
    *,
    street: str,
    decision: str = "approve",
    opinion: str = OPINION,
    sub: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    staff, org = signer(level, role, street)
    return await client.post(
        f"/cases/{case_id}/stages/{stage}/opinions",
        json={"role": role, "decision": decision, "opinion": opinion},
        headers={
            **token(staff, org=org, sub=sub or f"{staff}-{org}", name="王*明"),
            **(headers or {}),
        },
    )


async def sign_stage(
    client: httpx.AsyncClient,
    case_id: uuid.UUID,
    stage: str,
    level: str,
    roles: list[str],
    *,
    street: str,
    decision: str = "approve",
) -> list[dict[str, Any]]:
    results = []
    for role in roles:
        response = await sign(client, case_id, stage, level, role, street=street, decision=decision)
        assert response.status_code == 201, response.text
        results.append(response.json())
    return results
