"""The messages a department exchanges with the platform: the request it receives
(``verification.requested``), the answer it sends (``department.answered``), their batches
(``verification.requested_batch``, ``department.answered_batch``: several of each in one
message) and the envelope they travel in.

These are the platform's own event models (its event catalogue), restated here so that a
department needs nothing of the platform but this package. The platform's test suite compares
both, schema for schema, so they cannot drift apart: a change to the contract fails the
platform's tests until this file and the package version follow.

Money is in yuan (元) as ``Decimal`` with two places and travels as a JSON string; areas are
square metres (m²). Every timestamp is timezone-aware and written in UTC; a ``date`` is a
calendar day in China (Asia/Shanghai).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)

__all__ = [
    "BATCH_MAX_ITEMS",
    "DEPARTMENT_SUBJECT_FIELDS",
    "FINDING_MODELS",
    "AssistanceFinding",
    "BusinessFinding",
    "DepartmentAnswerBatch",
    "DepartmentAnswered",
    "DisabilityFinding",
    "ElectricityFinding",
    "Envelope",
    "FinancialAssetFinding",
    "Finding",
    "HukouFinding",
    "IncomeFinding",
    "MarriageFinding",
    "PensionFinding",
    "PropertyFinding",
    "ProvidentFundFinding",
    "Subject",
    "VehicleFinding",
    "VerificationRequestBatch",
    "VerificationRequested",
    "VeteranFinding",
    "VitalFinding",
]

SubjectExtraField = Literal["relationship", "hukou_division", "employer"]
SUBJECT_EXTRA_FIELDS: tuple[SubjectExtraField, ...] = ("relationship", "hukou_division", "employer")

DEPARTMENT_SUBJECT_FIELDS: dict[str, frozenset[SubjectExtraField]] = {
    "public_security": frozenset({"hukou_division"}),
    "civil_affairs": frozenset({"relationship"}),
    "real_estate": frozenset(),
    "hr_social_security": frozenset({"employer"}),
    "market_supervision": frozenset(),
    "provident_fund": frozenset({"employer"}),
    "tax": frozenset({"employer"}),
    "vehicle": frozenset(),
    "health": frozenset({"relationship"}),
    "disabled_persons_federation": frozenset(),
    "veterans_affairs": frozenset(),
    "bank": frozenset(),
}
"""Which fields beyond name and resident ID a request to a department may carry (数据最小化);
a department not listed (one a city added) receives name and resident ID only. The codes are
the platform's department codes (its city file). The power company is not here: it answers the
platform's vacancy checks over HTTP, not over this exchange."""

# -- field types --------------------------------------------------------------------------------

CityCode = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{6}$"),
    Field(description="City division code (行政区划代码), e.g. 350200.", examples=["350200"]),
]

UnitCode = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{6}([0-9]{3})?$"),
    Field(
        description="Administrative unit code: 6 digits (city, district) or 9 (street).",
        examples=["350203001"],
    ),
]

DepartmentCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$"),
    Field(
        description="Department code, the last part of its routing keys, e.g. real_estate.",
        examples=["real_estate"],
    ),
]

IdHash = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{64}$"),
    Field(
        examples=["9f2c4e1a7b3d5f60" * 4],
        description=(
            "Hex HMAC-SHA256 of a resident ID number (upper-case X) under the platform's "
            "id-hash key; the same person always has the same hash, the number never travels."
        ),
    ),
]

ResidentId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{17}[0-9X]$"),
    Field(
        examples=["350203198803152013"],
        description=(
            "Full resident ID number (居民身份证号, GB 11643, check digit verified by intake). "
            "Only in application.accepted and department requests."
        ),
    ),
]

PersonName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50),
    Field(description="Full name (姓名). Only in application.accepted and department requests."),
]

Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2, description="Amount in yuan (元)."),
]

Area = Annotated[
    Decimal,
    Field(ge=0, max_digits=10, decimal_places=2, description="Area in square metres (m²)."),
]

WorkingDays = Annotated[int, Field(ge=0, le=1000, description="A number of working days.")]

RequestPurpose = Literal["admission", "re_review"]

Relationship = Literal["applicant", "spouse", "child", "parent", "other"]


class _Part(BaseModel):
    """A nested block of a message; frozen and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class _Payload(BaseModel):
    """The ``data`` of an envelope; ``event_type`` and ``event_version`` name it on the wire."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1


# -- the request (协查请求) ------------------------------------------------------------------------


