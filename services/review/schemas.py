"""Request and response bodies of the review API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.review.workflow import Role

ItemText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OpinionIn(_In):
    role: Role = Field(description="handler (经办人), reviewer (复核人) or leader (领导).")
    decision: Literal["approve", "reject", "return"] = Field(
        description="approve 同意, reject 不同意, return 退回上一环节."
    )
    opinion: str = Field(max_length=2000, description="具体审核意见（不得为空或套话）.")
    corrects: uuid.UUID | None = Field(
        default=None, description="更正时：被更正的本人签字 id（原签字保留）."
    )


class SuspendIn(_In):
    missing_items: list[ItemText] = Field(
        min_length=1, max_length=30, description="须补正的材料清单（一次性告知）."
    )
    reason: Annotated[str, StringConstraints(max_length=400)] | None = None


class ResumeIn(_In):
    note: Annotated[str, StringConstraints(max_length=400)] | None = None


class SignatureOut(BaseModel):
    id: uuid.UUID
    stage: str
    role: str
    decision: str
    opinion: str
    signer: str
    signer_name: str
    signer_org: str
    signed_at: datetime
    corrects: uuid.UUID | None


class SuspensionOut(BaseModel):
    id: uuid.UUID
    missing_items: list[str]
    reason: str
    suspended_by: str
    suspended_at: datetime
    resumes_by: datetime
    resumed_at: datetime | None
    automatic: bool | None
    resumed_by: str | None
    suspended_working_days: int | None


class StageRunOut(BaseModel):
    id: uuid.UUID
    stage: str
    name: str
    round: int
    level: str
    unit: str
    status: str
    signatures_required: list[str]
    next_signature: str | None
    requires_verification: bool
    time_limit_working_days: int
    started_at: datetime
    due_date: date
    due_at: datetime
    yellow_at: datetime
    fallback_years: list[int]
    suspended_working_days: int
    # What the stage's supplement suspensions may still use (its limit is their total).
    suspension_left_working_days: int
    overdue_at: datetime | None
    completed_at: datetime | None
    outcome: str | None
    signatures: list[SignatureOut]
    suspensions: list[SuspensionOut]


class VerificationOut(BaseModel):
    recommendation: str
    reasons: list[str]
    discrepancies: list[dict[str, Any]]
    missing_departments: list[str]
    parameters_version: int
    completed_at: datetime


class ObjectionOut(BaseModel):
    objection_id: uuid.UUID
    notice_id: uuid.UUID
    filed_at: datetime | None
    outcome: str | None
    conclusion: str | None
    concluded_at: datetime | None


class CaseOut(BaseModel):
    id: uuid.UUID
    application_id: uuid.UUID
    tracking_no: str
    city: str
    district: str
    street: str
    category: str
    applicant_name_masked: str
    member_count: int
    workflow: str
    workflow_version: int
    status: str
    current_stage: str | None
    opened_at: datetime
    decided_at: datetime | None
    outcome: str | None
    reasons: list[str]
    stop_reason: str | None = None  # credit_ban: ended by a ban, not by a signature
    notice_id: uuid.UUID | None
    publicity_opened_at: datetime | None
    publicity_closes_at: datetime | None
    publicity_closed_at: datetime | None
    publicity_closed_early: bool | None
    qualified_at: datetime | None
    verification: VerificationOut | None
    stages: list[StageRunOut]
    objections: list[ObjectionOut]


class TaskOut(BaseModel):
    case_id: uuid.UUID
    application_id: uuid.UUID
    tracking_no: str
    applicant_name_masked: str
    category: str
    stage: str
    stage_name: str
    round: int
    level: str
    unit: str
    signature: str = Field(description="The signature due from you: handler/reviewer/leader.")
    status: str = Field(description="active, or suspended (补件挂起: the clock stands still).")
    started_at: datetime
    due_date: date
    due_at: datetime
    working_days_left: int = Field(description="Negative once the deadline passed.")
    fallback_years: list[int] = Field(
        description="Years the deadline counted Monday-Friday (no official calendar yet)."
    )
    yellow: bool
    overdue: bool


class SignResult(BaseModel):
    signature: SignatureOut
    opinion_quality: str
    stage_status: str
    next_signature: str | None
    case_status: str
    current_stage: str | None


class WorkflowOut(BaseModel):
    name: str
    version: int
    title: str
    source: str
    active: bool
    total_limit_working_days: int | None
    budget_working_days: int
    definition: dict[str, Any]
    mermaid: str


class ImportedSignatureIn(_In):
    """One historical signature (签字) of the old system: who signed which tier, and when."""

    legacy_case_no: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,59}$")
    ] = Field(description="原系统案卷号（与受理导入的案卷号一致）")
    stage: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")] = Field(
        description="环节代码，如 street_initial"
    )
    level: Literal["street", "district", "city"] = Field(description="街道初审、区级审核、市级复核")
    unit: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}([0-9]{3})?$")] = Field(
        description="办理单位代码"
    )
    role: Role = Field(description="handler 经办人、reviewer 复核人、leader 领导")
    decision: Literal["approve", "reject", "return"] = "approve"
    signer: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="签字人账号（原系统）"
    )
    signed_at: datetime = Field(description="原系统签字时间（须带时区）")
    opinion: str = Field(default="", max_length=2000, description="审核意见原文")
