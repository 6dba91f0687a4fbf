"""The event catalogue: every domain event the six services publish, as versioned payloads.

Each class is the ``data`` of an :class:`~shared.events.envelope.Envelope`; registering it lets
consumers validate incoming events (``payload_model(type, version)``) and feeds the AsyncAPI
document that department integrators read (``python -m shared.events asyncapi``).

Who publishes what (architecture.md §2): ``application.*`` intake (except
``application.qualified`` and ``application.rejected``, which review publishes; a street
office's refusal before acceptance, 不予受理, is intake's ``application.refused``),
``verification.*`` and the department requests verification, ``department.answered`` and
``department.answered_batch`` the department systems,
``review.*`` review, ``publicity.*`` and ``objection.*`` publication, ``alert.*`` and
``ticket.*`` alerting, ``credit.*`` credit, ``allocation.*`` allocation, and
``audit.checkpointed`` every service (the signed head of its own audit chain).

Compatibility: within one version, fields are only ever added, with a default. Renaming or
removing a field, or tightening a constraint, is a new version (``event_version = 2``) that is
published next to the old one until every consumer has moved.

Personal data (architecture.md §6) is kept to the minimum each consumer needs:

* resident ID numbers and names travel in full only in ``application.accepted`` (intake ->
  verification over the internal ``housing.events`` exchange, which no department user may
  read) and in ``verification.requested`` and its batches (one department, one queue, and
  only the extra fields that department needs, see :data:`DEPARTMENT_SUBJECT_FIELDS`);
* everywhere else a person is an ``id_hash``: the hex HMAC-SHA256 of the resident ID number
  (upper-case ``X``) under the platform's id-hash key, so services can join on a person and
  credit can look up bans without ever holding the number;
* what public pages show arrives already masked (``张*三``, ``3502**********1234``).

Money is in yuan (元) as ``Decimal`` with two places and travels as a JSON string so no consumer
rounds it through a float; areas are square metres (m²). Every timestamp is timezone-aware and
written in UTC; a ``date`` is a calendar day in China (Asia/Shanghai).
"""

from __future__ import annotations

import uuid
from datetime import date
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

from shared.events.base import EventPayload, ExchangeName, register

CATALOGUE_VERSION = "1.10.0"
"""Version of the catalogue as a whole (the AsyncAPI ``info.version``); bump on any change."""

# -- departments --------------------------------------------------------------------------------

SubjectExtraField = Literal["relationship", "hukou_division", "employer"]
SUBJECT_EXTRA_FIELDS: tuple[SubjectExtraField, ...] = ("relationship", "hukou_division", "employer")

DEPARTMENT_SUBJECT_FIELDS: dict[str, frozenset[SubjectExtraField]] = {
    "public_security": frozenset({"hukou_division"}),  # confirms the declared hukou
    "civil_affairs": frozenset({"relationship"}),  # marriage check needs who is the spouse
    "real_estate": frozenset(),
    "hr_social_security": frozenset({"employer"}),
    "market_supervision": frozenset(),
    "provident_fund": frozenset({"employer"}),
    "tax": frozenset({"employer"}),
    "vehicle": frozenset(),
    "health": frozenset({"relationship"}),  # births are checked against declared children
    "disabled_persons_federation": frozenset(),  # 残联: disability certification
    "veterans_affairs": frozenset(),
    "bank": frozenset(),  # balances are reported; declared amounts never travel
}
"""Which fields beyond name and resident ID a department request may carry (数据最小化).

Keyed by the department codes of the city file (``deploy/cities/*.yaml``, ``departments``),
the one source of the codes; a unit test keeps this table equal to the demo city's list. A
department that is not listed (one a city added) receives name and resident ID only. The power
company is not here: it answers tenancy's vacancy checks over HTTP, not this exchange.
"""

DEPARTMENTS: tuple[str, ...] = tuple(DEPARTMENT_SUBJECT_FIELDS)
"""The department codes this catalogue knows (those of the demo city)."""

FIELD_EXAMPLES: dict[str, Any] = {
    "tracking_no": "SQ350200-20261121-000123",
    "household_reference": "SQ350200-20261121-000123",
    "category": "newly_employed",
    "stage": "street_initial",
    "id_hash": "9f2c4e1a7b3d5f60" * 4,
    "member_ref": "9f2c4e1a7b3d5f60" * 4,
    "member_id_hash": "9f2c4e1a7b3d5f60" * 4,
    "ticket_no": "DB-20261203-3F2A9C1E",
    "lease_no": "ZL-20261203-3F2A9C1E",
    "exit_no": "TH-20261203-3F2A9C1E",
    "referral_no": "SF-20261203-3F2A9C1E",
    "record_no": "XY-20261203-3F2A9C1E",
    "complaint_no": "TS-20261203-3F2A9C1E",
    "service": "intake",
    "notice_no": "BZ-20261203-3F2A9C1E",
    "receipt_no": "SL350203001-20261203-0007",
    "next_in_order": "SQ350200-20261121-000124",
    "workflow": "xiamen",
    "next_stage": "district_review",
    "reason_code": "credit_ban",
    "kind": "concealed_housing",
    "field": "monthly_income",
    "name": "max_monthly_income_per_capita",
    "clause": "sublet",
    "recovery_clauses": ["sublet", "rent_arrears_two_months"],
    "rent_band": "low_income",
    "from_band": "other",
    "to_band": "low_income",
    "income_band": "low",
    "priority_group": "subsistence",
    "material_type": "id_card",
    "code": "subsistence",
    "org_credit_code": "91350200MA2Y8K1234",
    "head_hash": "4e07408562bedb8b" * 4,
    "pool_digest": "b5d4045c3f466fa9" * 4,
    "items": ["marriage_certificate"],
    "missing": ["marriage_certificate"],
    "missing_materials": ["marriage_certificate"],
    "pledge_version": "2026.1",
    "commitment": "7c9e2a4f61b3d8e0" * 4,
    "secret": "e3b0c44298fc1c14" * 4,
    "public_key": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    "signature": "sX2v" * 21 + "sQ",
    "seed": "a1b2c3d4e5f60718" * 4,
    "key_id": "Wq3bX0c5rT8uY1iO4pA7sD2fG6hJ9kL0zX3cV5bN8mQ",
}
"""Examples of field names that recur across the catalogue, for the AsyncAPI examples of
fields that carry none of their own (``shared.events.asyncapi.payload_example``)."""

BAN_YEARS: dict[str, int] = {"general": 1, "serious": 3, "severe": 5}
"""Default ban length per severity (一般 1 年, 较重 3 年, 严重 5 年)."""

# -- shared field types -------------------------------------------------------------------------

CityCode = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{6}$"),
    Field(description="City division code (行政区划代码), e.g. 350200.", examples=["350200"]),
]
DistrictCode = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{6}$"),
    Field(description="District division code, e.g. 350203.", examples=["350203"]),
]
StreetCode = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{9}$"),
    Field(description="Street or town (街道/镇) code, e.g. 350203001.", examples=["350203001"]),
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
Code = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$"),
    Field(description="A code from the city configuration (snake_case)."),
]
DocNo = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9-]{4,40}$"),
    Field(
        description="A human-readable document number (letters, digits, hyphens).",
        examples=["SQ350200-20261121-000123"],
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
MaskedName = Annotated[
    str,
    StringConstraints(pattern=r"^[^*]{1,10}\*{1,10}[^*]{0,10}$"),
    Field(description="Name masked for public output, e.g. 张*三.", examples=["张*三"]),
]
MaskedResidentId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4}\*{10}[0-9]{3}[0-9X]$"),
    Field(description="Resident ID masked for public output.", examples=["3502**********1234"]),
]
StaffRef = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128),
    Field(description="The acting user's `sub` from their token (real-name account)."),
]
RuleId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z][A-Z0-9_-]{0,15}$"),
    Field(description="Supervision rule id from the rule catalogue, e.g. R8.", examples=["R8"]),
]
Sha256 = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-f]{64}$"), Field(examples=["4e07408562bedb8b" * 4])
]
ChineseText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=500),
    Field(description="Text for staff or applicants, in Chinese."),
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

Channel = Literal["online", "window", "mobile"]
RequestPurpose = Literal["admission", "re_review"]
Level = Literal["street", "district", "city"]
Colour = Literal["yellow", "red"]
SubjectKind = Literal["family", "employer", "agency"]
Severity = Literal["general", "serious", "severe"]
Relationship = Literal["applicant", "spouse", "child", "parent", "other"]
DishonestBehaviour = Literal[
    "concealed_housing",  # 隐报、瞒报、假报家庭住房
    "concealed_assets",  # 隐报、瞒报、假报家庭财产
    "false_marital_status",  # 假报婚姻状况
    "false_household_members",  # 假报家庭成员信息
    "false_income_certificate",  # 单位出具虚假收入证明
    "illegal_agency",  # 黑中介
    "paid_proxy_application",  # 有偿代办
    "other",
]