class Subject(_Part):
    """One household member as a department sees it: name and resident ID, plus only the
    extra fields that department needs (``DEPARTMENT_SUBJECT_FIELDS``): ``hukou_division`` for
    public_security; ``relationship`` for civil_affairs and health; ``employer`` for
    hr_social_security, provident_fund and tax; none for the other departments."""

    member_ref: IdHash = Field(description="Opaque member reference; echo it in findings.")
    name: PersonName
    resident_id: ResidentId
    relationship: Relationship | None = Field(
        default=None, description="Only for civil_affairs (marriage) and health (births)."
    )
    hukou_division: UnitCode | None = Field(
        default=None, description="Declared hukou location; only for public_security."
    )
    employer: str | None = Field(
        default=None,
        max_length=200,
        description="Declared employer; only for hr_social_security, provident_fund, tax.",
    )


class VerificationRequested(_Payload):
    """A request to one department (协查请求), on ``housing.verification`` as
    ``request.<department>``; only that department's user can read its queue.

    Subjects carry names and resident IDs because the department must find the people in its
    own records; nothing else is sent beyond what the department needs.
    """

    event_type: ClassVar[str] = "verification.requested"
    routing_key_template: ClassVar[str] = "request.{department}"
    # The example a department integrator starts from: the public security bureau receives
    # name, resident ID and the declared hukou, nothing else.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": "0b6f8d3e-7a21-4c55-9e0f-2d8c1b7a4e93",
                    "case_id": "5e2a9c71-3b4d-4f86-a0e1-7c9d2b3a4f58",
                    "application_id": "c3d1e2f4-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                    "city": "350200",
                    "department": "public_security",
                    "requested_at": "2026-12-03T01:30:00Z",
                    "deadline": "2026-12-10",
                    "time_limit_working_days": 5,
                    "subjects": [
                        {
                            "member_ref": "9f2c4e1a7b3d5f60" * 4,
                            "name": "林晓东",
                            "resident_id": "350203198803152013",
                            "relationship": None,
                            "hukou_division": "350203",
                            "employer": None,
                        }
                    ],
                    "purpose": "admission",
                }
            ]
        }
    )

    request_id: uuid.UUID = Field(description="Quote it in the answer.")
    case_id: uuid.UUID
    application_id: uuid.UUID
    city: CityCode
    department: DepartmentCode
    requested_at: AwareDatetime
    deadline: date = Field(description="Last day to answer (inclusive).")
    time_limit_working_days: WorkingDays = Field(description="The department's time limit.")
    subjects: list[Subject] = Field(min_length=1, max_length=30)
    purpose: RequestPurpose = Field(
        default="admission",
        description=(
            "Why the household is checked: `admission` (准入核查, an application) or "
            "`re_review` (年度复核 of a tenant household). Answer both the same way; the field "
            "is omitted on admission requests, so a system that does not read it sees the "
            "requests it always saw."
        ),
    )

    def routing_key(self) -> str:
        return self.routing_key_template.format(department=self.department)

    @model_serializer(mode="wrap")
    def _admission_as_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Departments validate requests strictly: leaving the default out keeps an admission
        # request byte-for-byte what a system built before the field existed accepts.
        data: dict[str, Any] = handler(self)
        if self.purpose == "admission":
            data.pop("purpose", None)
        return data

    @model_validator(mode="after")
    def _minimal_subjects(self) -> Self:
        allowed = DEPARTMENT_SUBJECT_FIELDS.get(self.department, frozenset())
        for subject in self.subjects:
            sent = {f for f in SUBJECT_EXTRA_FIELDS if getattr(subject, f) is not None}
            if not sent <= allowed:
                raise ValueError(
                    f"department {self.department} may not receive {sorted(sent - allowed)}"
                )
        return self


# -- findings (核查结果) --------------------------------------------------------------------------


class _Finding(_Part):
    member_ref: IdHash = Field(description="The subject's member_ref from the request.")


class PropertyFinding(_Finding):
    """Real estate registered to the member (不动产登记)."""

    kind: Literal["property"]
    area_m2: Area
    location: str = Field(min_length=1, max_length=200, description="Location (坐落).")
    division: UnitCode | None = Field(default=None, description="Division code of the location.")


class VehicleFinding(_Finding):
    """A motor vehicle registered to the member (机动车登记)."""

    kind: Literal["vehicle"]
    plate_masked: str = Field(
        min_length=2, max_length=16, description="Plate with middle characters masked."
    )
    value: Money = Field(description="Assessed value.")


class BusinessFinding(_Finding):
    """A business registration (工商登记) in which the member is registered."""

    kind: Literal["business"]
    name: str = Field(min_length=1, max_length=200, description="Registered business name.")
    registered_capital: Money
    role: Literal["legal_representative", "shareholder", "sole_proprietor"] | None = None


