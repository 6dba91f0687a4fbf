"""City configuration (城市配置): one YAML file per city, validated when every service starts.

The file holds what a city decides and the code must not hard-wire: its administrative units
(city -> districts -> streets/towns, with the national division codes), where applications may
be accepted, the material catalogue and the materials each application category requires, the
departments that verify a household and what each of them receives, the initial admission
parameters (准入参数) and the continuation thresholds of the annual re-review (续租条件) per
category, the workflow preset and the publicity rules.

Validation is strict on purpose: unknown keys are refused (a typo must not silently fall back to
a default), every cross-reference is checked (a category naming a material or department that
is not in the catalogue, a street filed under the wrong district), and every problem is reported
with its path in the file, e.g. ``categories.0.required_materials.2: unknown material 'foo'``.

Admission parameters here are only the initial values: once running, verification owns them
and changes them through its approval flow; the workflow preset names a stage layout that the
review service owns.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "CONTINUATION_LIMITS",
    "CORE_MATERIALS",
    "DEFAULT_CITY_PATH",
    "DEFAULT_VERIFYING_DEPARTMENTS",
    "MAX_SUPPLEMENT_WORKING_DAYS",
    "MIN_PUBLICITY_DAYS",
    "AcceptancePolicy",
    "AdministrativeUnits",
    "AdmissionParameters",
    "Category",
    "CityConfig",
    "CityConfigError",
    "CityInfo",
    "ConfigProblem",
    "ContinuationParameters",
    "Department",
    "District",
    "HouseholdField",
    "HukouRequirement",
    "MaterialType",
    "NotConfiguredError",
    "PriorityFindingKind",
    "PriorityGroupRule",
    "PublicityPolicy",
    "Street",
    "Unit",
    "UnitLevel",
    "WorkflowPreset",
    "city_config",
    "clear_city_config_cache",
    "load_city",
    "parse_city",
]

DEFAULT_CITY_PATH = Path(__file__).resolve().parents[1] / "deploy" / "cities" / "xiamen.yaml"

# "一证一簿两表" (Pinghu's minimal set, adopted by Fujian): ID card, household register, the
# application form and the economic-status verification authorisation. Every category requires
# at least these; anything else is checked by departments instead of asked from the family.
CORE_MATERIALS: tuple[str, ...] = (
    "id_card",
    "household_register",
    "application_form",
    "economic_verification_authorisation",
)

DEFAULT_VERIFYING_DEPARTMENTS: tuple[str, ...] = (
    "public_security",
    "civil_affairs",
    "real_estate",
    "hr_social_security",
    "market_supervision",
    "provident_fund",
    "tax",
    "vehicle",
)

# Xiamen art. 9(7): a publicity shorter than 7 days is a red light; the platform refuses it.
MIN_PUBLICITY_DAYS = 7
# Xiamen art. 7: a supplementary-materials suspension lasts at most 10 working days.
MAX_SUPPLEMENT_WORKING_DAYS = 10


# -- errors ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a city file: where (dotted path, list indexes from 0) and what."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class CityConfigError(ValueError):
    """The city file cannot be used; ``problems`` lists every problem found, with its path."""

    def __init__(self, problems: Iterable[ConfigProblem], *, source: Path | None = None) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        self.source = source
        where = f"city configuration {source}" if source else "city configuration"
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"{where} is invalid:\n{lines}")


class NotConfiguredError(LookupError):
    """A code (unit, category, material, department) that this city does not configure."""


class _Problems(ValueError):
    """Cross-reference problems raised from inside validation, carrying their own paths."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


# -- field types -------------------------------------------------------------------------------


def _int_to_str(value: Any) -> Any:
    # YAML reads an unquoted 350203001 as an int; division codes never start with 0, so turning
    # it back into text loses nothing.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _digits(n: int) -> Any:
    pattern = re.compile(rf"\d{{{n}}}")

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"must be a {n}-digit division code, got {value!r}")
        return value

    return check