class _Part(BaseModel):
    """A nested block of a payload; frozen and strict about unknown fields like the payloads."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# Per-producer bases: ``producer`` says which service (or outside system) publishes the event.


class _IntakeEvent(EventPayload):
    producer: ClassVar[str] = "intake"


class _VerificationEvent(EventPayload):
    producer: ClassVar[str] = "verification"


class _DepartmentEvent(EventPayload):
    producer: ClassVar[str] = "department systems"


class _ReviewEvent(EventPayload):
    producer: ClassVar[str] = "review"


class _PublicationEvent(EventPayload):
    producer: ClassVar[str] = "publication"


class _AlertingEvent(EventPayload):
    producer: ClassVar[str] = "alerting"


class _CreditEvent(EventPayload):
    producer: ClassVar[str] = "credit"


# ================================================================================================
# intake (申请受理)
# ================================================================================================


@register
class ApplicationSubmitted(_IntakeEvent):
    """A family submitted an application (online, mobile or at a window) with a signed pledge.

    Members appear only as id hashes: credit bans and duplicate applications are checked on
    them. The masked name and ID are what the public progress page may show.
    """

    event_type: ClassVar[str] = "application.submitted"
    summary: ClassVar[str] = "A family submitted an application for public rental housing."

    application_id: uuid.UUID = Field(description="Application id.")
    tracking_no: DocNo = Field(description="Tracking number (查询编号) given to the applicant.")
    city: CityCode
    district: DistrictCode
    street: StreetCode = Field(description="Street office (街道/镇) that will accept it.")
    channel: Channel = Field(description="online (portal), window (一窗受理) or mobile.")
    category: Code = Field(description="Application category code from the city configuration.")
    member_count: int = Field(ge=1, le=30, description="Household members including applicant.")
    submitted_at: AwareDatetime = Field(description="Server time of submission.")
    member_id_hashes: list[IdHash] = Field(
        min_length=1, description="Id hashes of all members, applicant first."
    )
    applicant_name_masked: MaskedName
    applicant_id_masked: MaskedResidentId
    pledge_version: str = Field(
        pattern=r"^[A-Za-z0-9._-]{1,40}$",
        description="Version of the integrity pledge (守信承诺书) text the applicant signed.",
    )
    pledge_signed_at: AwareDatetime = Field(description="When the applicant signed the pledge.")
    imported: bool = Field(
        default=False,
        description=(
            "Loaded from a migrating city's old system or a paper window (历史数据导入), not "
            "done on the platform. Alerting checks its facts (R1, R2, Y1) but starts no clock."
        ),
    )
    applicant_account: StaffRef | None = Field(
        default=None,
        description=(
            "The applicant's own account (token ``sub``) when the family applied itself "
            "(role applicant); null for window entry and portals. Allocation lets that account "
            "choose a unit online."
        ),
    )


class HouseholdMember(_Part):
    """One member as declared on the application form (申请表) — full personal data."""

    member_id_hash: IdHash
    name: PersonName
    resident_id: ResidentId
    relationship: Relationship = Field(description="Relationship to the applicant (与申请人关系).")
    declared_monthly_income: Money = Field(description="Declared monthly income (月收入).")
    declared_financial_assets: Money = Field(
        description="Declared deposits, securities and other financial assets (金融资产)."
    )
    declared_vehicle_count: int = Field(ge=0, le=50, description="Declared vehicles owned.")
    declared_vehicle_value: Money = Field(description="Declared total value of those vehicles.")
    hukou_division: UnitCode = Field(description="Where the hukou is registered (户籍所在地).")
    employer: str | None = Field(
        default=None, max_length=200, description="Declared employer (工作单位), if any."
    )


class Household(_Part):
    """The household as declared, the input of the economic-status verification (经济状况核对)."""

    members: list[HouseholdMember] = Field(min_length=1, max_length=30)
    declared_housing_area_m2: Area = Field(
        description="Total area of housing the household owns (家庭自有住房面积)."
    )
    housing_tenure: Literal[
        "none", "owned", "private_rental", "public_rental", "borrowed", "dormitory"
    ] = Field(
        description=(
            "How the household lives now: none (无房), owned (自有), private_rental (租住私房), "
            "public_rental (租住公房), borrowed (借住), dormitory (单位宿舍)."
        )
    )

    @model_validator(mode="after")
    def _one_applicant(self) -> Self:
        if sum(m.relationship == "applicant" for m in self.members) != 1:
            raise ValueError("a household has exactly one member with relationship 'applicant'")
        return self


@register
class ApplicationAccepted(_IntakeEvent):
    """A street office accepted the application and issued the receipt (受理回执).

    This is the one event that carries the household with full names and resident ID numbers:
    verification needs them to ask the departments. It goes only to internal services over
    ``housing.events``; each department request then carries only what that department needs.
    ``receipt_no`` is null when no receipt was issued (imported data) and alerting raises R1;
    ``materials_complete`` false raises Y1.
    """

    event_type: ClassVar[str] = "application.accepted"
    summary: ClassVar[str] = "A street office accepted an application and issued the receipt."

    application_id: uuid.UUID
    tracking_no: DocNo
    receipt_no: DocNo | None = Field(description="Acceptance receipt number (受理回执编号).")
    city: CityCode
    district: DistrictCode
    street: StreetCode
    category: Code
    accepted_by: StaffRef
    accepted_at: AwareDatetime
    materials_complete: bool = Field(description="Whether every required material is in.")
    incomplete_reason: ChineseText | None = Field(
        default=None, description="Why materials are incomplete (Chinese), when they are."
    )
    household: Household
    imported: bool = Field(
        default=False,
        description=(
            "Loaded from a migrating city's old system or a paper window (历史数据导入), not "
            "done on the platform. Review opens no case: the signatures come by review's "
            "own import."
        ),
    )


class MissingItem(_Part):
    code: Code = Field(description="Material type code from the city configuration.")
    name: ChineseText = Field(description="Chinese name of the material, e.g. 户口簿.")
    note: ChineseText | None = Field(default=None, description="What exactly is missing.")


@register
class ApplicationSupplementRequested(_IntakeEvent):
    """A one-time supplementary-materials notice (一次性补件通知单) listing every missing item."""

    event_type: ClassVar[str] = "application.supplement_requested"
    summary: ClassVar[str] = "A street office asked once for every missing material."

    application_id: uuid.UUID
    tracking_no: DocNo
    notice_no: DocNo = Field(description="Notice number (补件通知单编号).")
    items: list[MissingItem] = Field(min_length=1)
    deadline: date = Field(description="Last day to hand the materials in.")
    requested_by: StaffRef
    requested_at: AwareDatetime


@register
class ApplicationWithdrawn(_IntakeEvent):
    """The application was withdrawn (撤回) by the applicant or closed by staff on their behalf."""

    event_type: ClassVar[str] = "application.withdrawn"
    summary: ClassVar[str] = "An application was withdrawn."

    application_id: uuid.UUID
    tracking_no: DocNo
    initiated_by: Literal["applicant", "staff"]
    withdrawn_by: StaffRef = Field(description="`sub` of whoever withdrew it.")
    withdrawn_at: AwareDatetime
    reason: ChineseText | None = None


@register
class ApplicationRefused(_IntakeEvent):
    """A street office refused the application before accepting it (不予受理), with the reasons
    the applicant is told. Review's rejection of an accepted application is
    ``application.rejected``; each event has one producer."""

    event_type: ClassVar[str] = "application.refused"
    summary: ClassVar[str] = "A street office refused an application before acceptance."

    application_id: uuid.UUID
    tracking_no: DocNo
    city: CityCode
    district: DistrictCode
    street: StreetCode
    category: Code
    reasons: list[ChineseText] = Field(min_length=1)
    refused_at: AwareDatetime
    refused_by: StaffRef = Field(description="`sub` of the clerk who refused it.")

    def as_rejection(self) -> ApplicationRejected:
        """The same ending in the shape of a rejection, for read models that show both alike
        (the stage is ``intake`` and there is no review case)."""
        return ApplicationRejected(
            application_id=self.application_id,
            tracking_no=self.tracking_no,
            city=self.city,
            district=self.district,
            street=self.street,
            category=self.category,
            stage="intake",
            reasons=self.reasons,
            rejected_at=self.refused_at,
            rejected_by=self.refused_by,
        )


@register
class ApplicationMaterialsUploaded(_IntakeEvent):
    """A material was uploaded. ``size_bytes`` 0 is an empty material and raises R2."""

    event_type: ClassVar[str] = "application.materials_uploaded"
    summary: ClassVar[str] = "A material was uploaded to an application."

    application_id: uuid.UUID
    material_id: uuid.UUID
    material_type: Code = Field(description="Material type code, e.g. hukou_register.")
    sha256: Sha256 = Field(description="Hex SHA-256 of the file as stored.")
    size_bytes: int = Field(ge=0, description="File size in bytes.")
    uploaded_by: StaffRef
    uploaded_at: AwareDatetime
    missing_materials: list[Code] | None = Field(
        default=None,
        description=(
            "Required materials of the category still missing after this upload (empty: all "
            "in, Y1 clears). Null from a producer that does not say; alerting then treats the "
            "upload as completing the materials, as before the field existed."
        ),
    )


@register
class ApplicationSupplementReceived(_IntakeEvent):
    """Every item of a supplementary-materials notice arrived; the application goes on."""

    event_type: ClassVar[str] = "application.supplement_received"
    summary: ClassVar[str] = "The materials a supplement notice asked for all arrived."

    application_id: uuid.UUID
    tracking_no: DocNo
    notice_no: DocNo
    items: list[Code] = Field(min_length=1, description="Material codes the notice listed.")
    received_at: AwareDatetime


@register
class ApplicationSupplementOverdue(_IntakeEvent):
    """A supplementary-materials notice passed its deadline with items still missing."""

    event_type: ClassVar[str] = "application.supplement_overdue"
    summary: ClassVar[str] = "A supplement notice passed its deadline unanswered."

    application_id: uuid.UUID
    tracking_no: DocNo
    notice_no: DocNo
    street: StreetCode
    deadline: date
    missing: list[Code] = Field(min_length=1, description="Material codes still missing.")
    detected_at: AwareDatetime


# ================================================================================================
# verification (协查 / 联审联查)
# ================================================================================================


@register
class VerificationStarted(_VerificationEvent):
    """A verification case was opened and requests went to every department at once."""

    event_type: ClassVar[str] = "verification.started"
    summary: ClassVar[str] = "Cross-department verification started for an application."

    case_id: uuid.UUID
    application_id: uuid.UUID
    departments: list[DepartmentCode] = Field(min_length=1)
    started_at: AwareDatetime
    due_on: date = Field(description="The latest department deadline.")
    purpose: RequestPurpose = Field(
        default="admission", description="admission (准入核查) or re_review (年度复核)."
    )


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


@register
class VerificationRequested(_VerificationEvent):
    """A request to one department (协查请求), on ``housing.verification`` as
    ``request.<department>``; only that department's user can read its queue.

    Subjects carry names and resident IDs because the department must find the people in its
    own records; nothing else is sent beyond what the department needs.
    """

    event_type: ClassVar[str] = "verification.requested"
    exchange: ClassVar[ExchangeName] = "verification"
    routing_key_template: ClassVar[str] = "request.{department}"
    summary: ClassVar[str] = "A verification request to one department."
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


@register
class DepartmentAnswered(_DepartmentEvent):
    """A department's answer (协查反馈), on ``housing.verification`` as ``response.<department>``.

    ``no_record`` true means the department searched and found nothing for any subject; an
    answer with ``no_record`` false and no findings is an empty answer and raises R6.
    """

    event_type: ClassVar[str] = "department.answered"
    exchange: ClassVar[ExchangeName] = "verification"
    routing_key_template: ClassVar[str] = "response.{department}"
    summary: ClassVar[str] = "A department answered a verification request."
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


BATCH_MAX_ITEMS = 500
"""Items one request or answer batch carries at most (a consumer transaction holds 50 events)."""


def _example(model: type[BaseModel]) -> dict[str, Any]:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    examples = extra["examples"]
    assert isinstance(examples, list)
    return dict(examples[0])


@register
class VerificationRequestBatch(_VerificationEvent):
    """Every request of one verification transaction to one department, in one message
    (``request.<department>``, the department's queue, as the single requests): each item is a
    complete ``verification.requested`` payload with its own ``request_id``, answered on its
    own. Sent to the departments the platform is configured to batch for
    (``HOUSING_VERIFICATION_REQUEST_BATCHES``); the envelope id is derived from the items'
    request ids, so a copy of the batch has the same id."""

    event_type: ClassVar[str] = "verification.requested_batch"
    exchange: ClassVar[ExchangeName] = "verification"
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


@register
class DepartmentAnswerBatch(_DepartmentEvent):
    """The answers to one consumed request batch, in one message (``response.<department>``,
    as the single answers): each item is a complete ``department.answered`` payload naming the
    request it answers. The platform validates and applies every item on its own: a bad item is
    split off and handled as a bad single answer would be (retried, then parked with its
    error), the others are applied; an item for a request already answered changes nothing.
    Derive the envelope id from the items (the SDK: ``answer_batch_event_id``), so a resent
    batch is recognised."""

    event_type: ClassVar[str] = "department.answered_batch"
    exchange: ClassVar[ExchangeName] = "verification"
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


class _DepartmentRequestEvent(_VerificationEvent):
    case_id: uuid.UUID
    application_id: uuid.UUID
    request_id: uuid.UUID
    department: DepartmentCode


@register
class VerificationAnswerEmpty(_DepartmentRequestEvent):
    """A department answered with neither findings nor "no record" (R6 部门反馈为空)."""

    event_type: ClassVar[str] = "verification.answer_empty"
    summary: ClassVar[str] = "A department's answer was empty."

    answered_at: AwareDatetime


@register
class VerificationAnswerLate(_DepartmentRequestEvent):
    """A department answered after its deadline."""

    event_type: ClassVar[str] = "verification.answer_late"
    summary: ClassVar[str] = "A department answered after its deadline."

    deadline: date
    answered_at: AwareDatetime
    working_days_late: WorkingDays


@register
class VerificationDepartmentOverdue(_DepartmentRequestEvent):
    """A department's deadline passed with no answer (逾期未反馈)."""

    event_type: ClassVar[str] = "verification.department_overdue"
    summary: ClassVar[str] = "A department's deadline passed without an answer."

    deadline: date
    detected_at: AwareDatetime


class Discrepancy(_Part):
    """A declared value contradicted by a verified one (possible 隐报、瞒报、假报)."""

    member_id_hash: IdHash | None = Field(
        description="The member concerned; null for household-level fields (housing area)."
    )
    field: Code = Field(description="What differs, e.g. monthly_income, housing_area_m2.")
    declared: str | None = Field(max_length=200, description="Declared value, as text.")
    verified: str | None = Field(max_length=200, description="Verified value, as text.")
    department: DepartmentCode = Field(description="Department whose answer shows it.")


class EconomicProfile(_Part):
    """The household's verified economic profile (家庭经济状况), household-level figures only."""

    member_count: int = Field(ge=1, le=30)
    monthly_income_total: Money
    per_capita_monthly_income: Money
    financial_assets: Money
    housing_area_m2: Area
    per_capita_housing_area_m2: Area
    vehicle_count: int = Field(ge=0, le=500)
    vehicle_value: Money
    business_count: int = Field(ge=0, le=500)
    registered_capital_total: Money
    assistance_status: Literal["minimum_living", "extreme_poverty", "low_income"] | None = None


class PriorityFinding(_Part):
    """A verified circumstance that may give a household priority in allocation (优先配租情形),
    household-level: no member is named. Review decides the priority groups from these at
    qualification, by the city's rules."""

    kind: Literal["assistance", "disability", "veteran", "age"]
    value: str = Field(
        min_length=1,
        max_length=40,
        description=(
            "assistance: minimum_living / extreme_poverty / low_income; disability: the grade "
            "(1 most severe); veteran: veteran / martyr_family / entitled_group; age: a "
            "member's age in whole years from a verified birth."
        ),
    )
    department: DepartmentCode = Field(description="Department whose answer shows it.")


@register
class VerificationCompleted(_VerificationEvent):
    """Every department answered or ran out of time; the profile was checked against the
    city's admission parameters (准入参数) and a reasoned recommendation produced
    (智能生成审核结果). Credit reads ``discrepancies``."""

    event_type: ClassVar[str] = "verification.completed"
    summary: ClassVar[str] = "Verification finished with a reasoned recommendation."

    case_id: uuid.UUID
    application_id: uuid.UUID
    category: Code
    completed_at: AwareDatetime
    recommendation: Literal["eligible", "ineligible", "needs_review"]
    reasons: list[ChineseText] = Field(
        min_length=1, description="Why, in Chinese, one line per criterion checked."
    )
    profile: EconomicProfile
    discrepancies: list[Discrepancy] = Field(default_factory=list)
    missing_departments: list[DepartmentCode] = Field(
        default_factory=list, description="Departments that had not answered."
    )
    parameters_version: int = Field(ge=1, description="Admission parameters version applied.")
    priority_findings: list[PriorityFinding] = Field(
        default_factory=list,
        max_length=200,
        description="Verified circumstances relevant to priority in allocation (may be empty).",
    )


class ParameterChange(_Part):
    name: Code = Field(description="Parameter, e.g. per_capita_monthly_income_max.")
    old: str | None = Field(max_length=200, description="Previous value; null if new.")
    new: str | None = Field(max_length=200, description="New value; null if removed.")


@register
class VerificationParametersChanged(_VerificationEvent):
    """Admission parameters (准入参数) changed. ``approved`` false means the change took effect
    without going through the approval flow, which alerting flags."""

    event_type: ClassVar[str] = "verification.parameters_changed"
    summary: ClassVar[str] = "Admission parameters of a category changed."

    parameter_set_id: uuid.UUID
    city: CityCode
    category: Code
    version: int = Field(ge=1, description="The new parameters version.")
    changes: list[ParameterChange] = Field(min_length=1)
    proposed_by: StaffRef
    proposed_at: AwareDatetime
    approved: bool
    approved_by: StaffRef | None = None
    approved_at: AwareDatetime | None = None
    effective_from: date

    @model_validator(mode="after")
    def _approval_consistent(self) -> Self:
        approval = (self.approved_by, self.approved_at)
        if (None in approval) if self.approved else (approval != (None, None)):
            raise ValueError("approved needs approved_by and approved_at, and only then")
        return self


# -- annual re-review (年度复核): tenancy asks, verification checks ----------------------------

IncomeBand = Literal["subsistence", "low_income", "other"]
RereviewCheckCode = Literal[
    "income", "housing_area", "financial_assets", "vehicle_value", "business_capital"
]


@register
class TenancyRereviewRequested(EventPayload):
    """Tenancy's annual re-review campaign (年度复核) asks verification to check a tenant
    household again. Verification finds the household from its admission case of the
    application and runs the same department fan-out with ``purpose = re_review``; it answers
    with ``verification.rereview_completed`` in every case (also when it holds no household)."""

    # Published by tenancy; declared here, next to verification's answer, as one contract.
    producer: ClassVar[str] = "tenancy"
    event_type: ClassVar[str] = "tenancy.rereview_requested"
    summary: ClassVar[str] = "Tenancy asked for the annual re-review of a tenant household."

    lease_id: uuid.UUID
    application_id: uuid.UUID = Field(description="The application the household was housed on.")
    household_reference: DocNo = Field(description="The application's tracking number.")
    campaign: int = Field(ge=2000, le=2100, description="The campaign year (复核年度).")
    deadline: date = Field(description="Last day of the household's re-review (tenancy's).")
    requested_at: AwareDatetime


class RereviewCheck(_Part):
    """One continuation criterion of a re-review: passed, failed, or not verifiable.

    ``reason``: ``within_limit``, ``above_limit`` or ``no_department_answer`` (none of the
    criterion's departments gave a usable answer). ``source``: ``departments``, or
    ``declared_at_admission`` for financial assets, which no department reports.
    """

    check: RereviewCheckCode
    result: Literal["passed", "failed", "unverified"]
    reason: Literal["within_limit", "above_limit", "no_department_answer"]
    source: Literal["departments", "declared_at_admission"] = "departments"


@register
class VerificationRereviewCompleted(_VerificationEvent):
    """A re-review case finished: the verified profile checked against the city's
    continuation thresholds (which may differ from admission), and the income band rent
    follows. Nothing else of the profile travels: no ID numbers, no incomes.

    ``household_found`` false: verification holds no household for the application (it never
    verified it); then there is no case, no checks, no band and ``meets_continuation`` is null.
    ``meets_continuation`` is true when every check passed, false when any failed, null when
    none failed but some could not be verified (a person decides). ``income_band`` is
    ``subsistence`` with a 低保 or 特困 status from civil affairs; else ``low_income`` with a
    低收入 status or a verified per-capita income within the admission limit in force; else
    ``other``; null when neither status nor income could be verified.

    Not ``verification.completed``: review and credit hear that one, and a tenant household is
    not an application to decide again.
    """

    event_type: ClassVar[str] = "verification.rereview_completed"
    summary: ClassVar[str] = "A tenant household's annual re-review was verified."

    lease_id: uuid.UUID
    application_id: uuid.UUID
    campaign: int = Field(ge=2000, le=2100)
    case_id: uuid.UUID | None = Field(description="The re-review case; null without household.")
    household_found: bool
    completed_at: AwareDatetime
    checks: list[RereviewCheck] = Field(default_factory=list)
    income_band: IncomeBand | None = None
    meets_continuation: bool | None = None
    missing_departments: list[DepartmentCode] = Field(
        default_factory=list, description="Departments that had not answered."
    )

    @model_validator(mode="after")
    def _nothing_without_household(self) -> Self:
        if not self.household_found and (
            self.case_id is not None
            or self.checks
            or self.income_band is not None
            or self.meets_continuation is not None
        ):
            raise ValueError("without a household there is no case, check, band or verdict")
        if self.household_found and self.case_id is None:
            raise ValueError("a re-review of a known household has its case")
        return self


# ================================================================================================
# review (分级审核)
# ================================================================================================


class StagePlan(_Part):
    stage: Code
    level: Level
    time_limit_working_days: WorkingDays


class _CaseEvent(_ReviewEvent):
    case_id: uuid.UUID
    application_id: uuid.UUID


class _StageEvent(_CaseEvent):
    stage: Code = Field(description="Stage code from the workflow, e.g. street_initial.")
    level: Level
    unit: UnitCode = Field(description="The unit that works on the stage.")


@register
class ReviewCaseOpened(_CaseEvent):
    """A review case was opened for an application, with its stage layout."""

    event_type: ClassVar[str] = "review.case_opened"
    summary: ClassVar[str] = "A review case was opened."

    tracking_no: DocNo
    city: CityCode
    district: DistrictCode
    street: StreetCode
    category: Code
    workflow: Code = Field(description="Workflow preset, e.g. xiamen_3_levels.")
    workflow_version: int = Field(ge=1)
    stages: list[StagePlan] = Field(min_length=1)
    opened_at: AwareDatetime


@register
class ReviewStageStarted(_StageEvent):
    """A stage started; ``due_at`` counts working days (statutory holidays, make-up days)."""

    event_type: ClassVar[str] = "review.stage_started"
    summary: ClassVar[str] = "A review stage started and its clock runs."

    started_at: AwareDatetime
    due_at: AwareDatetime
    time_limit_working_days: WorkingDays
    calendar_fallback: bool = Field(
        default=False,
        description="The deadline used the Monday-to-Friday fallback for a year nobody entered.",
    )
    yellow_at: AwareDatetime | None = Field(
        default=None,
        description="Yellow-light threshold (Y3): one working day before the deadline.",
    )
    fallback_years: list[int] = Field(
        default_factory=list,
        description="Years the deadline counted with the Monday-to-Friday fallback.",
    )
    round: int = Field(default=1, ge=1, description="Run of this stage (2+ after a return).")


@register
class ReviewOpinionSigned(_StageEvent):
    """A real-name signature (签字) on a stage: handler (经办人), reviewer (复核人), leader.

    ``signed_at`` is server time; alerting checks the order (R3-R5). The opinion text stays in
    review; ``opinion_quality`` tells whether it was specific (Fujian rule).
    """

    event_type: ClassVar[str] = "review.opinion_signed"
    summary: ClassVar[str] = "An opinion on a stage was signed."

    role: Literal["handler", "reviewer", "leader"]
    decision: Literal["approve", "reject", "return"]
    signer: StaffRef
    signed_at: AwareDatetime
    opinion_quality: Literal["specific", "boilerplate", "empty"] = "specific"
    imported: bool = Field(
        default=False,
        description=(
            "Loaded from a migrating city's old system or a paper window (历史数据导入), not "
            "done on the platform. The signature keeps its historical time; alerting checks "
            "the order (R3-R5)."
        ),
    )


@register
class ReviewStageCompleted(_StageEvent):
    """A stage ended with its last required signature."""

    event_type: ClassVar[str] = "review.stage_completed"
    summary: ClassVar[str] = "A review stage was completed."

    outcome: Literal["approve", "reject", "return"]
    completed_at: AwareDatetime
    working_days_used: WorkingDays = Field(description="Excluding suspensions.")
    overdue: bool
    next_stage: Code | None = None


@register
class ReviewStageSuspended(_StageEvent):
    """A stage was suspended for supplementary materials (补件挂起), at most 10 working days."""

    event_type: ClassVar[str] = "review.stage_suspended"
    summary: ClassVar[str] = "A review stage was suspended for supplementary materials."

    suspension_id: uuid.UUID
    reason: ChineseText
    suspended_by: StaffRef
    suspended_at: AwareDatetime
    resumes_by: AwareDatetime = Field(description="When the suspension ends by itself.")


@register
class ReviewStageResumed(_StageEvent):
    """A suspension ended (materials in, or automatically at its limit); the clock runs again."""

    event_type: ClassVar[str] = "review.stage_resumed"
    summary: ClassVar[str] = "A suspended review stage resumed."

    suspension_id: uuid.UUID
    resumed_at: AwareDatetime
    automatic: bool = Field(description="Resumed by itself at the end of the allowed time.")
    resumed_by: StaffRef | None = None
    suspended_working_days: WorkingDays
    due_at: AwareDatetime = Field(description="The stage's deadline, moved by the suspension.")

    @model_validator(mode="after")
    def _who_resumed(self) -> Self:
        if not self.automatic and self.resumed_by is None:
            raise ValueError("a manual resumption names resumed_by")
        return self


@register
class ReviewSuspensionRefused(_StageEvent):
    """A handler asked to suspend a stage whose supplement suspensions already used the whole
    per-stage limit (Xiamen art. 7: at most 10 working days per stage, however many
    suspensions): review refused it and alerting lights R8S."""

    event_type: ClassVar[str] = "review.suspension_refused"
    summary: ClassVar[str] = "A supplement suspension beyond the stage's total limit was refused."

    requested_by: StaffRef
    requested_at: AwareDatetime
    suspended_working_days: WorkingDays = Field(
        description="Working days the stage has already spent suspended."
    )
    limit_working_days: WorkingDays = Field(description="The stage's total suspension limit.")
    due_at: AwareDatetime = Field(description="The stage's deadline, which does not move.")


@register
class ReviewStageOverdue(_StageEvent):
    """A stage passed its time limit (R8 超时限)."""

    event_type: ClassVar[str] = "review.stage_overdue"
    summary: ClassVar[str] = "A review stage passed its time limit."

    due_at: AwareDatetime
    detected_at: AwareDatetime
    calendar_fallback: bool = False


@register
class ReviewDecided(_CaseEvent):
    """The city confirmed the result (市复核认定) with leadership approval."""

    event_type: ClassVar[str] = "review.decided"
    summary: ClassVar[str] = "Review reached its final decision."

    outcome: Literal["qualified", "rejected"]
    decided_by: StaffRef
    decided_at: AwareDatetime
    reasons: list[ChineseText] = Field(default_factory=list)


@register
class ReviewPublicityRequested(_CaseEvent):
    """Review approved the application at its last stage; publication opens the qualification
    notice (资格审核结果公示). ``application.qualified`` follows when the notice closed with no
    sustained objection."""

    event_type: ClassVar[str] = "review.publicity_requested"
    summary: ClassVar[str] = "Review asks publication to put an approved application on notice."

    tracking_no: DocNo
    city: CityCode
    district: DistrictCode
    street: StreetCode
    category: Code
    member_count: int = Field(ge=1, le=30)
    applicant_name_masked: MaskedName
    kind: Literal["qualification"] = "qualification"
    min_days: int = Field(ge=7, le=365, description="Minimum publicity length in calendar days.")
    requested_at: AwareDatetime


class PriorityGroupDecision(_Part):
    """One priority group a household qualifies for, with the reason in Chinese."""

    code: Code = Field(description="Priority group code of the city configuration.")
    reason: ChineseText = Field(description="Why, e.g. 民政部门核实：最低生活保障家庭.")


@register
class ApplicationQualified(_ReviewEvent):
    """The family qualified (资格认定): its qualification notice (公示, opened on
    ``review.publicity_requested``) closed at its planned end with no sustained objection. It
    gains waiting-list eligibility (轮候资格)."""

    event_type: ClassVar[str] = "application.qualified"
    summary: ClassVar[str] = "An application qualified after its publicity."

    application_id: uuid.UUID
    case_id: uuid.UUID
    tracking_no: DocNo
    city: CityCode
    district: DistrictCode
    street: StreetCode
    category: Code
    member_count: int = Field(ge=1, le=30)
    applicant_name_masked: MaskedName
    qualified_at: AwareDatetime
    priority_groups: list[PriorityGroupDecision] = Field(
        default_factory=list,
        max_length=20,
        description=(
            "Priority groups (优先配租对象) the verified findings put the household in, by the "
            "city's rules; empty when none applies (and in events from before this field)."
        ),
    )


@register
class ApplicationRejected(_ReviewEvent):
    """The application was rejected, with the reasons the applicant is told."""

    event_type: ClassVar[str] = "application.rejected"
    summary: ClassVar[str] = "An application was rejected."

    application_id: uuid.UUID
    case_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "Review case. Null only in events from before intake's refusals became "
            "``application.refused``; consumers still accept it."
        ),
    )
    tracking_no: DocNo
    city: CityCode
    district: DistrictCode
    street: StreetCode
    category: Code
    stage: Code | None = Field(default=None, description="Stage where it was rejected.")
    reasons: list[ChineseText] = Field(min_length=1)
    rejected_at: AwareDatetime
    rejected_by: StaffRef | None = Field(default=None, description="`sub` of who rejected it.")
    reason_code: Code | None = Field(
        default=None,
        description=(
            "Why the case ended without a signed rejection: ``credit_ban`` (a member was banned "
            "during review). Null for a rejection signed at a stage."
        ),
    )