class IncomeFinding(_Finding):
    """Income on record (税务 / 社保 wage base)."""

    kind: Literal["income"]
    monthly_amount: Money
    source: Literal["wages", "labour_services", "business", "property", "other"]


class PensionFinding(_Finding):
    """A pension being paid (养老金 / 退休金)."""

    kind: Literal["pension"]
    monthly_amount: Money
    scheme: Literal["enterprise", "public_institution", "resident"] = Field(
        description="企业职工 / 机关事业单位 / 城乡居民 pension scheme."
    )


class AssistanceFinding(_Finding):
    """Social assistance status (低保 / 特困 / 低保边缘)."""

    kind: Literal["assistance"]
    status: Literal["minimum_living", "extreme_poverty", "low_income"]
    since: date | None = None


class ProvidentFundFinding(_Finding):
    """Housing provident fund account (住房公积金)."""

    kind: Literal["provident_fund"]
    monthly_deposit: Money = Field(description="Monthly deposit, employer and employee parts.")
    employer: str | None = Field(default=None, max_length=200)


class VitalFinding(_Finding):
    """A birth or death on record (出生 / 死亡)."""

    kind: Literal["vital"]
    event: Literal["birth", "death"]
    on: date


class MarriageFinding(_Finding):
    """Marital status on record (婚姻登记)."""

    kind: Literal["marriage"]
    status: Literal["unmarried", "married", "divorced", "widowed"]
    since: date | None = None


class HukouFinding(_Finding):
    """Hukou and residence permit on record (户籍 / 居住证)."""

    kind: Literal["hukou"]
    division: UnitCode = Field(description="Where the hukou is registered.")
    residence_permit: bool = Field(description="Holds a residence permit for this city.")


class DisabilityFinding(_Finding):
    """Disability certification (残疾人证)."""

    kind: Literal["disability"]
    grade: int = Field(ge=1, le=4, description="Disability grade, 1 most severe.")


class VeteranFinding(_Finding):
    """Veteran or martyr's family status (退役军人 / 烈属)."""

    kind: Literal["veteran"]
    status: Literal["veteran", "martyr_family", "entitled_group"]


class FinancialAssetFinding(_Finding):
    """A financial asset held by the member (金融资产) as the bank department reports it: one
    account or holding per finding, at the reporting institution, valued on ``as_of``."""

    kind: Literal["financial_asset"]
    asset_type: Literal["deposit", "wealth_management", "securities"] = Field(
        description="存款 (deposit), 理财产品 (wealth_management) or 证券 (securities)."
    )
    institution: str = Field(
        min_length=1, max_length=200, description="Reporting bank or securities firm."
    )
    amount: Money = Field(description="Balance or market value in yuan.")
    as_of: date = Field(description="Day the balance or value refers to.")


class ElectricityFinding(_Finding):
    """Electricity use of the member's account (for vacancy checks)."""

    kind: Literal["electricity"]
    average_monthly_kwh: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    months: int = Field(ge=1, le=36, description="Months the average covers.")


Finding = Annotated[
    PropertyFinding
    | VehicleFinding
    | BusinessFinding
    | IncomeFinding
    | PensionFinding
    | AssistanceFinding
    | ProvidentFundFinding
    | VitalFinding
    | MarriageFinding
    | HukouFinding
    | DisabilityFinding
    | VeteranFinding
    | FinancialAssetFinding
    | ElectricityFinding,
    Field(discriminator="kind"),
]


class DepartmentAnswered(_Payload):
    """A department's answer (协查反馈), on ``housing.verification`` as ``response.<department>``.

    ``no_record`` true means the department searched and found nothing for any subject; an
    answer with ``no_record`` false and no findings is an empty answer and raises R6.
    """

    event_type: ClassVar[str] = "department.answered"
    routing_key_template: ClassVar[str] = "response.{department}"
    # The answer to the request example above: the hukou and residence permit on record.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": "0b6f8d3e-7a21-4c55-9e0f-2d8c1b7a4e93",
                    "department": "public_security",
                    "answered_at": "2026-12-04T02:10:00Z",
                    "answered_by": "gaj-hukou-system",
                    "no_record": False,
                    "findings": [
                        {
                            "member_ref": "9f2c4e1a7b3d5f60" * 4,
                            "kind": "hukou",
                            "division": "350203",
                            "residence_permit": False,
                        }
                    ],
                }
            ]
        }
    )

    request_id: uuid.UUID = Field(description="The request being answered.")
    department: DepartmentCode
    answered_at: AwareDatetime
    answered_by: str | None = Field(
        default=None, max_length=128, description="Operator or system id at the department."
    )
    no_record: bool = Field(description="Searched, nothing on record for any subject.")
    findings: list[Finding] = Field(default_factory=list, max_length=500)

    def routing_key(self) -> str:
        return self.routing_key_template.format(department=self.department)

    @model_validator(mode="after")
    def _no_record_means_no_findings(self) -> Self:
        if self.no_record and self.findings:
            raise ValueError("an answer with no_record=true cannot carry findings")
        return self


