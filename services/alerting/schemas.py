"""Request and response models of the alerting API (field names in English, texts Chinese)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.alerting.domain import FeedbackCategory

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text2000 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleOut(BaseModel):
    id: str
    colour: Literal["yellow", "red"] | None
    kind: str
    title: str
    article: str
    triggers: list[str]
    clears: str
    clears_by: str
    evaluated: bool
    notice_kinds: list[str] | None = None


class AlertOut(BaseModel):
    alert_id: uuid.UUID
    rule_id: str
    colour: str
    title: str
    application_id: uuid.UUID | None
    tracking_no: str | None = None
    case_id: uuid.UUID | None
    stage: str | None
    department: str | None
    unit: str
    raised_at: datetime
    source: str
    details: dict[str, Any]
    status: Literal["open", "cleared"]
    cleared_at: datetime | None
    cleared_by: str | None
    clear_reason: str | None
    clear_source: str | None = Field(
        default=None, description="What ended it: an event type, clock or ticket."
    )
    cleared_actor: str | None = Field(
        default=None, description="The person the ending event names (uploader, signer...)."
    )


class YellowTicketIn(_In):
    """《黄灯预警督办单》: the supervisor lists the lights and names who does what by when."""

    alert_ids: list[uuid.UUID] = Field(min_length=1, max_length=100, description="预警清单")
    responsible_section: Text200 = Field(description="责任科室")
    section_head: Text200 = Field(description="业务科室负责人")
    handler: Text200 = Field(description="业务经办人")
    due_date: date = Field(description="办理最后期限")


CauseKind = Literal["human", "system"]
Category = FeedbackCategory


class HandleIn(_In):
    """Handling (《红灯预警督办单》 art. 11(2)2-3): the section head names the handler, who
    states the cause and the handling opinion; every ticket says whether the light had a human
    or a system cause (art. 15)."""

    cause: Text2000 | None = Field(default=None, description="出现预警的原因（红灯必填）")
    handling_opinion: Text2000 | None = Field(default=None, description="处理意见（红灯必填）")
    cause_kind: CauseKind | None = Field(
        default=None, description="预警原因类型：human 人为因素 / system 系统因素（必填）"
    )
    responsible_section: Text200 | None = Field(default=None, description="责任科室")
    section_head: Text200 | None = Field(default=None, description="业务科室负责人（红灯必填）")
    handler: Text200 | None = Field(default=None, description="业务经办人（红灯必填）")


class ReportIn(_In):
    summary: Text2000 = Field(description="书面报告内容：预警原因及办理结果反馈")
    category: Category | None = Field(
        default=None, description="红灯预警类别（归档分类）；缺省按规则归类"
    )


class EscalateIn(_In):
    reason: Text2000 = Field(description="升级督办的理由")


class ConfirmIn(_In):
    note: Text2000 | None = Field(default=None, description="确认说明")
    category: Category | None = Field(default=None, description="归档的红灯预警类别")


class TicketEventOut(BaseModel):
    action: str
    step: str
    actor: str | None
    automatic: bool
    at: datetime
    due_at: datetime | None
    to_level: str | None
    to_unit: str | None
    note: str | None


class TicketOut(BaseModel):
    ticket_id: uuid.UUID
    ticket_no: str
    colour: str
    rule_id: str
    application_id: uuid.UUID | None
    stage: str | None
    unit: str
    opened_at: datetime
    opened_by: str | None
    step: str
    due_at: datetime | None
    overdue: bool = Field(description="The current step is past its deadline.")
    escalation_level: int
    escalated_to: str | None
    responsible_section: str | None
    section_head: str | None
    handler: str | None
    cause: str | None
    handling_opinion: str | None
    handled_at: datetime | None
    handled_by: str | None
    confirmed_by: str | None
    confirmed_at: datetime | None
    closed_at: datetime | None
    department: str | None = Field(default=None, description="协查单位 the ticket is addressed to.")
    cause_kind: str | None = Field(default=None, description="human | system")
    feedback_category: str | None = Field(default=None, description="红灯预警类别")
    alert_ids: list[uuid.UUID] = Field(default_factory=list)
    events: list[TicketEventOut] = Field(default_factory=list)


class NotificationOut(BaseModel):
    notification_id: uuid.UUID
    kind: str
    rule_id: str | None
    recipient: str
    unit: str
    message: str
    alert_id: uuid.UUID | None
    ticket_id: uuid.UUID | None
    created_at: datetime
    status: str
    channel: str | None
    attempts: int
    delivered_at: datetime | None
    error: str | None