# ================================================================================================
# publication (公示、异议)
# ================================================================================================

NoticeKind = Literal[
    "qualification",
    "lottery_shortlist",
    "allocation",
    # Announcements (公告) with the same lifecycle; added in catalogue 1.2.0. Alerting's R7
    # (publicity shorter than 7 days) concerns "qualification" only.
    "acceptance",
    "objection_conclusion",
    "exit",
]


@register
class PublicityOpened(_PublicationEvent):
    """A public notice (公示) opened. Shorter than 7 days is refused by the API but may still
    arrive (imports, overrides); alerting raises R7 on it."""

    event_type: ClassVar[str] = "publicity.opened"
    summary: ClassVar[str] = "A public notice (公示) opened."

    notice_id: uuid.UUID
    kind: NoticeKind
    city: CityCode
    unit: UnitCode = Field(description="The publishing unit.")
    batch: str | None = Field(default=None, max_length=64, description="Batch label.")
    application_ids: list[uuid.UUID] = Field(min_length=1)
    opened_at: AwareDatetime
    closes_at: AwareDatetime = Field(description="Planned end of the notice.")
    planned_days: int = Field(ge=0, le=365, description="Planned length in calendar days.")
    allocation_ids: list[uuid.UUID] = Field(
        default_factory=list,
        description=(
            "Kind allocation: the allocation results (allocation.unit_allocated) this notice "
            "publishes (配租结果公开); empty for other kinds. Added in catalogue 1.3.0."
        ),
    )


