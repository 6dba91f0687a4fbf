"""HTTP request and response models of the intake API (field descriptions in Chinese for clerks)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from shared.pii import MobileNumber, ResidentId

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2, description="金额（元）")]
UnitCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}([0-9]{3})?$")]
StreetCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

Relationship = Literal["applicant", "spouse", "child", "parent", "other"]
MaritalStatus = Literal["unmarried", "married", "divorced", "widowed"]
Tenure = Literal["none", "owned", "private_rental", "public_rental", "borrowed", "dormitory"]
Channel = Literal["online", "window", "mobile"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MemberIn(_In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)] = Field(description="姓名")
    resident_id: ResidentId
    relationship: Relationship = Field(description="与申请人关系；申请人本人为 applicant")
    marital_status: MaritalStatus = Field(description="婚姻状况")
    hukou_division: UnitCode = Field(description="户籍所在地行政区划代码（6位或9位）")
    residence_permit: bool = Field(default=False, description="是否持有本市居住证")
    employer: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="工作单位"
    )
    declared_monthly_income: Money = Field(description="申报月收入（元）")
    declared_financial_assets: Money = Field(description="申报金融资产（元）")
    declared_vehicle_count: int = Field(ge=0, le=50, description="申报车辆数")
    declared_vehicle_value: Money = Field(description="申报车辆总价值（元）")


class HousingIn(_In):
    address: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="现住房地址"
    )
    area_m2: Annotated[Decimal, Field(ge=0, le=10000, max_digits=10, decimal_places=2)] = Field(
        description="家庭自有住房面积（平方米）"
    )
    tenure: Tenure = Field(description="现住房性质")


class PledgeIn(_In):
    """守信承诺书: which text version was signed, and when."""

    version: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,40}$")]
    signed_at: AwareDatetime


class ApplicationIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "category": "newly_employed",
                    "street": "350203001",
                    "channel": "online",
                    "mobile": "13912345678",
                    "members": [
                        {
                            "name": "林晓东",
                            "resident_id": "350203198803152013",
                            "relationship": "applicant",
                            "marital_status": "married",
                            "hukou_division": "350203",
                            "residence_permit": False,
                            "employer": "厦门某软件有限公司",
                            "declared_monthly_income": "5200.00",
                            "declared_financial_assets": "32000.00",
                            "declared_vehicle_count": 0,
                            "declared_vehicle_value": "0.00",
                        },
                        {
                            "name": "陈雅琴",
                            "resident_id": "350203199007124024",
                            "relationship": "spouse",
                            "marital_status": "married",
                            "hukou_division": "350203",
                            "residence_permit": False,
                            "employer": None,
                            "declared_monthly_income": "0.00",
                            "declared_financial_assets": "0.00",
                            "declared_vehicle_count": 0,
                            "declared_vehicle_value": "0.00",
                        },
                    ],
                    "housing": {
                        "address": "厦门市思明区厦港街道某路12号302室",
                        "area_m2": "0.00",
                        "tenure": "private_rental",
                    },
                    "pledge": {"version": "2026.1", "signed_at": "2026-12-03T01:20:00Z"},
                }
            ]
        }
    )

    category: Code = Field(description="申请类别（城市配置中的代码）")
    street: StreetCode = Field(description="受理街道（镇）代码")
    channel: Channel = Field(description="申请渠道：online 网上、window 窗口、mobile 移动端")
    mobile: MobileNumber
    members: list[MemberIn] = Field(min_length=1, max_length=30)
    housing: HousingIn
    # Optional in the schema so that a missing pledge gets its own clear refusal.
    pledge: PledgeIn | None = None


class SubmittedOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "c3d1e2f4-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                    "tracking_no": "SQ350200-20261203-000123",
                    "status": "submitted",
                    "submitted_at": "2026-12-03T01:20:05Z",
                }
            ]
        }
    )

    id: uuid.UUID
    tracking_no: str
    status: str
    submitted_at: datetime


class AcceptIn(_In):
    incomplete_reason: Reason | None = Field(
        default=None, description="材料不全仍予受理时必填：说明理由"
    )


class ReceivedMaterial(BaseModel):
    code: str
    name: str
    file_names: list[str]


class ReceiptOut(BaseModel):
    """受理回执."""

    application_id: uuid.UUID
    tracking_no: str
    receipt_no: str
    accepted_by: str
    accepted_by_name: str
    accepting_unit: str
    accepted_at: datetime
    materials_received: list[ReceivedMaterial]
    materials_missing: list[ReceivedMaterial]
    materials_complete: bool
    incomplete_reason: str | None


class NoticeItemIn(_In):
    code: Code = Field(description="材料类型代码")
    note: Reason | None = Field(default=None, description="具体说明（如：复印件不清晰）")


class SupplementNoticeIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"code": "marriage_certificate", "note": "请补交结婚证复印件（原件核对）"},
                        {"code": "labour_contract", "note": None},
                    ]
                }
            ]
        }
    )

    items: list[NoticeItemIn] = Field(min_length=1, max_length=50)


class NoticeItemOut(BaseModel):
    code: str
    name: str
    note: str | None


class SupplementNoticeOut(BaseModel):
    application_id: uuid.UUID
    n: int
    notice_no: str
    items: list[NoticeItemOut]
    deadline: date
    deadline_uses_fallback_calendar: bool
    requested_at: datetime
    status: str
    url: str


class ReasonIn(_In):
    reason: Reason = Field(description="理由")


class MaterialOut(BaseModel):
    id: uuid.UUID
    application_id: uuid.UUID
    material_type: str
    file_name: str
    content_type: str
    sha256: str
    size_bytes: int
    uploaded_at: datetime


class MemberOut(BaseModel):
    name: str
    resident_id: str
    relationship: str
    marital_status: str
    hukou_division: str
    residence_permit: bool
    employer: str | None
    declared_monthly_income: Decimal
    declared_financial_assets: Decimal
    declared_vehicle_count: int
    declared_vehicle_value: Decimal


class ApplicationOut(BaseModel):
    id: uuid.UUID
    tracking_no: str
    city: str
    district: str
    street: str
    channel: str
    category: str
    status: str
    status_name: str
    mobile: str
    housing: HousingIn
    pledge: PledgeIn
    submitted_at: datetime
    members: list[MemberOut]
    materials: list[MaterialOut]
    receipt_no: str | None
    accepted_by: str | None
    # The clerk's name as the receipt printed it: a reprinted receipt shows the same 受理人.
    accepted_by_name: str | None
    accepted_at: datetime | None
    materials_complete: bool | None
    incomplete_reason: str | None
    supplement_notices: list[SupplementNoticeOut]
    closed_reason: str | None
    closed_at: datetime | None


class ApplicationSummary(BaseModel):
    """A list row: personal data masked (lists are for finding, not for reading a household)."""

    id: uuid.UUID
    tracking_no: str
    street: str
    category: str
    channel: str
    status: str
    applicant_name_masked: str
    applicant_id_masked: str
    member_count: int
    submitted_at: datetime
    receipt_no: str | None


class StatusOut(BaseModel):
    id: uuid.UUID
    tracking_no: str
    status: str
    at: datetime


class ApplicantMessageOut(BaseModel):
    """One message the applicant was told (in the portal), with its SMS delivery."""

    id: uuid.UUID
    application_id: uuid.UUID
    tracking_no: str
    kind: str = Field(description="accepted、supplement_requested、qualified、rejected 等")
    text: str = Field(description="告知内容（不含身份证号、全名）")
    created_at: datetime
    sms_status: Literal["pending", "sent", "failed"] = Field(description="短信送达状态")
    sms_attempts: int
    sms_delivered_at: datetime | None
    sms_provider_ref: str | None


# -- online drafts (网上申请草稿) ---------------------------------------------------------------


# A draft is the form as far as the applicant got: every field may still be empty, so only the
# shape is checked here (types, lengths, codes); the full checks are the submission's.
def _shaped(pattern: str, message: str) -> AfterValidator:
    def check(value: str) -> str:
        if value and not re.fullmatch(pattern, value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


DraftText = Annotated[str, StringConstraints(max_length=200)]
DraftMoney = Annotated[
    str,
    StringConstraints(max_length=20),
    _shaped(r"\d{1,12}(\.\d{1,2})?", "请填写金额（元），最多两位小数"),
    Field(description="金额（元），最多两位小数；可为空"),
]
DraftArea = Annotated[
    str,
    StringConstraints(max_length=12),
    _shaped(r"\d{1,8}(\.\d{1,2})?", "请填写面积（平方米），最多两位小数"),
]
DraftDivision = Annotated[
    str, StringConstraints(max_length=9), _shaped(r"[0-9]{1,9}", "行政区划代码应为数字")
]
PORTAL_STEPS = 4  # 0 家庭信息, 1 家庭成员, 2 收入与住房, 3 材料清单, 4 确认提交


class DraftMemberIn(_In):
    name: Annotated[str, StringConstraints(max_length=50)] = Field(default="", description="姓名")
    resident_id: Annotated[str, StringConstraints(max_length=18)] = Field(
        default="", description="身份证号码"
    )
    relationship: Relationship = Field(default="applicant", description="与申请人关系")
    marital_status: MaritalStatus = Field(default="unmarried", description="婚姻状况")
    hukou_division: DraftDivision = Field(default="", description="户籍所在地行政区划代码")
    residence_permit: bool = Field(default=False, description="是否持有本市居住证")
    employer: DraftText = Field(default="", description="工作单位")
    declared_monthly_income: DraftMoney = ""
    declared_financial_assets: DraftMoney = ""
    declared_vehicle_count: int = Field(default=0, ge=0, le=50, description="申报车辆数")
    declared_vehicle_value: DraftMoney = ""


class DraftHousingIn(_In):
    address: DraftText = Field(default="", description="现住房地址")
    area_m2: DraftArea = Field(default="", description="家庭自有住房面积（平方米）")
    tenure: Tenure = Field(default="none", description="现住房性质")


_DRAFT_EXAMPLE = {
    "step": 1,
    "category": "newly_employed",
    "street": "350203001",
    "mobile": "13912345678",
    "members": [{"name": "李明", "resident_id": "350203199001011234", "relationship": "applicant"}],
    "housing": {"address": "", "area_m2": "", "tenure": "none"},
}


class DraftIn(_In):
    """The online application as saved between steps (保存草稿), to be resumed later."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DRAFT_EXAMPLE]})

    step: int = Field(ge=0, le=PORTAL_STEPS, description="停留的步骤：0 家庭信息 … 4 确认提交")
    category: Code | None = Field(default=None, description="申请类别")
    street: StreetCode | None = Field(default=None, description="受理街道（镇）代码")
    mobile: Annotated[str, StringConstraints(max_length=20)] = Field(
        default="", description="联系手机"
    )
    members: list[DraftMemberIn] = Field(default_factory=list, max_length=30)
    housing: DraftHousingIn = Field(default_factory=DraftHousingIn)


