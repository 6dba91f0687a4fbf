"""Verification rules, pure (no I/O): what each department receives, how answers become the
household's economic profile (家庭经济状况), how the profile is checked against the
admission parameters (准入参数) into a reasoned recommendation (智能生成审核结果), and, at a
tenant household's annual re-review (年度复核), against the continuation thresholds with the
income band rent follows.

Everything here works on plain values so the rules can be unit-tested at their edges
(exactly at a threshold, one cent above it, a department that never answered).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import TypeAdapter

from shared.city import (
    AdmissionParameters,
    ContinuationParameters,
    HouseholdField,
    HukouRequirement,
)
from shared.events.catalogue import (
    DEPARTMENT_SUBJECT_FIELDS,
    BusinessFinding,
    Discrepancy,
    EconomicProfile,
    FinancialAssetFinding,
    Finding,
    Household,
    HukouFinding,
    IncomeBand,
    IncomeFinding,
    MarriageFinding,
    ParameterChange,
    PensionFinding,
    PriorityFinding,
    PropertyFinding,
    RereviewCheck,
    RereviewCheckCode,
    Subject,
    VehicleFinding,
)

CENT = Decimal("0.01")
FINDINGS = TypeAdapter(list[Finding])

Recommendation = Literal["eligible", "ineligible", "needs_review"]

# City-file field name -> the Subject field that carries it. Name and resident ID always travel;
# declared amounts never do (a department reports its records, verification compares).
_SUBJECT_FIELD_FOR: dict[HouseholdField, str] = {
    HouseholdField.RELATIONSHIP: "relationship",
    HouseholdField.HUKOU_LOCATION: "hukou_division",
    HouseholdField.EMPLOYER: "employer",
}

# Which departments' records verify which criterion. A criterion none of whose departments
# gave a usable answer cannot be verified and goes to a person (needs_review).
INCOME_SOURCES = ("tax", "hr_social_security")
HOUSING_SOURCES = ("real_estate",)
VEHICLE_SOURCES = ("vehicle",)
BUSINESS_SOURCES = ("market_supervision",)
HUKOU_SOURCES = ("public_security",)
FINANCIAL_ASSET_SOURCES = ("bank",)

# Finding kinds only some departments may report, and the only kinds those may report: a
# balance from anybody but the banks would bypass the asset ceiling's source, and the banks
# report nothing but balances.
EXCLUSIVE_FINDING_KINDS: dict[str, frozenset[str]] = {"bank": frozenset({"financial_asset"})}


def q(value: Decimal) -> Decimal:
    """Two decimal places, half up: how yuan and m² are reported and compared."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# -- what a department receives (数据最小化) -----------------------------------------------------


def subject_fields(department: str, configured: Iterable[HouseholdField]) -> frozenset[str]:
    """Extra Subject fields for ``department``: those the city file lists for it AND the event
    catalogue allows it (``DEPARTMENT_SUBJECT_FIELDS``). Both must agree, so a city file that
    lists too much for a department still sends only what the contract permits."""
    allowed = DEPARTMENT_SUBJECT_FIELDS.get(department, frozenset())
    wanted = {_SUBJECT_FIELD_FOR[f] for f in configured if f in _SUBJECT_FIELD_FOR}
    return frozenset(wanted & allowed)


def subjects_for(
    household: Household, department: str, configured: Iterable[HouseholdField]
) -> list[Subject]:
    extra = subject_fields(department, configured)
    return [
        Subject(
            member_ref=m.member_id_hash,
            name=m.name,
            resident_id=m.resident_id,
            relationship=m.relationship if "relationship" in extra else None,
            hukou_division=m.hukou_division if "hukou_division" in extra else None,
            employer=m.employer if "employer" in extra else None,
        )
        for m in household.members
    ]