@register
class PublicityClosed(_PublicationEvent):
    """A public notice closed, at its planned end or early by an override."""

    event_type: ClassVar[str] = "publicity.closed"
    summary: ClassVar[str] = "A public notice (公示) closed."

    notice_id: uuid.UUID
    kind: NoticeKind
    application_ids: list[uuid.UUID] = Field(min_length=1)
    opened_at: AwareDatetime
    closed_at: AwareDatetime
    closed_early: bool
    override_by: StaffRef | None = None
    reason: ChineseText | None = None

    @model_validator(mode="after")
    def _early_needs_override(self) -> Self:
        if self.closed_early and (self.override_by is None or self.reason is None):
            raise ValueError("closing early names override_by and a reason")
        return self


@register
class ObjectionFiled(_PublicationEvent):
    """Someone lodged an objection (异议) against an entry of a notice. The objector's identity
    and the text stay in publication."""

    event_type: ClassVar[str] = "objection.filed"
    summary: ClassVar[str] = "An objection was lodged against a notice entry."

    objection_id: uuid.UUID
    notice_id: uuid.UUID
    application_id: uuid.UUID
    channel: Literal["online", "window", "mail", "phone"]
    anonymous: bool
    filed_at: AwareDatetime
    conclude_by: date | None = Field(default=None, description="When a conclusion is due.")


