"""Request and response models of the publication API (public and staff)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.publication.domain import NoticeKind
from shared.pagination import Page
from shared.pii import MobileNumber

TrackingNo = Field(pattern=r"^[A-Za-z0-9-]{4,40}$", description="查询编号")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# -- staff ------------------------------------------------------------------------------------


class NoticeCreate(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "qualification",
                    "unit": "350203",
                    "batch": "2026-12",
                    "opens_at": "2026-12-07T00:00:00Z",
                    "days": 7,
                    "application_ids": [
                        "5b0e7c3a-2f4d-4e8b-9a1c-6d2e3f4a5b6c",
                        "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                    ],
                }
            ]
        }
    )

    kind: NoticeKind = Field(description="公示/公告类型")
    unit: str = Field(pattern=r"^[0-9]{6}([0-9]{3})?$", description="发布单位（行政区划代码）")
    batch: str | None = Field(default=None, min_length=1, max_length=64, description="批次")
    opens_at: AwareDatetime | None = Field(default=None, description="开始时间，缺省为立即发布")
    days: int = Field(ge=1, le=365, description="公示天数（自然日）")
    application_ids: list[uuid.UUID] | None = Field(
        default=None,
        min_length=1,
        max_length=5000,
        description="列入的申请；资格、受理、异议结论类缺省时自动汇集",
    )


class NoticeClose(_In):
    reason: str = Field(min_length=4, max_length=500, description="提前结束的理由")


class ObjectionConclusionIn(_In):
    outcome: Literal["sustained", "dismissed"] = Field(description="异议成立 / 不成立")
    conclusion: str = Field(min_length=4, max_length=500, description="核查结论（将公开）")


class StaffObjection(BaseModel):
    objection_id: uuid.UUID
    notice_id: uuid.UUID
    entry_id: uuid.UUID
    application_id: uuid.UUID
    unit: str
    contact_masked: str
    content: str
    filed_at: datetime
    conclude_by: date
    status: str
    outcome: str | None
    conclusion: str | None
    concluded_at: datetime | None


# -- public -----------------------------------------------------------------------------------


class ObjectionIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "notice_id": "5b0e7c3a-2f4d-4e8b-9a1c-6d2e3f4a5b6c",
                    "entry_id": "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                    "contact": "13912345678",
                    "content": "该户申请人名下在本市另有住房一套，请予核查。",
                }
            ]
        }
    )

    notice_id: uuid.UUID = Field(description="公示编号")
    entry_id: uuid.UUID = Field(description="被异议的公示条目")
    contact: MobileNumber = Field(description="联系电话（不公开）")
    content: str = Field(min_length=10, max_length=2000, description="异议内容")


class ObjectionReceipt(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "objection_id": "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                    "status": "pending",
                    "filed_at": "2026-12-08T02:00:00Z",
                    "conclude_by": "2026-12-22",
                }
            ]
        }
    )

    objection_id: uuid.UUID
    status: str
    filed_at: datetime
    conclude_by: date


class PublicObjection(BaseModel):
    objection_id: uuid.UUID
    notice_id: uuid.UUID
    entry_id: uuid.UUID
    status: str
    status_title: str
    filed_at: datetime
    conclude_by: date
    outcome: str | None
    outcome_title: str | None
    conclusion: str | None
    concluded_at: datetime | None


class NoticeSummary(BaseModel):
    id: uuid.UUID
    notice_no: str
    kind: str
    title: str
    unit: str
    unit_name: str
    batch: str | None
    status: str
    status_title: str
    opens_at: datetime
    closes_at: datetime
    planned_days: int
    opened_at: datetime | None
    closed_at: datetime | None
    closed_early: bool
    early_close_reason: str | None
    entry_count: int
    accepts_objections: bool


class NoticeEntry(BaseModel):
    entry_id: uuid.UUID
    seq: int
    name_masked: str
    id_masked: str
    street: str
    street_name: str
    category: str
    category_name: str
    member_count: int | None
    remark: str | None
    objections: int
    objection_conclusions: list[str]


class NoticeDetail(NoticeSummary):
    entries: Page[NoticeEntry]
    # Lottery shortlist (摇号入围名单): the frozen pool's digest and the round it belongs to.
    round_id: uuid.UUID | None = None
    pool_digest: str | None = None


class WaitingPosition(BaseModel):
    """The household's place on the waiting list (轮候), as the progress query shows it."""

    category: str
    category_name: str
    status: str
    status_title: str
    position: int | None = Field(description="轮候位次（仅轮候中时）")
    waiting_in_category: int


