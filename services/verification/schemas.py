"""HTTP request and response models of the verification API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.city import AdmissionParameters
from shared.events.catalogue import Finding, RequestPurpose, Subject


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- department HTTP alternative ----------------------------------------------------------------


class DepartmentRequestView(BaseModel):
    """A request as the department sees it (the same content as verification.requested)."""

    request_id: uuid.UUID
    case_id: uuid.UUID
    application_id: uuid.UUID
    department: str
    requested_at: datetime
    deadline: date = Field(description="Last day to answer (inclusive).")
    time_limit_working_days: int
    status: Literal["pending", "answered"]
    overdue: bool = Field(description="The deadline has passed without an answer.")
    subjects: list[Subject]
    purpose: RequestPurpose = Field(
        default="admission",
        description="admission (准入核查) or re_review (年度复核); answered the same way.",
    )


class AnswerIn(_In):
    """A department's answer (协查反馈). Say "no record" explicitly with ``no_record: true``;
    an answer with neither findings nor ``no_record`` is accepted but recorded as empty (R6)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "no_record": False,
                    "findings": [
                        {
                            "member_ref": "9f2c4e1a7b3d5f60" * 4,
                            "kind": "property",
                            "area_m2": "45.60",
                            "location": "厦门市湖里区某小区8号楼1202室",
                            "division": "350206",
                        }
                    ],
                    "answered_by": "bdc-system-01",
                    "answered_at": "2026-12-03T06:15:00Z",
                }
            ]
        }
    )

    no_record: bool = Field(description="Searched, nothing on record for any subject (查无记录).")
    findings: list[Finding] = Field(default_factory=list, max_length=500)
    answered_by: str | None = Field(
        default=None, max_length=128, description="Operator or system id at the department."
    )
    answered_at: AwareDatetime | None = Field(
        default=None, description="When the department answered; the server records its own."
    )

    @model_validator(mode="after")
    def _no_record_means_no_findings(self) -> Self:
        if self.no_record and self.findings:
            raise ValueError("no_record 为 true 时不能同时提交核查结果（findings）")
        return self


class AnswerReceipt(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": "0b6f8d3e-7a21-4c55-9e0f-2d8c1b7a4e93",
                    "case_id": "5e2a9c71-3b4d-4f86-a0e1-7c9d2b3a4f58",
                    "department": "public_security",
                    "duplicate": False,
                    "empty": False,
                    "late": False,
                    "case_completed": False,
                }
            ]
        }
    )

    request_id: uuid.UUID
    case_id: uuid.UUID
    department: str
    duplicate: bool = Field(
        description="The request was already answered; the first answer stands."
    )
    empty: bool = Field(description="Recorded as an empty answer (R6).")
    late: bool = Field(description="Received after the deadline.")
    case_completed: bool = Field(description="This answer completed the verification case.")


# -- verification case --------------------------------------------------------------------------


class DepartmentStatus(BaseModel):
    department: str
    name: str
    status: Literal["pending", "answered"]
    deadline: date
    overdue: bool
    answered_at: datetime | None
    channel: str | None
    no_record: bool | None
    empty: bool | None
    late: bool | None


class VerificationView(BaseModel):
    case_id: uuid.UUID
    application_id: uuid.UUID
    tracking_no: str
    category: str
    street: str
    status: Literal["open", "completed"]
    started_at: datetime
    due_on: date
    completed_at: datetime | None
    recommendation: str | None
    result: dict[str, Any] | None = Field(
        description="The verification.completed payload: profile, reasons, discrepancies."
    )
    departments: list[DepartmentStatus]


# -- admission parameters -----------------------------------------------------------------------


class ProposalIn(_In):
    """A proposed change of a category's admission parameters (准入参数变更申请)."""

    category: str = Field(description="Application category code from the city configuration.")
    effective_from: date = Field(description="First acceptance date the new values apply to.")
    parameters: AdmissionParameters
    reason: str = Field(min_length=1, max_length=500, description="Why (变更理由), in Chinese.")


class ParameterSetView(BaseModel):
    id: uuid.UUID
    city: str
    category: str
    version: int | None = Field(description="Assigned at approval; null while proposed.")
    status: Literal["proposed", "approved", "rejected"]
    parameters: dict[str, Any]
    effective_from: date
    reason: str | None
    proposed_by: str
    proposed_at: datetime
    decided_by: str | None
    decided_at: datetime | None