@register
class ObjectionConcluded(_PublicationEvent):
    """An objection was investigated and its conclusion (核查结论) published."""

    event_type: ClassVar[str] = "objection.concluded"
    summary: ClassVar[str] = "An objection was investigated and concluded."

    objection_id: uuid.UUID
    notice_id: uuid.UUID
    application_id: uuid.UUID
    outcome: Literal["sustained", "dismissed"]
    conclusion: ChineseText = Field(description="The published conclusion, already masked.")
    concluded_by: StaffRef
    concluded_at: AwareDatetime


# ================================================================================================
# alerting (预警、督办)
# ================================================================================================


@register
class AlertRaised(_AlertingEvent):
    """A rule breach lit a yellow or red light (亮灯)."""

    event_type: ClassVar[str] = "alert.raised"
    # The colour in the key: publication binds only the red lights it pushes to the province.
    routing_key_template: ClassVar[str] = "alert.raised.{colour}"
    summary: ClassVar[str] = "A supervision rule raised a yellow or red light."

    alert_id: uuid.UUID
    rule_id: RuleId
    colour: Colour
    application_id: uuid.UUID | None = Field(
        default=None, description="Null for rules not about one application."
    )
    case_id: uuid.UUID | None = None
    stage: Code | None = None
    department: DepartmentCode | None = None
    unit: UnitCode = Field(description="The unit responsible.")
    raised_at: AwareDatetime

    def routing_key(self) -> str:
        return self.routing_key_template.format(colour=self.colour)


@register
class AlertCleared(_AlertingEvent):
    """A light went out (灭灯), automatically or confirmed by a supervisor."""

    event_type: ClassVar[str] = "alert.cleared"
    routing_key_template: ClassVar[str] = "alert.cleared.{colour}"
    summary: ClassVar[str] = "A yellow or red light went out."

    alert_id: uuid.UUID
    rule_id: RuleId
    colour: Colour
    application_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    stage: Code | None = None
    unit: UnitCode
    raised_at: AwareDatetime
    cleared_at: AwareDatetime
    cleared_by: StaffRef | None = Field(
        default=None, description="Who confirmed it; null when its condition ended by itself."
    )

    def routing_key(self) -> str:
        return self.routing_key_template.format(colour=self.colour)


@register
class TicketOpened(_AlertingEvent):
    """A supervision ticket (督办单) was issued to a unit."""

    event_type: ClassVar[str] = "ticket.opened"
    summary: ClassVar[str] = "A supervision ticket (督办单) was issued."

    ticket_id: uuid.UUID
    ticket_no: DocNo
    colour: Colour
    rule_id: RuleId
    alert_ids: list[uuid.UUID] = Field(min_length=1)
    application_id: uuid.UUID | None = None
    unit: UnitCode = Field(description="The unit that must handle it.")
    opened_at: AwareDatetime
    due_at: AwareDatetime


@register
class TicketEscalated(_AlertingEvent):
    """A ticket went up the chain: street/district -> city centre (2 working days) -> city
    office (1 working day) -> province."""

    event_type: ClassVar[str] = "ticket.escalated"
    summary: ClassVar[str] = "A supervision ticket was escalated up the chain."

    ticket_id: uuid.UUID
    from_unit: UnitCode
    to_unit: UnitCode | None = Field(description="Null when it leaves the city (province).")
    to_level: Literal["district", "city_centre", "city_office", "province"]
    automatic: bool = Field(description="Escalated by its deadline rather than by a person.")
    escalated_by: StaffRef | None = None
    escalated_at: AwareDatetime
    due_at: AwareDatetime | None = None


@register
class TicketClosed(_AlertingEvent):
    """A ticket was closed after handling and confirmation."""

    event_type: ClassVar[str] = "ticket.closed"
    summary: ClassVar[str] = "A supervision ticket was closed."

    ticket_id: uuid.UUID
    outcome: Literal["resolved", "withdrawn"]
    closed_by: StaffRef
    confirmed_by: StaffRef | None = Field(
        default=None, description="Who confirmed the light went out."
    )
    closed_at: AwareDatetime


