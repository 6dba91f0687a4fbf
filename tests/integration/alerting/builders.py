"""Catalogue events as the other services publish them, with defaults a test can override."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events import catalogue as ev
from tests.examples import accepted_application

T0 = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)  # Monday 09:00 in Xiamen


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def accepted(street: str, **changes: Any) -> ev.ApplicationAccepted:
    base = accepted_application(street=street)
    values = base.model_dump()
    values.update(application_id=uuid.uuid4(), accepted_at=T0, **changes)
    return ev.ApplicationAccepted.model_validate(values)


def uploaded(
    application_id: uuid.UUID, size: int, material_type: str = "id_card", at: datetime = T0
) -> ev.ApplicationMaterialsUploaded:
    return ev.ApplicationMaterialsUploaded(
        application_id=application_id,
        material_id=uuid.uuid4(),
        material_type=material_type,
        sha256=sha(str(uuid.uuid4())),
        size_bytes=size,
        uploaded_by="clerk-001",
        uploaded_at=at,
    )


def stage_started(
    application_id: uuid.UUID,
    case_id: uuid.UUID,
    *,
    stage: str = "street_initial",
    level: str = "street",
    unit: str,
    started_at: datetime = T0,
    due_at: datetime,
) -> ev.ReviewStageStarted:
    return ev.ReviewStageStarted(
        case_id=case_id,
        application_id=application_id,
        stage=stage,
        level=level,
        unit=unit,
        started_at=started_at,
        due_at=due_at,
        time_limit_working_days=5,
    )


def stage_completed(
    application_id: uuid.UUID,
    case_id: uuid.UUID,
    *,
    stage: str = "street_initial",
    level: str = "street",
    unit: str,
    at: datetime,
    overdue: bool = False,
    days: int = 5,
) -> ev.ReviewStageCompleted:
    return ev.ReviewStageCompleted(
        case_id=case_id,
        application_id=application_id,
        stage=stage,
        level=level,
        unit=unit,
        outcome="approve",
        completed_at=at,
        working_days_used=days,
        overdue=overdue,
    )


def signed(
    application_id: uuid.UUID,
    case_id: uuid.UUID,
    *,
    role: str,
    at: datetime,
    stage: str = "street_initial",
    level: str = "street",
    unit: str,
    quality: str = "specific",
    decision: str = "approve",
) -> ev.ReviewOpinionSigned:
    return ev.ReviewOpinionSigned(
        case_id=case_id,
        application_id=application_id,
        stage=stage,
        level=level,
        unit=unit,
        role=role,
        decision=decision,
        signer=f"{role}-1",
        signed_at=at,
        opinion_quality=quality,
    )


def publicity_opened(
    application_ids: list[uuid.UUID],
    *,
    unit: str = "350200",
    days: int = 7,
    batch: str | None = None,
    notice_id: uuid.UUID | None = None,
    at: datetime = T0,
) -> ev.PublicityOpened:
    return ev.PublicityOpened(
        notice_id=notice_id or uuid.uuid4(),
        kind="qualification",
        city="350200",
        unit=unit,
        batch=batch,
        application_ids=application_ids,
        opened_at=at,
        closes_at=at + timedelta(days=days),
        planned_days=days,
    )


def end_of_day_utc(year: int, month: int, day: int) -> datetime:
    """The instant a deadline on that Xiamen day ends (23:59:59.999999 +08:00)."""
    return datetime(year, month, day, 15, 59, 59, 999999, tzinfo=UTC)