def _identifier(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", value):
        raise ValueError(
            f"must be a lower-case identifier (letters, digits, underscores), got {value!r}"
        )
    return value


def _non_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


Code6 = Annotated[str, BeforeValidator(_int_to_str), AfterValidator(_digits(6))]
Code9 = Annotated[str, BeforeValidator(_int_to_str), AfterValidator(_digits(9))]
Identifier = Annotated[str, AfterValidator(_identifier)]
Text = Annotated[str, AfterValidator(_non_blank)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Area = Annotated[Decimal, Field(ge=0, le=10000, decimal_places=2)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# -- the city and its units --------------------------------------------------------------------


class CityInfo(_Model):
    """The city (地级市) and its province, by national division code (GB/T 2260)."""

    code: Code6
    name: Text
    province_code: Code6
    province_name: Text

    @field_validator("code")
    @classmethod
    def _prefecture_level(cls, value: str) -> str:
        if not value.endswith("00") or value.endswith("0000"):
            raise ValueError(f"must be a prefecture-level code ending in 00, got {value!r}")
        return value

    @field_validator("province_code")
    @classmethod
    def _province_level(cls, value: str) -> str:
        if not value.endswith("0000"):
            raise ValueError(f"must be a province-level code ending in 0000, got {value!r}")
        return value

    @model_validator(mode="after")
    def _city_in_province(self) -> Self:
        if self.code[:2] != self.province_code[:2]:
            raise _Problems(
                [
                    ConfigProblem(
                        "code",
                        f"city {self.code} is not in province {self.province_code}",
                    )
                ]
            )
        return self


class Street(_Model):
    """A street office (街道办事处) or town (镇/乡): the level that accepts applications."""

    code: Code9
    name: Text


class District(_Model):
    """A district (区) or county (县) of the city."""

    code: Code6
    name: Text
    streets: tuple[Street, ...] = Field(min_length=1)


class AdministrativeUnits(_Model):
    """The city's districts and their streets/towns (行政区划)."""

    districts: tuple[District, ...] = Field(min_length=1)


class UnitLevel(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"  # 街道 or 镇/乡: township level


@dataclass(frozen=True, slots=True)
class Unit:
    """An administrative unit as the rest of the platform sees it (JWT ``org`` is its code)."""

    code: str
    name: str
    level: UnitLevel
    parent_code: str | None


# -- acceptance --------------------------------------------------------------------------------


class AcceptancePolicy(_Model):
    """Where and how applications are accepted (受理)."""

    # 全城通办: any street office may accept any family's application; false restricts a
    # street to families whose hukou or residence is in it.
    any_street_may_accept: bool = True
    # Deadline printed on the one-time supplementary-materials notice (补件通知单).
    supplement_deadline_working_days: int = Field(
        default=MAX_SUPPLEMENT_WORKING_DAYS, ge=1, le=MAX_SUPPLEMENT_WORKING_DAYS
    )
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0, le=200 * 1024 * 1024)
    # Working days from submission to acceptance (申请受理 is a timed stage, Xiamen art. 8(3),
    # 9(8)); a supplement notice before acceptance stops this clock until the materials are in.
    time_limit_working_days: int = Field(default=5, ge=1, le=30)
    allowed_content_types: tuple[str, ...] = Field(
        default=("application/pdf", "image/jpeg", "image/png"), min_length=1
    )

    @field_validator("allowed_content_types")
    @classmethod
    def _media_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not re.fullmatch(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*", item):
                raise ValueError(f"{item!r} is not a media type such as 'application/pdf'")
        return value


# -- offices printed on documents -------------------------------------------------------------


def _phone(value: str) -> str:
    value = value.strip()
    # Landlines as offices print them: area code, dash, number, optional extension (0592-1234567,
    # 0592-1234567-8001), or a national service number such as 12345.
    if not re.fullmatch(r"(0\d{2,3}-\d{7,8}(-\d{1,6})?|1\d{4})", value):
        raise ValueError(f"must be a telephone number such as 0592-1234567, got {value!r}")
    return value


Phone = Annotated[str, AfterValidator(_phone)]


class ServiceWindow(_Model):
    """A service window (服务窗口): where a family comes in person and which number it calls.

    Printed on every document handed to a family or a unit (受理回执, 补件通知单, 告知函, 合同)."""

    name: Text
    address: Text
    phone: Phone
    hours: str = ""


class StreetWindow(ServiceWindow):
    """The acceptance window (受理窗口) of one street office or town."""

    street: Code9


class Offices(_Model):
    """Who issues the city-level documents, and the windows printed on documents."""

    # 市住房保障管理中心: issues the city-level documents (告知函, 联系函 from the centre, the
    # lease contract) and is the window of last resort for any street without its own entry.
    housing_centre: ServiceWindow
    street_windows: tuple[StreetWindow, ...] = ()


# -- catalogues --------------------------------------------------------------------------------


class MaterialType(_Model):
    """A kind of document an applicant may have to provide (申请材料)."""

    code: Identifier
    name: Text


class HouseholdField(StrEnum):
    """Household data a department request may carry; each department gets only what it needs."""

    NAME = "name"
    RESIDENT_ID = "resident_id"
    RELATIONSHIP = "relationship"
    HUKOU_LOCATION = "hukou_location"
    EMPLOYER = "employer"
    DECLARED_MONTHLY_INCOME = "declared_monthly_income"
    DECLARED_FINANCIAL_ASSETS = "declared_financial_assets"
    DECLARED_VEHICLES = "declared_vehicles"
    DECLARED_HOUSING_AREA = "declared_housing_area"


class Department(_Model):
    """A department that verifies households (协查部门) through its own system."""

    code: Identifier
    name: Text
    # What it checks, for clerks and integrators (Chinese).
    checks: str = ""
    answer_deadline_working_days: int = Field(ge=1, le=30)
    fields: tuple[HouseholdField, ...] = Field(min_length=1)


class HukouRequirement(StrEnum):
    LOCAL = "local"  # 本市户籍
    ANY = "any"  # no hukou condition (non-local residence or employment conditions apply)


class AdmissionParameters(_Model):
    """Initial admission parameters (准入参数) of one category.

    Amounts are in yuan, areas in square metres of floor area (建筑面积); a limit is the
    highest value still admitted (0 means "must have none").
    """

    max_monthly_income_per_capita: Money
    max_housing_area_per_capita: Area
    max_financial_assets: Money
    max_vehicle_value: Money
    max_business_registered_capital: Money
    hukou: HukouRequirement
    min_local_hukou_years: int = Field(default=0, ge=0, le=50)
    residence_permit_required: bool = False
    min_social_security_months: int = Field(default=0, ge=0, le=600)

    @model_validator(mode="after")
    def _hukou_years_need_local_hukou(self) -> Self:
        if self.min_local_hukou_years and self.hukou is not HukouRequirement.LOCAL:
            raise _Problems(
                [
                    ConfigProblem(
                        "min_local_hukou_years",
                        "only applies when hukou is 'local'",
                    )
                ]
            )
        return self


class ContinuationParameters(_Model):
    """Continuation thresholds (续租条件) of one category: what a tenant household may have at
    its annual re-review (年度复核) and still keep its home.

    They may be more generous than admission: a household whose income rose past the
    admission limit keeps its home at a higher rent band rather than being turned out
    (Pinghu: 租金随收入变化调整，梯度退出、缓步退出). Same units and meaning as
    :class:`AdmissionParameters`; never stricter than the category's admission values.
    """

    max_monthly_income_per_capita: Money
    max_housing_area_per_capita: Area
    max_financial_assets: Money
    max_vehicle_value: Money
    max_business_registered_capital: Money


CONTINUATION_LIMITS: tuple[str, ...] = tuple(ContinuationParameters.model_fields)


class Category(_Model):
    """An application category (申请类别) with its materials, verifiers and parameters."""

    code: Identifier
    name: Text
    required_materials: tuple[str, ...]
    departments: tuple[str, ...] = DEFAULT_VERIFYING_DEPARTMENTS
    admission: AdmissionParameters
    # Absent: the re-review applies the admission limits of the file.
    continuation: ContinuationParameters | None = None

    @model_validator(mode="after")
    def _continuation_not_stricter(self) -> Self:
        if self.continuation is None:
            return self
        problems = [
            ConfigProblem(
                f"continuation.{name}",
                f"{getattr(self.continuation, name)} is stricter than admission's "
                f"{getattr(self.admission, name)}: a household admitted today would fail its "
                "first re-review",
            )
            for name in CONTINUATION_LIMITS
            if getattr(self.continuation, name) < getattr(self.admission, name)
        ]
        if problems:
            raise _Problems(problems)
        return self

    def continuation_parameters(self) -> ContinuationParameters:
        """The thresholds a re-review applies: the continuation section, or admission's."""
        if self.continuation is not None:
            return self.continuation
        return ContinuationParameters(
            **{name: getattr(self.admission, name) for name in CONTINUATION_LIMITS}
        )


class WorkflowPreset(StrEnum):
    """Review stage layouts; the stages and time limits themselves live in the review service."""

    XIAMEN = "xiamen"  # street -> district -> city, 3 review levels
    FUJIAN = "fujian"  # 4 stages, at most 60 working days including publicity
    PINGHU = "pinghu"  # 4 stages in 40 working days


class TimeLimits(_Model):
    """Limits of the application as a whole (总办理时限), beyond each stage's own."""

    # Working days from submission to the qualification decision after publicity, publicity
    # included; supplement suspensions do not count. Fujian: at most 60, Pinghu: 40. Null: no
    # overall limit is supervised.
    total_working_days: int | None = Field(default=None, ge=1, le=1000)


class PublicityPolicy(_Model):
    """Publicity of qualification results (资格审核结果公示) and objections (异议)."""

    # Calendar days (公示期), never fewer than 7.
    min_days: int = MIN_PUBLICITY_DAYS
    # Calendar days from publication during which anyone may lodge an objection.
    objection_window_days: int = MIN_PUBLICITY_DAYS

    @field_validator("min_days")
    @classmethod
    def _at_least_seven(cls, value: int) -> int:
        if value < MIN_PUBLICITY_DAYS:
            raise ValueError(
                f"publicity must last at least {MIN_PUBLICITY_DAYS} days "
                f"(Xiamen art. 9(7)); got {value}"
            )
        return value

    @model_validator(mode="after")
    def _objections_during_publicity(self) -> Self:
        if self.objection_window_days < self.min_days:
            raise _Problems(
                [
                    ConfigProblem(
                        "objection_window_days",
                        f"must cover the whole publicity ({self.min_days} days); "
                        f"got {self.objection_window_days}",
                    )
                ]
            )
        return self


# -- priority groups ---------------------------------------------------------------------------


class PriorityFindingKind(StrEnum):
    """The verified circumstances a priority rule may look at (``PriorityFinding.kind``)."""

    ASSISTANCE = "assistance"  # civil affairs: minimum_living / extreme_poverty / low_income
    DISABILITY = "disability"  # disabled persons' federation: grade 1 (most severe) to 4
    VETERAN = "veteran"  # veterans affairs: veteran / martyr_family / entitled_group
    AGE = "age"  # a member's age in years, from a verified birth


_VALUED = {PriorityFindingKind.ASSISTANCE, PriorityFindingKind.VETERAN}


class PriorityGroupRule(_Model):
    """A priority group (优先配租对象) and the verified finding that puts a household in it.

    ``assistance`` and ``veteran`` match one of ``values``; ``disability`` matches a grade of at
    most ``at_most``; ``age`` a member of at least ``at_least`` years. Allocation ranks the
    groups by its own tiers; review only decides which apply, at qualification.
    """

    code: Identifier
    name: Text
    finding: PriorityFindingKind
    values: tuple[str, ...] = ()
    at_most: int | None = Field(default=None, ge=1, le=4)
    at_least: int | None = Field(default=None, ge=0, le=150)

    @model_validator(mode="after")
    def _one_condition(self) -> Self:
        wanted = (
            "values"
            if self.finding in _VALUED
            else ("at_most" if self.finding is PriorityFindingKind.DISABILITY else "at_least")
        )
        given = [
            name
            for name, value in (
                ("values", self.values),
                ("at_most", self.at_most),
                ("at_least", self.at_least),
            )
            if value not in ((), None)
        ]
        if given != [wanted]:
            raise _Problems(
                [ConfigProblem(wanted, f"a {self.finding.value} rule takes exactly {wanted!r}")]
            )
        return self


# -- the whole file ----------------------------------------------------------------------------


class CityConfig(_Model):
    """One city's configuration; build it with :func:`load_city` or :func:`city_config`.

    Instances are frozen and shared by the whole process. The lookups use indexes built during
    validation, so derive a variant by validating new data, never with ``model_copy(update=)``.
    """

    city: CityInfo
    units: AdministrativeUnits
    acceptance: AcceptancePolicy = AcceptancePolicy()
    materials: tuple[MaterialType, ...] = Field(min_length=1)
    categories: tuple[Category, ...] = Field(min_length=1)
    departments: tuple[Department, ...] = Field(min_length=1)
    workflow: WorkflowPreset
    publicity: PublicityPolicy = PublicityPolicy()
    # Optional: a city without priority rules qualifies every household without a group.
    priority_groups: tuple[PriorityGroupRule, ...] = ()
    time_limits: TimeLimits = TimeLimits()
    # Required: a document handed to a family must say where to go and whom to call.
    offices: Offices

    _units: dict[str, Unit] = PrivateAttr(default_factory=dict)
    _materials: dict[str, MaterialType] = PrivateAttr(default_factory=dict)
    _categories: dict[str, Category] = PrivateAttr(default_factory=dict)
    _departments: dict[str, Department] = PrivateAttr(default_factory=dict)
    _windows: dict[str, StreetWindow] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _cross_check(self) -> Self:
        problems = [
            *self._check_units(),
            *_unique("materials", (m.code for m in self.materials), "material"),
            *_unique("departments", (d.code for d in self.departments), "department"),
            *_unique("categories", (c.code for c in self.categories), "category"),
            *_unique("priority_groups", (g.code for g in self.priority_groups), "priority group"),
            *self._check_departments(),
            *self._check_categories(),
            *self._check_offices(),
        ]
        if problems:
            raise _Problems(problems)
        self._index()
        return self

    def _check_units(self) -> Iterator[ConfigProblem]:
        city_prefix = self.city.code[:4]
        seen: dict[str, str] = {self.city.code: "city.code"}
        for d, district in enumerate(self.units.districts):
            where = f"units.districts.{d}.code"
            if not district.code.startswith(city_prefix) or district.code == self.city.code:
                yield ConfigProblem(
                    where,
                    f"district {district.code} ({district.name}) is not under city "
                    f"{self.city.code} ({self.city.name})",
                )
            if district.code in seen:
                yield ConfigProblem(
                    where, f"{district.code} is already used at {seen[district.code]}"
                )
            seen.setdefault(district.code, where)
            for s, street in enumerate(district.streets):
                where = f"units.districts.{d}.streets.{s}.code"
                if not street.code.startswith(district.code):
                    yield ConfigProblem(
                        where,
                        f"street {street.code} ({street.name}) is not under district "
                        f"{district.code} ({district.name})",
                    )
                if street.code in seen:
                    yield ConfigProblem(
                        where, f"{street.code} is already used at {seen[street.code]}"
                    )
                seen.setdefault(street.code, where)

    def _check_departments(self) -> Iterator[ConfigProblem]:
        for d, department in enumerate(self.departments):
            yield from _unique(
                f"departments.{d}.fields", (f.value for f in department.fields), "field"
            )

    def _check_categories(self) -> Iterator[ConfigProblem]:
        materials = {m.code for m in self.materials}
        departments = {d.code for d in self.departments}
        for core in CORE_MATERIALS:
            if core not in materials:
                yield ConfigProblem(
                    "materials", f"the catalogue must contain {core!r} (一证一簿两表)"
                )
        for c, category in enumerate(self.categories):
            base = f"categories.{c}"
            for i, code in enumerate(category.required_materials):
                if code not in materials:
                    yield ConfigProblem(
                        f"{base}.required_materials.{i}", f"unknown material {code!r}"
                    )
            yield from _unique(
                f"{base}.required_materials", category.required_materials, "material"
            )
            missing = [code for code in CORE_MATERIALS if code not in category.required_materials]
            if missing:
                yield ConfigProblem(
                    f"{base}.required_materials",
                    f"missing {', '.join(map(repr, missing))}: every category requires "
                    "一证一簿两表 (id_card, household_register, application_form, "
                    "economic_verification_authorisation)",
                )
            for i, code in enumerate(category.departments):
                if code not in departments:
                    yield ConfigProblem(f"{base}.departments.{i}", f"unknown department {code!r}")
            yield from _unique(f"{base}.departments", category.departments, "department")
            if not category.departments:
                yield ConfigProblem(f"{base}.departments", "at least one department must verify")

    def _check_offices(self) -> Iterator[ConfigProblem]:
        streets = {s.code for d in self.units.districts for s in d.streets}
        for i, window in enumerate(self.offices.street_windows):
            if window.street not in streets:
                yield ConfigProblem(
                    f"offices.street_windows.{i}.street", f"unknown street {window.street!r}"
                )
        yield from _unique(
            "offices.street_windows", (w.street for w in self.offices.street_windows), "street"
        )

    def _index(self) -> None:
        units = {
            self.city.code: Unit(self.city.code, self.city.name, UnitLevel.CITY, None),
        }
        for district in self.units.districts:
            units[district.code] = Unit(
                district.code, district.name, UnitLevel.DISTRICT, self.city.code
            )
            for street in district.streets:
                units[street.code] = Unit(street.code, street.name, UnitLevel.STREET, district.code)
        self._units = units
        self._materials = {m.code: m for m in self.materials}
        self._categories = {c.code: c for c in self.categories}
        self._departments = {d.code: d for d in self.departments}
        self._windows = {w.street: w for w in self.offices.street_windows}

    # -- units -----------------------------------------------------------------------------

    def unit(self, code: str) -> Unit | None:
        """The city, district or street with this code, or None if this city has none."""
        return self._units.get(code)

    def is_street(self, code: str) -> bool:
        """Whether ``code`` is one of this city's streets/towns (the accepting level)."""
        found = self._units.get(code)
        return found is not None and found.level is UnitLevel.STREET

    def district_of(self, code: str) -> str:
        """The district code of a street (or of a district, itself)."""
        found = self._units.get(code)
        if found is None or found.level is UnitLevel.CITY:
            raise NotConfiguredError(f"{code!r} is not a street or district of {self.city.name}")
        return found.code if found.level is UnitLevel.DISTRICT else str(found.parent_code)

    def lineage(self, code: str) -> tuple[Unit, ...]:
        """The unit and every unit above it, nearest first: street, district, city."""
        found = self._units.get(code)
        if found is None:
            raise NotConfiguredError(f"{code!r} is not a unit of {self.city.name}")
        chain = [found]
        while chain[-1].parent_code is not None:
            chain.append(self._units[chain[-1].parent_code])
        return tuple(chain)

    def is_within(self, code: str, ancestor: str) -> bool:
        """Whether unit ``code`` is ``ancestor`` or below it; unknown codes are never within."""
        if code not in self._units or ancestor not in self._units:
            return False
        return any(unit.code == ancestor for unit in self.lineage(code))

    def districts(self) -> tuple[Unit, ...]:
        return tuple(u for u in self._units.values() if u.level is UnitLevel.DISTRICT)

    def streets(self) -> tuple[Unit, ...]:
        """Every street/town, district by district in file order."""
        return tuple(u for u in self._units.values() if u.level is UnitLevel.STREET)

    # -- offices ---------------------------------------------------------------------------

    def window_for(self, code: str | None) -> ServiceWindow:
        """The window printed on a document of unit ``code``: the street's own acceptance
        window, else the housing centre's (which names itself, so the page stays true)."""
        found = self._windows.get(code or "")
        return found if found is not None else self.offices.housing_centre

    def organ_name(self, code: str | None) -> str:
        """The issuing organ (出具机关) of unit ``code`` as documents print it:
        思明区厦港街道办事处, 集美区灌口镇人民政府, 思明区住房保障行政管理部门, or the housing
        centre for the city."""
        found = self._units.get(code or "")
        if found is None or found.level is UnitLevel.CITY:
            return self.offices.housing_centre.name
        if found.level is UnitLevel.DISTRICT:
            return f"{found.name}住房保障行政管理部门"
        district = self._units[str(found.parent_code)].name
        office = "办事处" if found.name.endswith("街道") else "人民政府"
        return f"{district}{found.name}{office}"

    # -- catalogues ------------------------------------------------------------------------

    def material(self, code: str) -> MaterialType:
        try:
            return self._materials[code]
        except KeyError:
            raise NotConfiguredError(f"unknown material {code!r}") from None

    def category(self, code: str) -> Category:
        try:
            return self._categories[code]
        except KeyError:
            raise NotConfiguredError(f"unknown application category {code!r}") from None

    def department(self, code: str) -> Department:
        try:
            return self._departments[code]
        except KeyError:
            raise NotConfiguredError(f"unknown department {code!r}") from None

    def required_materials(self, category: str) -> tuple[MaterialType, ...]:
        """Materials a category requires, with their Chinese names (for notices)."""
        return tuple(self._materials[m] for m in self.category(category).required_materials)

    def verifying_departments(self, category: str) -> tuple[Department, ...]:
        """Departments an application of this category is pushed to, all at once."""
        return tuple(self._departments[d] for d in self.category(category).departments)


def _unique(location: str, codes: Iterable[str], what: str) -> Iterator[ConfigProblem]:
    seen: dict[str, int] = {}
    for i, code in enumerate(codes):
        if code in seen:
            yield ConfigProblem(
                f"{location}.{i}", f"duplicate {what} {code!r} (first at index {seen[code]})"
            )
        else:
            seen[code] = i


# -- loading -----------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _problems_from(error: ValidationError) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for item in error.errors():
        prefix = ".".join(str(part) for part in item["loc"])
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, _Problems):
            for problem in cause.problems:
                location = ".".join(p for p in (prefix, problem.location) if p)
                problems.append(ConfigProblem(location, problem.message))
        elif isinstance(cause, Exception):
            problems.append(ConfigProblem(prefix, str(cause)))
        elif item["type"] == "extra_forbidden":
            problems.append(ConfigProblem(prefix, "unknown key"))
        else:
            problems.append(ConfigProblem(prefix, item["msg"]))
    return problems


def parse_city(data: Any, *, source: Path | None = None) -> CityConfig:
    """Validate already-parsed YAML/JSON data; raises :class:`CityConfigError`."""
    if not isinstance(data, dict):
        raise CityConfigError(
            [ConfigProblem("", f"expected a mapping at the top level, got {type(data).__name__}")],
            source=source,
        )
    try:
        return CityConfig.model_validate(data)
    except ValidationError as error:
        raise CityConfigError(_problems_from(error), source=source) from None


def load_city(path: Path) -> CityConfig:
    """Read and validate one city file; raises :class:`CityConfigError` naming every problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CityConfigError([ConfigProblem("", f"cannot read: {error}")], source=path) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise CityConfigError(
            [ConfigProblem("", f"not valid YAML: {error}")], source=path
        ) from None
    return parse_city(data, source=path)


@functools.lru_cache(maxsize=8)
def _cached(resolved: Path) -> CityConfig:
    return load_city(resolved)


def city_config(path: Path | None = None) -> CityConfig:
    """The city configuration at ``path`` (default: the Xiamen demo), loaded once per process.

    Services call this at start-up with ``settings.city_config`` so that a bad file stops the
    service before it serves anything; later calls return the same object.
    """
    return _cached(Path(path or DEFAULT_CITY_PATH).resolve())


def clear_city_config_cache() -> None:
    """Forget loaded files (tests, or a reload after the file was fixed)."""
    _cached.cache_clear()
