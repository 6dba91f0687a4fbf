"""Request and response bodies of the credit API (field descriptions in Chinese for clerks)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.credit.domain import NOTICE_STEPS, Category, Origin, Severity
from shared.pii import ResidentId

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CreditCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_upper=True,
        pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
    ),
    Field(description="统一社会信用代码（18位）"),
]
NoticeStepName = Literal[tuple(s.value for s in NOTICE_STEPS)]  # type: ignore[valid-type]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Evidence(_In):
    title: ShortText = Field(description="证据名称，如：不动产登记查询结果")
    reference: ShortText = Field(description="证据出处或编号（档案号、协查答复编号等）")
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        default=None, description="电子文件的SHA-256"
    )


class RecordIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "category": "family",
                    "kind": "concealed_housing",
                    "severity": "general",
                    "origin": "verification",
                    "facts": "申请时未申报名下位于湖里区的住房一套（45.60平方米）。",
                    "evidence": [
                        {
                            "title": "不动产登记查询结果",
                            "reference": "BDC-2026-000123",
                            "sha256": None,
                        }
                    ],
                    "application_id": "5b0e7c3a-2f4d-4e8b-9a1c-6d2e3f4a5b6c",
                    "resident_id": "350203198803152013",
                    "name": "林晓东",
                    "org_name": None,
                    "org_credit_code": None,
                }
            ]
        }
    )

    category: Category = Field(
        description="对象类别：family 家庭、employer 单位、agency 中介、tenancy 租后违规"
    )
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")] = Field(
        description="失信行为种类代码"
    )
    severity: Severity = Field(description="严重程度：general 一般、serious 较重、severe 严重")
    origin: Origin = Field(
        description="线索来源：verification 核对、review 审核、complaint 投诉举报、inspection 检查"
    )
    facts: Text = Field(description="失信事实")
    evidence: list[Evidence] = Field(min_length=1, max_length=50, description="证据")
    application_id: uuid.UUID | None = None
    resident_id: ResidentId | None = Field(
        default=None, description="家庭或承租人：身份证号码（只保存其加密摘要和脱敏号码）"
    )
    name: ShortText | None = Field(default=None, description="家庭或承租人：姓名（只保存脱敏姓名）")
    org_name: ShortText | None = Field(default=None, description="单位或中介：名称")
    org_credit_code: CreditCode | None = None


class ApproveIn(_In):
    note: ShortText | None = None


class ExposureIn(_In):
    summary: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=10, max_length=500)
    ] = Field(description="曝光正文（面向公众；不得含身份证号、手机号，姓名用脱敏形式）")


class ReasonIn(_In):
    reason: Text = Field(description="理由")


class NoticeStepIn(_In):
    step: NoticeStepName = Field(  # type: ignore[valid-type]
        description=(
            "下一步骤：notice_issued 发出告知函、delivered 已送达、undeliverable 未能送达、"
            "announced 已公告、corrected 已纠正、deadline_passed 逾期未纠正、"
            "recorded 记入诚信档案、lawyer_letter 寄发律师函、legal_procedure 进入法律程序"
        )
    )
    document_no: ShortText | None = Field(
        default=None, description="文书编号（告知函、公告、律师函、案号）"
    )
    note: Text | None = Field(default=None, description="说明")
    announcement: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        default=None, description="公告正文（仅 announced 步骤；缺省时按模板生成）"
    )


class CandidateConfirmIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "concealed_housing",
                    "severity": "general",
                    "facts": "协查发现申请人隐瞒住房一套，经核实属实。",
                    "resident_id": None,
                    "name": None,
                }
            ]
        }
    )

    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")] | None = Field(
        default=None, description="失信行为种类代码；缺省为系统建议的种类"
    )
    severity: Severity
    facts: Text
    resident_id: ResidentId | None = Field(
        default=None, description="对象身份证号码：候选线索不含脱敏号码时填写，须与线索对象一致"
    )
    name: ShortText | None = None


class StepOut(BaseModel):
    from_stage: str | None
    stage: str
    stage_title: str
    taken_by: str
    taken_at: datetime
    document_no: str | None
    note: str | None
    correction_deadline: date | None


class BanOut(BaseModel):
    record_id: uuid.UUID
    subject_kind: str
    severity: str
    starts_on: date
    ends_on: date
    status: str
    lifted_on: date | None = None
    early: bool | None = None
    lift_reason: str | None = None
    lift_requested_by: str | None = None
    lift_approved_by: str | None = None


class RecordOut(BaseModel):
    id: uuid.UUID
    record_no: str
    category: str
    kind: str
    kind_title: str
    severity: str
    id_hash: str
    subject_id_masked: str | None
    subject_name_masked: str | None
    org_name: str | None
    org_credit_code: str | None
    application_id: uuid.UUID | None
    origin: str
    facts: str
    evidence: list[dict[str, Any]]
    candidate_id: uuid.UUID | None
    unit: str
    recorded_by: str
    recorded_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    stage: str
    stage_title: str
    stage_at: datetime
    correction_deadline: date | None
    filed_on: date | None
    exposure_summary: str | None = None
    exposure_proposed_by: str | None = None
    exposure_approved_by: str | None = None
    exposed_at: datetime | None = None
    steps: list[StepOut] | None = None
    ban: BanOut | None = None


class BanStatusOut(BaseModel):
    id_hash: str
    banned: bool
    bans: list[BanOut]


class CandidateOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    application_id: uuid.UUID
    id_hash: str | None
    subject_id_masked: str | None
    discrepancies: list[dict[str, Any]]
    suggested_kind: str
    status: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    record_id: uuid.UUID | None


class PledgeOut(BaseModel):
    application_id: uuid.UUID
    tracking_no: str
    street: str
    applicant_name_masked: str
    applicant_id_masked: str
    member_count: int
    pledge_version: str
    pledge_signed_at: datetime
    submitted_at: datetime


class BlacklistEntryOut(BaseModel):
    record_id: uuid.UUID
    org_name: str | None
    org_credit_code: str | None
    kind: str
    kind_title: str
    listed_on: date
    until: date


class SharedRecordOut(BaseModel):
    """One filed record as other departments see it (信用记录共享): no facts or evidence."""

    record_id: uuid.UUID
    record_no: str
    subject_kind: str
    kind: str
    kind_title: str
    severity: str
    filed_on: date
    sanction_ends_on: date
    sanction_in_force: bool
    lifted_on: date | None


class PbocExportSummary(BaseModel):
    """One export to the central bank branch (人行征信), without its content."""

    id: uuid.UUID
    period_start: date
    period_end: date
    covers_from: datetime | None
    covers_to: datetime
    record_count: int
    ban_count: int
    sha256: str
    created_at: datetime