def known_members(
    sent: Iterable[Iterable[Mapping[str, Any]]], declared: Declared
) -> list[dict[str, Any]]:
    """The household as verification last asked about it: every member of the subjects sent
    to the departments of an earlier case (``sent``: one list per request, as stored), each
    with every field any department received, and the relationship from the declaration.

    A re-review asks about these people again; verification never keeps the household in
    clear elsewhere, so this is all it has.
    """
    relationship = {m.member_id_hash: m.relationship for m in declared.members}
    members: dict[str, dict[str, Any]] = {}
    for subjects in sent:
        for s in subjects:
            member = members.setdefault(s["member_ref"], {"member_ref": s["member_ref"]})
            for key, value in s.items():
                if value is not None:
                    member.setdefault(key, value)
    for ref, member in members.items():
        if ref in relationship:
            member["relationship"] = relationship[ref]
    return list(members.values())


def subjects_from_members(
    members: Sequence[Mapping[str, Any]], department: str, configured: Iterable[HouseholdField]
) -> list[Subject]:
    """The subjects of a re-review request: the same minimisation as :func:`subjects_for`."""
    extra = subject_fields(department, configured)
    return [
        Subject(
            member_ref=m["member_ref"],
            name=m["name"],
            resident_id=m["resident_id"],
            **{f: m.get(f) for f in extra},
        )
        for m in members
    ]


# -- declared household (no names, no ID numbers) --------------------------------------------


@dataclass(frozen=True)
class DeclaredMember:
    member_id_hash: str
    relationship: str
    monthly_income: Decimal
    financial_assets: Decimal
    vehicle_count: int
    vehicle_value: Decimal