class ProgressStep(BaseModel):
    """One step of the process (办理环节) and where the application stands to it."""

    key: str
    title: str
    state: Literal["done", "current", "todo"] = Field(
        description="done 已完成，current 当前环节，todo 未到"
    )


class Progress(BaseModel):
    tracking_no: str
    stage: str
    stage_title: str
    steps: list[ProgressStep] = Field(default_factory=list, description="全部办理环节")
    missing_materials: list[str] = Field(
        default_factory=list, description="待补充材料（仅待补充材料时）"
    )
    supplement_deadline: date | None = Field(default=None, description="补充材料截止日期")
    submitted_at: datetime | None
    accepted_at: datetime | None
    stage_due_at: datetime | None
    decided_at: datetime | None
    publicity_opened_at: datetime | None
    publicity_closes_at: datetime | None
    updated_at: datetime
    waiting: WaitingPosition | None = None


class DisclosureSectionInfo(BaseModel):
    section: str
    title: str
    description: str
    count: int


class DisclosureSection(BaseModel):
    section: str
    title: str
    description: str
    note: str | None
    # housing_stock: units by status (vacant, reserved, let, under_repair, recovered).
    summary: dict[str, int] | None = None
    page: Page[dict[str, Any]]


class BlacklistEntry(BaseModel):
    record_id: uuid.UUID
    agency_name: str
    org_credit_code: str | None
    behaviour: str
    behaviour_title: str
    listed_on: date
    until: date | None


class RankedEntry(BaseModel):
    rank: int
    name_masked: str | None
    id_masked: str | None
    priority_tier: int


class LotteryRound(BaseModel):
    """A lottery round (摇号) as published: the values anyone needs to re-run the draw with
    ``tools/verify_lottery.py`` and the files allocation serves for it."""

    round_id: uuid.UUID
    category: str
    category_name: str
    households: int
    pool_digest: str
    cut_off: datetime | None
    objection_until: datetime | None
    shortlist_notice_id: uuid.UUID | None
    commitment: str | None
    public_input: str | None
    secret: str | None
    seed: str | None
    drawn_at: datetime | None
    files: dict[str, str]


class LotteryRanking(LotteryRound):
    ranking: Page[RankedEntry]


class WaitingStatistics(BaseModel):
    category: str
    category_name: str
    households_waiting: int
    average_waiting_days: float
    allocations_per_quarter: dict[str, int]
    subsidies_per_quarter: dict[str, int]


class CreditNoticeEntry(BaseModel):
    """A public credit notice (信用公告): an announcement replacing an undeliverable notice
    letter (公告送达) or an exposed typical case (典型案例曝光). Masked as received."""

    record_id: uuid.UUID
    kind: Literal["announcement", "typical_case"]
    kind_label: str
    subject: str
    subject_id_masked: str | None
    behaviour_title: str
    record_no: str | None
    kind_title: str | None
    text: str
    correction_deadline: date | None
    filed_on: date | None
    ban_ends_on: date | None
    published_at: datetime


class PublishedCheckpoint(BaseModel):
    """A service's signed audit chain head (审计日志签名检查点) as published; the form
    ``python -m shared.audit verify --checkpoints`` reads (docs/audit.md)."""

    service: str
    seq: int
    head_hash: str
    signed_at: datetime
    key_id: str
    public_key: str = Field(description="The key the checkpoint names; trust the service's own.")
    signature: str


class LotteryCommitment(BaseModel):
    """A round's commitment as allocation published it before the draw, beside the one the
    draw says it used: ``matches`` false means the secret changed after it was published."""

    round_id: uuid.UUID
    category: str
    pool_digest: str
    commitment: str = Field(description="承诺值：摇号前公布的秘密值摘要（SHA-256）")
    committed_at: datetime
    published_at: datetime = Field(description="本平台收到并公开的时间")
    drawn: bool
    drawn_commitment: str | None = Field(description="摇号时所用秘密值的摘要；未摇号为空")
    matches: bool | None = Field(description="摇号所用与摇号前公布的承诺值是否一致；未摇号为空")