@register
class TicketFeedbackReported(_AlertingEvent):
    """The city office reported a red ticket's feedback (原因及办理结果反馈) to the province
    (Xiamen art. 10(2): 由市住房保障办统一向省监察厅、省住建厅反馈督办结果); publication pushes it
    to the provincial platform. Free texts are scrubbed of ID numbers and mobiles."""

    event_type: ClassVar[str] = "ticket.feedback_reported"
    summary: ClassVar[str] = "A red ticket's feedback was reported to the province."

    ticket_id: uuid.UUID
    ticket_no: DocNo
    rule_id: RuleId
    application_id: uuid.UUID | None = None
    unit: UnitCode = Field(description="The unit responsible for the light.")
    department: DepartmentCode | None = Field(
        default=None, description="The department the ticket was addressed to, if any."
    )
    category: Code = Field(description="Red-light category it is filed under.")
    cause_kind: Literal["human", "system"] | None = None
    cause: ChineseText | None = None
    handling_opinion: ChineseText | None = None
    summary_text: ChineseText = Field(description="The city office's written feedback.")
    opened_at: AwareDatetime
    handled_at: AwareDatetime | None = None
    reported_by: StaffRef
    reported_at: AwareDatetime


@register
class ComplaintAgencyReferred(_AlertingEvent):
    """A complaint about an agency (有偿代办 / 黑中介) in the complaints ledger (投诉举报台账)
    was referred to the integrity file: credit enters a record awaiting an officer's approval.

    The complainant is never named: only the agency, the facts and the ledger number travel.
    """

    event_type: ClassVar[str] = "complaint.agency_referred"
    summary: ClassVar[str] = "A complaint about an agency was referred for a credit record."

    complaint_id: uuid.UUID
    complaint_no: DocNo = Field(description="Ledger number (投诉举报编号).")
    agency_name: str = Field(min_length=1, max_length=200)
    org_credit_code: str | None = Field(
        default=None,
        pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
        description="Unified social credit code (统一社会信用代码), when known.",
    )
    facts: ChineseText = Field(description="What the complaint says the agency did (scrubbed).")
    unit: UnitCode = Field(description="The complaint's responsible unit.")
    referred_by: StaffRef
    referred_at: AwareDatetime


# ================================================================================================
# credit (诚信档案、黑名单)
# ================================================================================================

CreditIdHash = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{64}$"),
    Field(
        examples=["9f2c4e1a7b3d5f60" * 4],
        description=(
            "Hex HMAC-SHA256 id hash of the subject: of the resident ID for a family member, of "
            "the unified social credit code (统一社会信用代码) for an employer or agency."
        ),
    ),
]


@register
class CreditRecordCreated(_CreditEvent):
    """A dishonesty record (失信记录) was entered in the integrity file."""

    event_type: ClassVar[str] = "credit.record_created"
    summary: ClassVar[str] = "A dishonesty record was created."

    record_id: uuid.UUID
    subject_kind: SubjectKind
    id_hash: CreditIdHash
    behaviour: DishonestBehaviour
    severity: Severity
    application_id: uuid.UUID | None = None
    source: Literal["verification", "review", "report", "manual"]
    created_by: StaffRef
    created_at: AwareDatetime
    kind: Code | None = Field(
        default=None,
        description=(
            "The precise record kind (e.g. non_employee_income_certificate, tenancy_sublet or a "
            "city-configured employer kind); ``behaviour`` is its nearest catalogue value."
        ),
    )
    origin: Literal["verification", "review", "complaint", "inspection"] | None = Field(
        default=None, description="Where the finding came from, more precisely than ``source``."
    )


@register
class CreditNoticeStep(_CreditEvent):
    """A step of the notice procedure: notice letter (告知函) -> public announcement when
    undeliverable (公告) -> integrity file and city credit system (记入) -> lawyer's letter."""

    event_type: ClassVar[str] = "credit.notice_step"
    summary: ClassVar[str] = "A step of the dishonesty notice procedure was taken."

    record_id: uuid.UUID
    step: Literal[
        "notice_letter",
        "public_announcement",
        "credit_file",
        "lawyer_letter",
        "correction_deadline",  # the correction deadline passed without correction
        "corrected",  # the subject corrected in time; the procedure ends without a record
        "legal_procedure",  # handed to legal proceedings (通过法律程序处理)
    ]
    delivered: bool | None = Field(default=None, description="For letters: was it delivered.")
    taken_by: StaffRef
    taken_at: AwareDatetime
    subject_kind: SubjectKind | None = None
    behaviour: DishonestBehaviour | None = None
    correction_deadline: date | None = Field(
        default=None, description="Last day to correct (限期纠正), once the notice reached them."
    )
    subject_display: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Masked name of a person (张*三) or the public name of an organisation.",
    )
    subject_id_masked: MaskedResidentId | None = None
    announcement: ChineseText | None = Field(
        default=None,
        description="For public_announcement: the text publication puts on the public notice.",
    )


@register
class CreditBanImposed(_CreditEvent):
    """A ban from applying (1, 3 or 5 years by severity); it lifts itself on ``ends_on``."""

    event_type: ClassVar[str] = "credit.ban_imposed"
    summary: ClassVar[str] = "A subject was banned from applying."
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "record_id": "7d3e1f2a-9b8c-4d5e-a6f7-0e1d2c3b4a59",
                    "id_hash": "9f2c4e1a7b3d5f60" * 4,
                    "subject_kind": "family",
                    "severity": "general",
                    "starts_on": "2026-12-03",
                    "ends_on": "2027-12-03",
                }
            ]
        }
    )

    record_id: uuid.UUID
    id_hash: CreditIdHash
    subject_kind: SubjectKind
    severity: Severity
    starts_on: date
    ends_on: date = Field(description="First day the subject may apply again.")

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.ends_on <= self.starts_on:
            raise ValueError("ends_on must be after starts_on")
        return self


@register
class CreditBanLifted(_CreditEvent):
    """A ban ended, at expiry or early (with a reason)."""

    event_type: ClassVar[str] = "credit.ban_lifted"
    summary: ClassVar[str] = "A ban was lifted."

    record_id: uuid.UUID
    id_hash: CreditIdHash
    lifted_on: date
    early: bool
    reason: ChineseText | None = None

    @model_validator(mode="after")
    def _early_needs_reason(self) -> Self:
        if self.early and self.reason is None:
            raise ValueError("lifting a ban early needs a reason")
        return self


@register
class CreditAgencyBlacklisted(_CreditEvent):
    """An agency was put on the public blacklist (黑中介 / 有偿代办). Its name is public."""

    event_type: ClassVar[str] = "credit.agency_blacklisted"
    summary: ClassVar[str] = "An agency was put on the public blacklist."

    record_id: uuid.UUID
    id_hash: CreditIdHash
    agency_name: str = Field(min_length=1, max_length=200)
    org_credit_code: str | None = Field(
        default=None,
        pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
        description="Unified social credit code (统一社会信用代码), when known.",
    )
    behaviour: DishonestBehaviour
    listed_on: date
    until: date | None = Field(default=None, description="Last day listed; null until lifted.")


@register
class CreditCaseExposed(_CreditEvent):
    """A filed record approved by a city leader for public exposure as a typical case (典型案例
    曝光). Only masked or public identity travels: a person's masked name, an organisation's
    name. ``credit.ban_lifted`` for the record ends the exposure."""

    event_type: ClassVar[str] = "credit.case_exposed"
    summary: ClassVar[str] = "A filed dishonesty record was approved for public exposure."

    record_id: uuid.UUID
    record_no: DocNo
    subject_kind: SubjectKind
    subject_display: str = Field(
        min_length=1,
        max_length=200,
        description="Masked name of a person (张*三) or the public name of an organisation.",
    )
    behaviour: DishonestBehaviour
    kind_title: ChineseText = Field(description="Title of the precise record kind.")
    severity: Severity
    summary_text: ChineseText = Field(description="The case as written for the public.")
    filed_on: date
    ban_ends_on: date
    proposed_by: StaffRef
    approved_by: StaffRef
    exposed_at: AwareDatetime


# ================================================================================================
# allocation (轮候配租) and the tenancy events it hears
# ================================================================================================


class _AllocationEvent(EventPayload):
    producer: ClassVar[str] = "allocation"


class _TenancyEvent(EventPayload):
    producer: ClassVar[str] = "tenancy"


LotteryHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


@register
class AllocationWaitingEntered(_AllocationEvent):
    """A qualified household entered the waiting list (轮候) of its category."""

    event_type: ClassVar[str] = "allocation.waiting_entered"
    summary: ClassVar[str] = "A household entered the waiting list."

    entry_id: uuid.UUID
    application_id: uuid.UUID
    household_reference: DocNo
    category: Code
    priority_group: Code
    qualified_at: AwareDatetime
    priority_tier: int | None = Field(
        default=None,
        ge=0,
        le=99,
        description=(
            "Tier of the priority group in the city's allocation rules (lower waits ahead); "
            "null from producers before catalogue 1.3.0, ordered after every tier."
        ),
    )


@register
class AllocationPoolFrozen(_AllocationEvent):
    """A round's pool of eligible households was frozen at its cut-off: the lottery shortlist
    (摇号入围名单) to publish with its digest, open to objection until ``objection_until``."""

    event_type: ClassVar[str] = "allocation.pool_frozen"
    summary: ClassVar[str] = "An allocation round's pool (lottery shortlist) was frozen."

    round_id: uuid.UUID
    category: Code
    pool_digest: LotteryHash = Field(description="SHA-256 of the published pool.csv.")
    households: int = Field(ge=0, description="The pool's size (its household_references).")
    household_references: list[DocNo] = Field(
        description="Tracking numbers of the pool's households, in the pool file's order."
    )
    cut_off: AwareDatetime
    objection_until: AwareDatetime = Field(description="End of the pool's objection period.")