# -- batches (one message per department and transaction) -----------------------------------------


BATCH_MAX_ITEMS = 500
"""Items one request or answer batch carries at most (a consumer transaction holds 50 events)."""


def _example(model: type[BaseModel]) -> dict[str, Any]:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    examples = extra["examples"]
    assert isinstance(examples, list)
    return dict(examples[0])


class VerificationRequestBatch(_Payload):
    """Every request of one verification transaction to one department, in one message
    (``request.<department>``, the department's queue, as the single requests): each item is a
    complete ``verification.requested`` payload with its own ``request_id``, answered on its
    own. Sent to the departments the platform is configured to batch for
    (``HOUSING_VERIFICATION_REQUEST_BATCHES``); the envelope id is derived from the items'
    request ids, so a copy of the batch has the same id."""

    event_type: ClassVar[str] = "verification.requested_batch"
    routing_key_template: ClassVar[str] = "request.{department}"
    summary: ClassVar[str] = "Verification requests to one department, in one message."
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"department": "public_security", "items": [_example(VerificationRequested)]}
            ]
        }
    )

    department: DepartmentCode
    items: list[VerificationRequested] = Field(min_length=1, max_length=BATCH_MAX_ITEMS)

    def routing_key(self) -> str:
        return self.routing_key_template.format(department=self.department)

    @model_validator(mode="after")
    def _one_department(self) -> Self:
        if any(item.department != self.department for item in self.items):
            raise ValueError(f"every item of a batch to {self.department} is for {self.department}")
        return self


class DepartmentAnswerBatch(_Payload):
    """The answers to one consumed request batch, in one message (``response.<department>``,
    as the single answers): each item is a complete ``department.answered`` payload naming the
    request it answers. The platform validates and applies every item on its own: a bad item is
    split off and handled as a bad single answer would be (retried, then parked with its
    error), the others are applied; an item for a request already answered changes nothing.
    Derive the envelope id from the items (the SDK: ``answer_batch_event_id``), so a resent
    batch is recognised."""

    event_type: ClassVar[str] = "department.answered_batch"
    routing_key_template: ClassVar[str] = "response.{department}"
    summary: ClassVar[str] = "A department answered several verification requests at once."
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"department": "public_security", "items": [_example(DepartmentAnswered)]}]
        }
    )

    department: DepartmentCode
    items: list[DepartmentAnswered] = Field(min_length=1, max_length=BATCH_MAX_ITEMS)

    def routing_key(self) -> str:
        return self.routing_key_template.format(department=self.department)

    @model_validator(mode="after")
    def _one_department(self) -> Self:
        if any(item.department != self.department for item in self.items):
            raise ValueError(f"every item of a batch from {self.department} is from it")
        return self


FINDING_MODELS: tuple[type[BaseModel], ...] = (
    PropertyFinding,
    VehicleFinding,
    BusinessFinding,
    IncomeFinding,
    PensionFinding,
    AssistanceFinding,
    ProvidentFundFinding,
    VitalFinding,
    MarriageFinding,
    HukouFinding,
    DisabilityFinding,
    VeteranFinding,
    FinancialAssetFinding,
    ElectricityFinding,
)


# -- the envelope -------------------------------------------------------------------------------


class Envelope(BaseModel):
    """What travels on the wire. ``id`` is the idempotency key consumers deduplicate on."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(description="Event id; the idempotency key.")
    type: str = Field(description="Event type, also the routing key on housing.events.")
    version: int = Field(ge=1, description="Version of the payload schema.")
    occurred_at: datetime = Field(description="When it happened, UTC ISO-8601.")
    producer: str = Field(description="The service that wrote it.")
    correlation_id: str = Field(description="Follows one application end to end.")
    causation_id: str | None = Field(default=None, description="The event that caused it.")
    subject: str = Field(description="The application or case id the event is about.")
    data: dict[str, Any] = Field(description="The typed payload, see the event catalogue.")

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, body: bytes) -> Envelope:
        return cls.model_validate_json(body)
