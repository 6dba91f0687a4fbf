"""Bodies of the complaints ledger's endpoints (texts for citizens and clerks in Chinese)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.pii import MobileNumber

ComplaintKind = Literal["sublet", "agency", "fraud", "staff"]
TransferBody = Literal["discipline_commission", "police", "market_supervision"]

KIND_NAMES: dict[str, str] = {
    "sublet": "承租人转租转借",
    "agency": "中介或有偿代办",
    "fraud": "弄虚作假骗取保障资格",
    "staff": "工作人员违规违纪",
}
TRANSFER_BODIES: dict[str, str] = {
    "discipline_commission": "纪委监委",
    "police": "公安机关",
    "market_supervision": "市场监管部门",
}
# Every public answer and page carries it (Changwu's anti-fraud line).
ANTI_FRAUD = "申请公租房不求人、不花钱、无代办、无中介"

STATUS_NAMES: dict[str, str] = {"open": "办理中", "answered": "已答复"}

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ComplaintIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "sublet",
                    "about": "某公租房小区3号楼1502室承租人",
                    "content": "该房屋近三个月由陌生人居住，疑似转租。",
                    "street": "350203001",
                    "agency_name": None,
                    "org_credit_code": None,
                    "anonymous": True,
                    "name": None,
                    "mobile": None,
                }
            ]
        }
    )

    kind: ComplaintKind = Field(
        description="sublet 转租转借、agency 中介或代办、fraud 骗取资格、staff 工作人员"
    )
    about: Short = Field(description="被投诉举报对象（如：某小区某号承租人、某中介）")
    content: Text = Field(description="具体情况")
    street: Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")] | None = Field(
        default=None, description="所涉街道（镇）代码；不清楚可不填，由市级受理"
    )
    agency_name: Short | None = Field(default=None, description="中介或代办名称（举报中介时必填）")
    org_credit_code: (
        Annotated[
            str,
            StringConstraints(pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"),
        ]
        | None
    ) = Field(default=None, description="统一社会信用代码（知道时填写）")
    anonymous: bool = Field(default=True, description="是否匿名")
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = Field(
        default=None, description="实名举报人姓名"
    )
    mobile: MobileNumber | None = Field(default=None, description="实名举报人联系电话")


class ComplaintFiled(BaseModel):
    complaint_no: str = Field(description="投诉举报编号")
    check_code: str = Field(description="查询码：仅此一次显示，凭编号和查询码查询办理结果")
    unit: str = Field(description="责任单位")
    filed_at: datetime
    due_at: datetime = Field(description="答复期限")
    notice: str = ANTI_FRAUD


class PublicComplaintOut(BaseModel):
    """What the complainant sees: no content echoed, no staff names."""

    complaint_no: str
    kind: str
    status: str
    unit: str
    filed_at: datetime
    due_at: datetime
    response: str | None
    answered_at: datetime | None
    transferred_to: list[str] = Field(description="已移送的机关（代码）")
    notice: str = ANTI_FRAUD


class AnswerIn(_In):
    response: Text = Field(description="答复意见")


class TransferIn(_In):
    to: TransferBody = Field(
        description="discipline_commission 纪委监委、police 公安、market_supervision 市场监管"
    )
    note: Text = Field(description="移送说明")


class TransferOut(BaseModel):
    to: str
    to_name: str
    note: str
    transferred_by: str
    transferred_at: datetime


class ComplaintOut(BaseModel):
    """A ledger row for staff: the complainant masked."""

    complaint_id: uuid.UUID
    complaint_no: str
    kind: str
    about: str
    content: str
    agency_name: str | None
    org_credit_code: str | None
    anonymous: bool
    complainant_name_masked: str | None
    complainant_mobile_masked: str | None
    unit: str
    filed_at: datetime
    due_at: datetime
    status: str
    response: str | None
    answered_by: str | None
    answered_at: datetime | None
    credit_referred_at: datetime | None
    transfers: list[TransferOut]