class DraftOut(DraftIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_DRAFT_EXAMPLE,
                    "created_at": "2026-12-04T09:12:00+08:00",
                    "saved_at": "2026-12-04T09:20:31+08:00",
                }
            ]
        }
    )

    created_at: datetime
    saved_at: datetime = Field(description="最近保存时间")


# -- historical import (历史数据导入) ----------------------------------------------------------

LegacyCaseNo = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,59}$")]
DocNo = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{4,40}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ImportedMaterialIn(_In):
    """One material as the old system recorded it; the file itself stays in its archive."""

    material_type: Code = Field(description="材料类型代码")
    file_name: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="文件名"
    )
    content_type: Literal["application/pdf", "image/jpeg", "image/png"] = "application/pdf"
    size_bytes: int = Field(ge=0, le=2**31 - 1, description="文件大小（字节）；0 为空材料")
    sha256: Sha256 | None = Field(default=None, description="文件SHA-256；空材料可省略")
    uploaded_at: AwareDatetime = Field(description="原系统上传时间")


class ImportedApplicationIn(_In):
    """One historical case: the application, its receipt (受理回执) and its materials."""

    legacy_case_no: LegacyCaseNo = Field(description="原系统案卷号（重复导入以此去重）")
    category: Code = Field(description="申请类别（城市配置中的代码）")
    street: StreetCode = Field(description="受理街道（镇）代码")
    channel: Channel = Field(default="window", description="申请渠道")
    mobile: MobileNumber
    members: list[MemberIn] = Field(min_length=1, max_length=30)
    housing: HousingIn
    pledge: PledgeIn
    submitted_at: AwareDatetime = Field(description="原系统申请时间")
    accepted_at: AwareDatetime | None = Field(default=None, description="原系统受理时间")
    accepted_by: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="受理人账号（原系统）"
    )
    receipt_no: DocNo | None = Field(default=None, description="受理回执编号；为空即未出具回执")
    incomplete_reason: Reason | None = Field(default=None, description="材料不全仍予受理的理由")
    materials: list[ImportedMaterialIn] = Field(default_factory=list, max_length=100)