class RankedHousehold(_Part):
    """One line of a draw's ranking (ranking.csv)."""

    household_reference: DocNo
    rank: int = Field(ge=1)
    priority_tier: int = Field(ge=0, le=99)


@register
class AllocationEntrySuspended(_AllocationEvent):
    """A waiting entry was suspended: an integrity ban, declines and no-shows past the
    limit (then ``until`` says when it waits again), or no annual confirmation of need."""

    event_type: ClassVar[str] = "allocation.entry_suspended"
    summary: ClassVar[str] = "A waiting-list entry was suspended."

    entry_id: uuid.UUID
    household_reference: DocNo
    reason: Literal["credit_ban", "declines", "unconfirmed"]
    until: date | None = None


@register
class AllocationCommitmentPublished(_AllocationEvent):
    """A round's commitment (承诺值) was published before the draw: the hash of the secret the
    draw will use. Publication keeps it outside allocation and pushes it to the province, so
    that a secret rewritten in allocation's database before the draw no longer matches what
    was published (the draw's own event then shows the difference). Added in catalogue 1.8.0.
    """

    event_type: ClassVar[str] = "allocation.commitment_published"
    summary: ClassVar[str] = "An allocation round's commitment was published before its draw."

    round_id: uuid.UUID
    category: Code
    pool_digest: LotteryHash = Field(description="SHA-256 of the published pool.csv.")
    commitment: LotteryHash = Field(description="SHA-256 of the secret the draw will use.")
    committed_at: AwareDatetime


@register
class AllocationRoundDrawn(_AllocationEvent):
    """A round's lottery (摇号) was drawn; the published files let anyone re-run it."""

    event_type: ClassVar[str] = "allocation.round_drawn"
    summary: ClassVar[str] = "An allocation round's lottery was drawn and published."

    round_id: uuid.UUID
    category: Code
    pool_digest: LotteryHash
    commitment: LotteryHash
    public_input: str = Field(min_length=1, max_length=200)
    secret: LotteryHash
    seed: LotteryHash
    households: int = Field(ge=0)
    drawn_at: AwareDatetime
    ranking: list[RankedHousehold] = Field(
        default_factory=list,
        description=(
            "The ranking in rank order, as in ranking.csv (empty from producers before "
            "catalogue 1.3.0)."
        ),
    )


@register
class AllocationUnitAllocated(_AllocationEvent):
    """A household chose a unit in rank order: the allocation result (配租结果) to publish."""

    event_type: ClassVar[str] = "allocation.unit_allocated"
    summary: ClassVar[str] = "A unit was allocated to a household."

    allocation_id: uuid.UUID
    round_id: uuid.UUID
    household_reference: DocNo
    unit_id: uuid.UUID
    unit_code: str = Field(min_length=1, max_length=80)
    rank: int = Field(ge=1)
    allocated_at: AwareDatetime


@register
class AllocationContractSigned(_AllocationEvent):
    """The tenancy contract (租赁合同) was signed; tenancy opens the lease from it."""

    event_type: ClassVar[str] = "allocation.contract_signed"
    summary: ClassVar[str] = "A tenancy contract was signed."

    contract_id: uuid.UUID
    allocation_id: uuid.UUID
    household_reference: DocNo
    unit_id: uuid.UUID
    monthly_rent: Money
    starts_on: date
    recovery_clauses: list[Code] = Field(
        description="Codes of the early-recovery clauses (提前收回情形) tenancy can cite."
    )
    signed_at: AwareDatetime


@register
class TenancyUnitVacated(_TenancyEvent):
    """A let unit was vacated (退租, recovered); allocation returns it to the stock."""

    event_type: ClassVar[str] = "tenancy.unit_vacated"
    summary: ClassVar[str] = "A tenant left a unit."

    unit_id: uuid.UUID
    vacated_on: date
    recovered: bool = Field(default=False, description="Recovered early (提前收回).")


@register
class AllocationOrderOverridden(_AllocationEvent):
    """A leader let a household choose out of rank order, with a written reason: the
    queue-jump rule's input (a red light and a ticket for supervision)."""

    event_type: ClassVar[str] = "allocation.order_overridden"
    summary: ClassVar[str] = "A unit was allocated out of rank order by a leader's override."

    allocation_id: uuid.UUID
    round_id: uuid.UUID
    household_reference: DocNo
    rank: int = Field(ge=1)
    next_in_order: DocNo | None = Field(description="Whom the rank order named instead.")
    leader: str = Field(min_length=1, max_length=200)
    reason: ChineseText


@register
class AllocationSubsidyChosen(_AllocationEvent):
    """A household chose the rental subsidy (租赁补贴) instead of a unit; tenancy pays it."""

    event_type: ClassVar[str] = "allocation.subsidy_chosen"
    summary: ClassVar[str] = "A household chose a rental subsidy instead of a unit."

    round_id: uuid.UUID
    household_reference: DocNo
    member_count: int = Field(ge=1, le=30)
    income_band: Code
    monthly_amount: Money
    chosen_at: AwareDatetime


@register
class AllocationContractOverdue(_AllocationEvent):
    """A contract was not signed by its deadline (签约期限): the light of the signing rule."""

    event_type: ClassVar[str] = "allocation.contract_overdue"
    summary: ClassVar[str] = "A tenancy contract was not signed by its deadline."

    contract_id: uuid.UUID
    allocation_id: uuid.UUID
    household_reference: DocNo
    sign_by: date


@register
class AllocationConfirmationRequested(_AllocationEvent):
    """The annual confirmation of continued need (年度轮候确认): the household is asked to
    confirm by ``confirm_by`` or its entry is suspended (the notice goes out from this)."""

    event_type: ClassVar[str] = "allocation.confirmation_requested"
    summary: ClassVar[str] = "A waiting household was asked to confirm its continued need."

    entry_id: uuid.UUID
    application_id: uuid.UUID
    household_reference: DocNo
    confirm_by: date


@register
class AllocationContractIssued(_AllocationEvent):
    """A tenancy contract was drawn up from the model text, to be signed by ``sign_by``: the
    clock of the signing reminder (N3)."""

    event_type: ClassVar[str] = "allocation.contract_issued"
    summary: ClassVar[str] = "A tenancy contract was issued for signing."

    contract_id: uuid.UUID
    allocation_id: uuid.UUID
    household_reference: DocNo
    sign_by: date


@register
class AllocationNeedConfirmed(_AllocationEvent):
    """A waiting household confirmed its continued need (年度轮候确认) before its deadline."""

    event_type: ClassVar[str] = "allocation.need_confirmed"
    summary: ClassVar[str] = "A waiting household confirmed its continued need."

    entry_id: uuid.UUID
    application_id: uuid.UUID
    household_reference: DocNo
    confirmed_at: AwareDatetime


class DisclosedUnit(_Part):
    """One unit of the stock as disclosed (六公开: 房源): no tenant, no household."""

    unit_id: uuid.UUID
    project_code: str = Field(min_length=1, max_length=40)
    project_name: str = Field(min_length=1, max_length=200)
    building_code: str = Field(min_length=1, max_length=40)
    unit_code: str = Field(min_length=1, max_length=80)
    district: UnitCode
    address: str = Field(min_length=1, max_length=300)
    area_m2: Area
    rooms: int = Field(ge=0, le=10)
    floor: int = Field(ge=-5, le=200)
    accessible: bool
    base_rent_per_m2: Money = Field(description="Base rent per m² (yuan), public like the unit.")
    status: Literal["vacant", "reserved", "let", "under_repair", "recovered"]


@register
class AllocationUnitsChanged(_AllocationEvent):
    """Units of the stock were imported, added or edited, or changed status (reserved on a
    selection, let on a signed contract, vacant or recovered when tenancy vacated them): each
    unit's whole public state, the newest by ``occurred_at`` being current."""

    event_type: ClassVar[str] = "allocation.units_changed"
    summary: ClassVar[str] = "Units of the housing stock changed (as disclosed)."

    reason: Literal["imported", "added", "edited", "reserved", "let", "vacated"]
    units: list[DisclosedUnit] = Field(min_length=1)


# ================================================================================================
# tenancy (租后管理): leases, rent, visits, violations, exits, subsidies
# ================================================================================================

RentBandCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$"),
    Field(
        description=(
            "Rent band (差别化租金档) from tenancy's rules: verification's income bands "
            "(subsistence, low_income, other) or market (graded exit)."
        )
    ),
]
VisitFinding = Literal[
    "occupied_normally", "sublet", "lent", "vacant", "damaged", "unauthorised_alteration"
]
# A violation comes from a visit's finding, or from a household that did not cooperate with
# its annual re-review (no result by the deadline, or verification holds no household).
ViolationFinding = VisitFinding | Literal["rereview_not_cooperated"]
TenancyCreditKind = Literal[
    "tenancy_sublet", "tenancy_lending", "tenancy_vacancy", "tenancy_rent_arrears"
]


