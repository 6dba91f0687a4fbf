"""Reference data of the city configuration as public API shapes (参考数据): what a form or a
department integrator needs to fill codes correctly. Nothing here is personal data; the
routers serving it live with the service that owns the data (intake: streets, categories and
materials; verification: departments) and answer without a token."""

from __future__ import annotations

from pydantic import BaseModel, Field

from shared.city import CityConfig

__all__ = [
    "CategoryOut",
    "DepartmentOut",
    "DistrictOut",
    "MaterialOut",
    "StreetsOut",
    "categories_of",
    "departments_of",
    "streets_of",
]

# Reference data changes only with the city file (a restart): browsers and gateways may cache.
CACHE_CONTROL = "public, max-age=300"


class StreetOut(BaseModel):
    code: str = Field(description="街道（镇）代码（9位）", examples=["350203001"])
    name: str = Field(examples=["厦港街道"])


class DistrictOut(BaseModel):
    code: str = Field(description="区代码（6位）", examples=["350203"])
    name: str = Field(examples=["思明区"])
    streets: list[StreetOut]


class StreetsOut(BaseModel):
    city_code: str = Field(examples=["350200"])
    city_name: str = Field(examples=["厦门市"])
    any_street_may_accept: bool = Field(
        description="全城通办：任一街道（镇）窗口均可受理；false 时只受理户籍或居住地在本街道的家庭"
    )
    districts: list[DistrictOut]


class MaterialOut(BaseModel):
    code: str = Field(examples=["id_card"])
    name: str = Field(examples=["居民身份证"])


class CategoryOut(BaseModel):
    code: str = Field(examples=["newly_employed"])
    name: str = Field(examples=["新就业无房职工"])
    required_materials: list[MaterialOut] = Field(description="申请时须提交的材料")
    verifying_departments: list[str] = Field(
        description="协查部门代码（见 verification 的 /reference/departments）"
    )


class DepartmentOut(BaseModel):
    code: str = Field(description="部门代码，即路由键 request.<code> / response.<code>")
    name: str = Field(examples=["市公安局"])
    checks: str = Field(description="核查内容")
    answer_deadline_working_days: int = Field(description="答复时限（工作日）")
    fields: list[str] = Field(description="该部门收到的家庭成员字段（数据最小化）")


def streets_of(city: CityConfig) -> StreetsOut:
    return StreetsOut(
        city_code=city.city.code,
        city_name=city.city.name,
        any_street_may_accept=city.acceptance.any_street_may_accept,
        districts=[
            DistrictOut(
                code=d.code,
                name=d.name,
                streets=[StreetOut(code=s.code, name=s.name) for s in d.streets],
            )
            for d in city.units.districts
        ],
    )


def categories_of(city: CityConfig) -> list[CategoryOut]:
    return [
        CategoryOut(
            code=c.code,
            name=c.name,
            required_materials=[
                MaterialOut(code=m.code, name=m.name) for m in city.required_materials(c.code)
            ],
            verifying_departments=list(c.departments),
        )
        for c in city.categories
    ]


def departments_of(city: CityConfig) -> list[DepartmentOut]:
    return [
        DepartmentOut(
            code=d.code,
            name=d.name,
            checks=d.checks,
            answer_deadline_working_days=d.answer_deadline_working_days,
            fields=[f.value for f in d.fields],
        )
        for d in city.departments
    ]