@dataclass(frozen=True)
class Declared:
    """What the household declared, kept to compare with what departments report."""

    members: tuple[DeclaredMember, ...]
    housing_area_m2: Decimal

    @classmethod
    def of(cls, household: Household) -> Declared:
        return cls(
            members=tuple(
                DeclaredMember(
                    member_id_hash=m.member_id_hash,
                    relationship=m.relationship,
                    monthly_income=m.declared_monthly_income,
                    financial_assets=m.declared_financial_assets,
                    vehicle_count=m.declared_vehicle_count,
                    vehicle_value=m.declared_vehicle_value,
                )
                for m in household.members
            ),
            housing_area_m2=household.declared_housing_area_m2,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "housing_area_m2": str(self.housing_area_m2),
            "members": [
                {
                    "member_id_hash": m.member_id_hash,
                    "relationship": m.relationship,
                    "monthly_income": str(m.monthly_income),
                    "financial_assets": str(m.financial_assets),
                    "vehicle_count": m.vehicle_count,
                    "vehicle_value": str(m.vehicle_value),
                }
                for m in self.members
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Declared:
        return cls(
            members=tuple(
                DeclaredMember(
                    member_id_hash=m["member_id_hash"],
                    relationship=m["relationship"],
                    monthly_income=Decimal(m["monthly_income"]),
                    financial_assets=Decimal(m["financial_assets"]),
                    vehicle_count=int(m["vehicle_count"]),
                    vehicle_value=Decimal(m["vehicle_value"]),
                )
                for m in data["members"]
            ),
            housing_area_m2=Decimal(data["housing_area_m2"]),
        )

    @property
    def applicant(self) -> DeclaredMember:
        return next(m for m in self.members if m.relationship == "applicant")


# -- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One department's answer as stored. ``empty``: neither findings nor "no record" (R6)."""

    department: str
    no_record: bool
    findings: tuple[Any, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.no_record and not self.findings

    @classmethod
    def from_json(cls, department: str, no_record: bool, findings: Sequence[Any]) -> Answer:
        return cls(department, no_record, tuple(FINDINGS.validate_python(list(findings))))


def is_empty_answer(no_record: bool, findings: Sequence[Any]) -> bool:
    return not no_record and not findings


def misplaced_findings(department: str, findings: Iterable[Any]) -> set[str]:
    """Finding kinds ``department`` may not report (see ``EXCLUSIVE_FINDING_KINDS``)."""
    kinds = {f.kind for f in findings}
    own = EXCLUSIVE_FINDING_KINDS.get(department)
    if own is not None:
        return kinds - own
    reserved = set().union(*EXCLUSIVE_FINDING_KINDS.values())
    return kinds & reserved


def unknown_member_refs(findings: Iterable[Any], member_refs: Iterable[str]) -> set[str]:
    """Findings must be about the subjects that were sent; anything else is a wrong answer."""
    known = set(member_refs)
    return {f.member_ref for f in findings if f.member_ref not in known}


# -- the economic profile ---------------------------------------------------------------------


@dataclass
class _Figures:
    """Verified figures with the departments that supplied them."""

    member_income: dict[str, Decimal] = field(default_factory=dict)
    income_departments: list[str] = field(default_factory=list)
    housing_area: Decimal = Decimal(0)
    vehicles: dict[str, list[VehicleFinding]] = field(default_factory=dict)
    businesses: list[BusinessFinding] = field(default_factory=list)
    hukou: dict[str, HukouFinding] = field(default_factory=dict)
    marriage: dict[str, MarriageFinding] = field(default_factory=dict)
    assistance: str | None = None
    # Per member: the sum of the balances the banks reported.
    financial_assets: dict[str, Decimal] = field(default_factory=dict)


_ASSISTANCE_ORDER = {"extreme_poverty": 0, "minimum_living": 1, "low_income": 2}


def _figures(answers: Mapping[str, Answer]) -> _Figures:
    fig = _Figures()
    # Wages appear in tax and in the social-security wage base: per member take the higher of
    # the departments' totals rather than their sum, which would count one salary twice.
    wages: dict[str, dict[str, Decimal]] = {}
    pensions: dict[str, dict[str, Decimal]] = {}
    for dept, answer in answers.items():
        for f in answer.findings:
            if isinstance(f, IncomeFinding):
                per = wages.setdefault(f.member_ref, {})
                per[dept] = per.get(dept, Decimal(0)) + f.monthly_amount
            elif isinstance(f, PensionFinding):
                per = pensions.setdefault(f.member_ref, {})
                per[dept] = per.get(dept, Decimal(0)) + f.monthly_amount
            elif isinstance(f, PropertyFinding):
                fig.housing_area += f.area_m2
            elif isinstance(f, VehicleFinding):
                fig.vehicles.setdefault(f.member_ref, []).append(f)
            elif isinstance(f, BusinessFinding):
                fig.businesses.append(f)
            elif isinstance(f, HukouFinding):
                fig.hukou[f.member_ref] = f
            elif isinstance(f, MarriageFinding):
                fig.marriage[f.member_ref] = f
            elif isinstance(f, FinancialAssetFinding):
                fig.financial_assets[f.member_ref] = (
                    fig.financial_assets.get(f.member_ref, Decimal(0)) + f.amount
                )
            elif getattr(f, "kind", None) == "assistance":
                current = fig.assistance
                if current is None or _ASSISTANCE_ORDER[f.status] < _ASSISTANCE_ORDER[current]:
                    fig.assistance = f.status
    for ref in set(wages) | set(pensions):
        fig.member_income[ref] = max(wages.get(ref, {}).values(), default=Decimal(0)) + max(
            pensions.get(ref, {}).values(), default=Decimal(0)
        )
    fig.income_departments = sorted(
        {d for per in (*wages.values(), *pensions.values()) for d in per}
    )
    return fig


def assets_verified(answers: Mapping[str, Answer]) -> bool:
    """A bank department gave a usable answer (findings or "no record")."""
    return any(d in answers and not answers[d].empty for d in FINANCIAL_ASSET_SOURCES)


def economic_profile(declared: Declared, answers: Mapping[str, Answer]) -> EconomicProfile:
    """The household-level profile. Financial assets: the balances the banks reported once
    they answered ("no record" is zero); before that, or in a category no bank verifies, the
    declared total (the reason line says which)."""
    fig = _figures(answers)
    if assets_verified(answers):
        assets = sum(fig.financial_assets.values(), Decimal(0))
    else:
        assets = sum((m.financial_assets for m in declared.members), Decimal(0))
    n = len(declared.members)
    income = sum(fig.member_income.values(), Decimal(0))
    vehicles = [v for vs in fig.vehicles.values() for v in vs]
    return EconomicProfile(
        member_count=n,
        monthly_income_total=q(income),
        per_capita_monthly_income=q(income / n),
        financial_assets=q(assets),
        housing_area_m2=q(fig.housing_area),
        per_capita_housing_area_m2=q(fig.housing_area / n),
        vehicle_count=len(vehicles),
        vehicle_value=q(sum((v.value for v in vehicles), Decimal(0))),
        business_count=len(fig.businesses),
        registered_capital_total=q(sum((b.registered_capital for b in fig.businesses), Decimal(0))),
        assistance_status=fig.assistance,  # type: ignore[arg-type]
    )


# -- priority circumstances (优先配租情形) ------------------------------------------------------


def priority_findings(answers: Mapping[str, Answer], today: date) -> list[PriorityFinding]:
    """The verified circumstances review decides priority groups from, household-level and
    without member identity: assistance status, disability grades, veteran status, members'
    ages from verified births (a member with a verified death is left out). Each distinct
    circumstance once, in a stable order."""
    found: set[tuple[str, str, str]] = set()
    births: dict[str, tuple[str, date]] = {}
    dead: set[str] = set()
    for dept, answer in answers.items():
        for f in answer.findings:
            kind = getattr(f, "kind", None)
            if kind == "assistance":
                found.add(("assistance", f.status, dept))
            elif kind == "disability":
                found.add(("disability", str(f.grade), dept))
            elif kind == "veteran":
                found.add(("veteran", f.status, dept))
            elif kind == "vital" and f.event == "birth":
                births[f.member_ref] = (dept, f.on)
            elif kind == "vital" and f.event == "death":
                dead.add(f.member_ref)
    for ref, (dept, born) in births.items():
        if ref not in dead:
            age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
            found.add(("age", str(max(age, 0)), dept))
    return [PriorityFinding(kind=k, value=v, department=d) for k, v, d in sorted(found)]  # type: ignore[arg-type]


# -- the check against the admission parameters ----------------------------------------------


@dataclass(frozen=True)
class Outcome:
    recommendation: Recommendation
    reasons: list[str]
    profile: EconomicProfile
    discrepancies: list[Discrepancy]


def _verdict(value: Decimal, limit: Decimal) -> bool:
    # A limit is the highest value still admitted: exactly at the limit passes.
    return value <= limit


def evaluate(
    declared: Declared,
    answers: Mapping[str, Answer],
    params: AdmissionParameters,
    *,
    version: int,
    requested: Sequence[str],
    department_names: Mapping[str, str],
    city_code: str,
) -> Outcome:
    """Check the profile against ``params`` (version ``version``).

    ``answers`` holds every department that answered (empty answers included); ``requested``
    every department that was asked. A criterion fails when its verified value is above the
    limit; it needs review when none of its departments gave a usable answer. Any failure
    makes the household ineligible; otherwise any criterion needing review makes the whole
    recommendation needs_review.
    """
    usable = {d for d, a in answers.items() if not a.empty}
    profile = economic_profile(declared, answers)
    fig = _figures(answers)

    def name(dept: str) -> str:
        return department_names.get(dept, dept)

    def sources(candidates: Sequence[str]) -> list[str]:
        return [d for d in candidates if d in usable]

    def unverifiable(candidates: Sequence[str]) -> str:
        asked = [d for d in candidates if d in requested]
        if not asked:
            return "本类别未安排相关部门核查"
        states = []
        for d in asked:
            if d not in answers:
                states.append(f"{name(d)}未反馈")
            else:
                states.append(f"{name(d)}反馈为空")
        return "、".join(states)

    reasons: list[str] = [f"依据准入参数第{version}版核查。"]
    failed = False
    review = False

    def limit_rule(
        title: str,
        value: Decimal,
        limit: Decimal,
        unit: str,
        candidates: Sequence[str],
        source_text: str | None = None,
    ) -> None:
        nonlocal failed, review
        used = sources(candidates)
        if source_text is None and not used:
            review = True
            reasons.append(
                f"{title}：上限{limit}{unit}，{unverifiable(candidates)}，无法核实，需人工审核。"
            )
            return
        origin = source_text or "、".join(name(d) for d in used)
        if _verdict(value, limit):
            reasons.append(
                f"{title}：核实值{value}{unit}，上限{limit}{unit}，符合（来源：{origin}）。"
            )
        else:
            failed = True
            reasons.append(
                f"{title}：核实值{value}{unit}，超过上限{limit}{unit}，不符合（来源：{origin}）。"
            )

    limit_rule(
        "家庭人均月收入",
        profile.per_capita_monthly_income,
        q(params.max_monthly_income_per_capita),
        "元",
        INCOME_SOURCES,
    )
    limit_rule(
        "家庭人均住房建筑面积",
        profile.per_capita_housing_area_m2,
        q(params.max_housing_area_per_capita),
        "平方米",
        HOUSING_SOURCES,
    )
    if any(d in requested for d in FINANCIAL_ASSET_SOURCES):
        # Verified by the banks: a silent or empty bank answer means the ceiling cannot be
        # checked, never that the declaration is taken instead.
        limit_rule(
            "家庭金融资产",
            profile.financial_assets,
            q(params.max_financial_assets),
            "元",
            FINANCIAL_ASSET_SOURCES,
        )
    else:
        limit_rule(
            "家庭金融资产",
            profile.financial_assets,
            q(params.max_financial_assets),
            "元",
            (),
            source_text="申报值，本类别未安排银行核查",
        )
    limit_rule(
        "家庭车辆价值",
        profile.vehicle_value,
        q(params.max_vehicle_value),
        "元",
        VEHICLE_SOURCES,
    )
    limit_rule(
        "家庭成员企业注册资本",
        profile.registered_capital_total,
        q(params.max_business_registered_capital),
        "元",
        BUSINESS_SOURCES,
    )

    applicant = declared.applicant.member_id_hash
    hukou = fig.hukou.get(applicant)
    if params.hukou is HukouRequirement.LOCAL:
        if hukou is None:
            review = True
            reasons.append(f"本市户籍：{unverifiable(HUKOU_SOURCES)}，无法核实，需人工审核。")
        elif hukou.division.startswith(city_code[:4]):
            reasons.append(
                f"本市户籍：申请人户籍所在地{hukou.division}，符合（来源：{name('public_security')}）。"
            )
        else:
            failed = True
            reasons.append(
                f"本市户籍：申请人户籍所在地{hukou.division}，非本市户籍，不符合"
                f"（来源：{name('public_security')}）。"
            )
    if params.residence_permit_required:
        if hukou is None:
            review = True
            reasons.append(f"本市居住证：{unverifiable(HUKOU_SOURCES)}，无法核实，需人工审核。")
        elif hukou.residence_permit:
            reasons.append(f"本市居住证：申请人持有，符合（来源：{name('public_security')}）。")
        else:
            failed = True
            reasons.append(f"本市居住证：申请人未持有，不符合（来源：{name('public_security')}）。")
    # Conditions the departments' records cannot show are named, not guessed: review checks
    # them from the materials. They do not change the recommendation.
    if params.min_local_hukou_years:
        reasons.append(
            f"本市户籍年限不少于{params.min_local_hukou_years}年：部门数据不含落户时间，"
            "由审核环节依据户口簿核对。"
        )
    if params.min_social_security_months:
        reasons.append(
            f"社会保险连续缴纳不少于{params.min_social_security_months}个月：部门数据不含缴费月数，"
            "由审核环节依据缴费记录核对。"
        )
    missing = [d for d in requested if d not in answers]
    if missing:
        reasons.append("未反馈部门：" + "、".join(name(d) for d in missing) + "。")
    empty = [d for d in requested if d in answers and answers[d].empty]
    if empty:
        reasons.append("反馈为空的部门：" + "、".join(name(d) for d in empty) + "。")

    recommendation: Recommendation = (
        "ineligible" if failed else "needs_review" if review else "eligible"
    )
    return Outcome(
        recommendation=recommendation,
        reasons=reasons,
        profile=profile,
        discrepancies=discrepancies(declared, answers),
    )


def discrepancies(declared: Declared, answers: Mapping[str, Answer]) -> list[Discrepancy]:
    """Every declared value that a department's records contradict (possible 隐报、瞒报、假报).

    Listed whichever way they differ; whether a difference is dishonesty is for review and
    credit to decide. A member is named by id hash only.
    """
    usable = {d for d, a in answers.items() if not a.empty}
    fig = _figures(answers)
    out: list[Discrepancy] = []
    income_depts = [d for d in INCOME_SOURCES if d in usable]
    if income_depts:
        dept = fig.income_departments[0] if fig.income_departments else income_depts[0]
        for m in declared.members:
            verified = q(fig.member_income.get(m.member_id_hash, Decimal(0)))
            if verified != q(m.monthly_income):
                out.append(
                    Discrepancy(
                        member_id_hash=m.member_id_hash,
                        field="monthly_income",
                        declared=str(q(m.monthly_income)),
                        verified=str(verified),
                        department=dept,
                    )
                )
    if any(d in usable for d in VEHICLE_SOURCES):
        dept = next(d for d in VEHICLE_SOURCES if d in usable)
        for m in declared.members:
            found = fig.vehicles.get(m.member_id_hash, [])
            if len(found) != m.vehicle_count:
                out.append(
                    Discrepancy(
                        member_id_hash=m.member_id_hash,
                        field="vehicle_count",
                        declared=str(m.vehicle_count),
                        verified=str(len(found)),
                        department=dept,
                    )
                )
    if any(d in usable for d in FINANCIAL_ASSET_SOURCES):
        dept = next(d for d in FINANCIAL_ASSET_SOURCES if d in usable)
        for m in declared.members:
            verified = q(fig.financial_assets.get(m.member_id_hash, Decimal(0)))
            if verified != q(m.financial_assets):
                out.append(
                    Discrepancy(
                        member_id_hash=m.member_id_hash,
                        field="financial_assets",
                        declared=str(q(m.financial_assets)),
                        verified=str(verified),
                        department=dept,
                    )
                )
    if any(d in usable for d in HOUSING_SOURCES):
        if q(fig.housing_area) != q(declared.housing_area_m2):
            out.append(
                Discrepancy(
                    member_id_hash=None,
                    field="housing_area_m2",
                    declared=str(q(declared.housing_area_m2)),
                    verified=str(q(fig.housing_area)),
                    department=HOUSING_SOURCES[0],
                )
            )
    applicant = declared.applicant
    marriage = fig.marriage.get(applicant.member_id_hash)
    has_spouse = any(m.relationship == "spouse" for m in declared.members)
    if marriage is not None and (marriage.status == "married") != has_spouse:
        dept = next((d for d, a in answers.items() if marriage in a.findings), "civil_affairs")
        out.append(
            Discrepancy(
                member_id_hash=applicant.member_id_hash,
                field="marital_status",
                declared="有配偶" if has_spouse else "无配偶",
                verified=marriage.status,
                department=dept,
            )
        )
    return out


# -- admission parameter changes ----------------------------------------------------------------


def parameter_values(params: AdmissionParameters) -> dict[str, str]:
    """Parameters as text, the form ``verification.parameters_changed`` carries them in."""
    out: dict[str, str] = {}
    for key, value in params.model_dump().items():
        if isinstance(value, Decimal):
            out[key] = str(q(value))
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(getattr(value, "value", value))
    return out


def parameter_changes(
    old: AdmissionParameters | None, new: AdmissionParameters
) -> list[ParameterChange]:
    before = parameter_values(old) if old is not None else {}
    after = parameter_values(new)
    return [
        ParameterChange(name=key, old=before.get(key), new=after[key])
        for key in after
        if before.get(key) != after[key]
    ]


# -- the annual re-review (年度复核) against the continuation thresholds ------------------------


@dataclass(frozen=True)
class RereviewOutcome:
    checks: list[RereviewCheck]
    income_band: IncomeBand | None
    meets_continuation: bool | None


def income_band(
    profile: EconomicProfile, *, income_verified: bool, admission_income_limit: Decimal
) -> IncomeBand | None:
    """The rent band (差别化租金) the verified profile puts the household in.

    A 低保 or 特困 status on civil affairs' record is ``subsistence``; a 低收入 status, or a
    verified per-capita income within the admission limit, is ``low_income``; a verified
    income above the admission limit is ``other`` (the household may still meet the more
    generous continuation limit: it stays, at the full rent band). Without a status and
    without a verified income there is no band to give (None): tenancy keeps the one it has.
    """
    if profile.assistance_status in ("minimum_living", "extreme_poverty"):
        return "subsistence"
    if profile.assistance_status == "low_income":
        return "low_income"
    if not income_verified:
        return None
    if _verdict(profile.per_capita_monthly_income, q(admission_income_limit)):
        return "low_income"
    return "other"


def evaluate_continuation(
    declared: Declared,
    answers: Mapping[str, Answer],
    limits: ContinuationParameters,
    *,
    admission_income_limit: Decimal,
) -> RereviewOutcome:
    """Check a re-review's profile against the continuation thresholds (续租条件).

    Each criterion passes at or under its limit, fails above it, and is unverified when none
    of its departments gave a usable answer. Financial assets: no department reports them, so
    the figure declared at admission is compared (its check says so in ``source``).
    """
    usable = {d for d, a in answers.items() if not a.empty}
    profile = economic_profile(declared, answers)
    checks: list[RereviewCheck] = []

    def check(
        code: RereviewCheckCode,
        value: Decimal,
        limit: Decimal,
        candidates: Sequence[str] | None,
    ) -> None:
        if candidates is not None and not any(d in usable for d in candidates):
            checks.append(
                RereviewCheck(check=code, result="unverified", reason="no_department_answer")
            )
            return
        passed = _verdict(value, q(limit))
        checks.append(
            RereviewCheck(
                check=code,
                result="passed" if passed else "failed",
                reason="within_limit" if passed else "above_limit",
                source="departments" if candidates is not None else "declared_at_admission",
            )
        )

    income_verified = any(d in usable for d in INCOME_SOURCES)
    check(
        "income",
        profile.per_capita_monthly_income,
        limits.max_monthly_income_per_capita,
        INCOME_SOURCES,
    )
    check(
        "housing_area",
        profile.per_capita_housing_area_m2,
        limits.max_housing_area_per_capita,
        HOUSING_SOURCES,
    )
    check("financial_assets", profile.financial_assets, limits.max_financial_assets, None)
    check("vehicle_value", profile.vehicle_value, limits.max_vehicle_value, VEHICLE_SOURCES)
    check(
        "business_capital",
        profile.registered_capital_total,
        limits.max_business_registered_capital,
        BUSINESS_SOURCES,
    )
    results = {c.result for c in checks}
    meets = False if "failed" in results else None if "unverified" in results else True
    return RereviewOutcome(
        checks=checks,
        income_band=income_band(
            profile, income_verified=income_verified, admission_income_limit=admission_income_limit
        ),
        meets_continuation=meets,
    )