@register
class TenancyLeaseOpened(_TenancyEvent):
    """A lease (租约) opened from a signed contract; rent is billed from ``starts_on``."""

    event_type: ClassVar[str] = "tenancy.lease_opened"
    summary: ClassVar[str] = "A lease opened from a signed contract."

    lease_id: uuid.UUID
    lease_no: DocNo
    contract_id: uuid.UUID
    household_reference: DocNo
    unit_id: uuid.UUID
    starts_on: date
    monthly_rent: Money
    rent_band: RentBandCode
    next_visit_due: date
    opened_at: AwareDatetime


@register
class TenancyRentBandChanged(_TenancyEvent):
    """A lease's rent band changed (a re-review result); bills from ``effective_month`` on."""

    event_type: ClassVar[str] = "tenancy.rent_band_changed"
    summary: ClassVar[str] = "A lease's rent band changed from a month on."

    lease_id: uuid.UUID
    household_reference: DocNo
    from_band: RentBandCode
    to_band: RentBandCode
    effective_month: date = Field(description="First day of the first month billed in it.")
    decided_by: StaffRef
    reason: ChineseText


@register
class TenancyArrearsStep(_TenancyEvent):
    """Arrears (欠租) reached a step: ``reminder`` is the SMS reminder to the tenant (the SMS
    gateway resolves the household's number), ``notice`` the start of the notice procedure
    (催缴通知)."""

    event_type: ClassVar[str] = "tenancy.arrears_step"
    summary: ClassVar[str] = "Rent arrears reached the reminder or notice step."

    lease_id: uuid.UUID
    lease_no: DocNo
    household_reference: DocNo
    step: Literal["reminder", "notice"]
    arrears_months: int = Field(ge=1)
    amount_due: Money
    oldest_month: date
    taken_at: AwareDatetime


@register
class TenancyCreditReferred(_TenancyEvent):
    """A tenancy violation goes to the integrity file (诚信档案): credit enters a record
    awaiting a second officer's approval, then its notice procedure, as for any record."""

    event_type: ClassVar[str] = "tenancy.credit_referred"
    summary: ClassVar[str] = "A tenancy violation was referred to the integrity registry."

    referral_id: uuid.UUID
    lease_id: uuid.UUID
    household_reference: DocNo
    application_id: uuid.UUID
    id_hash: IdHash = Field(description="The tenant (the applicant of the household).")
    subject_id_masked: MaskedResidentId
    subject_name_masked: MaskedName
    kind: TenancyCreditKind
    facts: ChineseText
    referred_at: AwareDatetime


@register
class TenancyVisitDue(_TenancyEvent):
    """A lease's yearly home visit (入户走访) falls due on ``due_on``: the N6 reminder's input."""

    event_type: ClassVar[str] = "tenancy.visit_due"
    summary: ClassVar[str] = "A lease's home visit falls due."

    lease_id: uuid.UUID
    household_reference: DocNo
    unit_id: uuid.UUID
    due_on: date


@register
class TenancyVisitRecorded(_TenancyEvent):
    """A home visit was recorded with what was found; the next one is due a year on."""

    event_type: ClassVar[str] = "tenancy.visit_recorded"
    summary: ClassVar[str] = "A home visit was recorded."

    visit_id: uuid.UUID
    lease_id: uuid.UUID
    unit_id: uuid.UUID
    visited_on: date
    finding: VisitFinding
    recorded_by: StaffRef
    next_visit_due: date


@register
class TenancyViolationOpened(_TenancyEvent):
    """A finding opened a rectification order (整改通知) due by ``deadline``: N7's input."""

    event_type: ClassVar[str] = "tenancy.violation_opened"
    summary: ClassVar[str] = "A rectification order was opened for a violation."

    violation_id: uuid.UUID
    lease_id: uuid.UUID
    household_reference: DocNo
    finding: ViolationFinding
    clause: Code = Field(description="The contract's early-recovery clause it breaks.")
    deadline: date


@register
class TenancyRereviewDue(_TenancyEvent):
    """A household's annual re-review (年度复核) is still open ``reminder_days`` before its
    ``deadline``: the N5 reminder's input; once per lease and campaign."""

    event_type: ClassVar[str] = "tenancy.rereview_due"
    summary: ClassVar[str] = "A tenant household's re-review deadline is near."

    lease_id: uuid.UUID
    household_reference: DocNo
    campaign: int = Field(ge=2000, le=2100)
    deadline: date


@register
class TenancyRereviewConcluded(_TenancyEvent):
    """What tenancy did with a re-review: ``continued`` (same band), ``band_changed``,
    ``graded_exit`` (market band until ``exit_on``, then the recovery notice),
    ``officer_decides`` (verification could not verify everything; the officer's later band
    decision or recovery notice, ``exit_noticed``, concludes it again) or ``not_cooperated``
    (a violation). Stops N5."""

    event_type: ClassVar[str] = "tenancy.rereview_concluded"
    summary: ClassVar[str] = "Tenancy concluded a tenant household's re-review."

    lease_id: uuid.UUID
    household_reference: DocNo
    campaign: int = Field(ge=2000, le=2100)
    outcome: Literal[
        "continued",
        "band_changed",
        "graded_exit",
        "exit_noticed",
        "officer_decides",
        "not_cooperated",
    ]
    rent_band: RentBandCode
    exit_on: date | None = Field(default=None, description="Graded exit: the notice's day.")
    concluded_at: AwareDatetime


@register
class TenancyRectificationOverdue(_TenancyEvent):
    """A rectification order passed its deadline without a verified fix (once)."""

    event_type: ClassVar[str] = "tenancy.rectification_overdue"
    summary: ClassVar[str] = "A rectification order passed its deadline."

    violation_id: uuid.UUID
    lease_id: uuid.UUID
    deadline: date


@register
class TenancyViolationClosed(_TenancyEvent):
    """A violation ended: rectified and verified, or escalated to early recovery."""

    event_type: ClassVar[str] = "tenancy.violation_closed"
    summary: ClassVar[str] = "A violation was rectified or escalated."

    violation_id: uuid.UUID
    lease_id: uuid.UUID
    outcome: Literal["rectified", "escalated"]
    closed_by: StaffRef
    closed_at: AwareDatetime


@register
class TenancyRecoveryNoticed(_TenancyEvent):
    """A recovery notice (收回通知) was issued: the tenant must move out by ``move_out_by``."""

    event_type: ClassVar[str] = "tenancy.recovery_noticed"
    summary: ClassVar[str] = "A recovery notice with a move-out deadline was issued."

    exit_id: uuid.UUID
    exit_no: DocNo
    lease_id: uuid.UUID
    household_reference: DocNo
    unit_id: uuid.UUID
    kind: Literal["early_recovery", "voluntary"]
    clause: Code | None = None
    move_out_by: date
    issued_at: AwareDatetime


@register
class TenancyCourtReferred(_TenancyEvent):
    """A tenant refused to leave after the deadline: referred for court enforcement."""

    event_type: ClassVar[str] = "tenancy.court_referred"
    summary: ClassVar[str] = "A refusal to move out was referred for court enforcement."

    exit_id: uuid.UUID
    lease_id: uuid.UUID
    referral_no: DocNo
    move_out_by: date
    referred_at: AwareDatetime


@register
class TenancySubsidyOpened(_TenancyEvent):
    """A rental subsidy account (租赁补贴) opened; payments are scheduled monthly."""

    event_type: ClassVar[str] = "tenancy.subsidy_opened"
    summary: ClassVar[str] = "A rental subsidy account opened."

    account_id: uuid.UUID
    household_reference: DocNo
    monthly_amount: Money
    starts_on: date


@register
class TenancySubsidyEnded(_TenancyEvent):
    """Eligibility ended (实时取消): nothing is paid for ``ends_on`` or any later day."""

    event_type: ClassVar[str] = "tenancy.subsidy_ended"
    summary: ClassVar[str] = "A rental subsidy stopped when eligibility ended."

    account_id: uuid.UUID
    household_reference: DocNo
    ends_on: date
    reason: ChineseText


# ================================================================================================
# every service: the audit chain (全程留痕)
# ================================================================================================

# Unpadded base64url of 32 bytes (an Ed25519 key, a SHA-256 thumbprint) and of 64 (a signature).
Base64Url32 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]
Base64Url64 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{86}$")]


@register
class AuditCheckpointed(EventPayload):
    """A service signed the head of its audit chain (审计日志签名检查点; docs/audit.md).

    Publication keeps every checkpoint on a public page and forwards it to the provincial
    supervision platform, so that a chain rewritten later in the service's database no longer
    matches what was published. The signature is Ed25519 over ``checkpoint_statement`` of
    ``shared.audit.checkpoint``; ``public_key`` lets a receiver refuse a corrupted checkpoint,
    but trust in the key comes from the key set the service publishes (``GET /audit/keys``),
    never from the event. Added in catalogue 1.7.0.
    """

    producer: ClassVar[str] = "every service"
    event_type: ClassVar[str] = "audit.checkpointed"
    summary: ClassVar[str] = "A service signed the head of its audit chain."

    service: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")] = Field(
        description="The service whose chain this is, e.g. intake."
    )
    seq: int = Field(ge=1, description="Sequence number of the chain's last row.")
    head_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="Hash of that row (hex SHA-256)."
    )
    signed_at: AwareDatetime
    key_id: Base64Url32 = Field(description="RFC 7638 thumbprint of the signing key.")
    public_key: Base64Url32 = Field(description="The Ed25519 public key's x (RFC 8037).")
    signature: Base64Url64 = Field(description="The Ed25519 signature.")
