"""The demo users of development sign-in (开发环境演示账号): one per role and level of the demo
city, in its first district and that district's first street, so that a case accepted by the
street clerk reaches, stage by stage, the reviewers and leaders listed here."""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth import (
    ADMIN,
    APPLICANT,
    CITY_CLERK,
    CITY_LEADER,
    CITY_REVIEWER,
    CREDIT_OFFICER,
    DISCIPLINE_INSPECTOR,
    DISTRICT_CLERK,
    DISTRICT_REVIEWER,
    HOUSING_OFFICER,
    NOTARY,
    STREET_CLERK,
    STREET_REVIEWER,
    SUPERVISOR,
    department_role,
)
from shared.city import CityConfig


@dataclass(frozen=True)
class DemoUser:
    id: str  # also the token's sub: every demo user is a different person (separation of duties)
    name: str
    title: str  # what the sign-in page shows: 岗位 and unit
    roles: tuple[str, ...]
    org: str
    group: str  # the heading the sign-in page lists the user under


def demo_users(city: CityConfig) -> list[DemoUser]:
    district = city.units.districts[0]
    street = district.streets[0]
    c, d, s = city.city, district, street
    users = [
        DemoUser(
            "demo-street-clerk", "林晓", f"{s.name} 窗口经办人", (STREET_CLERK,), s.code, "街道"
        ),
        DemoUser(
            "demo-street-reviewer", "陈静", f"{s.name} 复核人", (STREET_REVIEWER,), s.code, "街道"
        ),
        DemoUser(
            "demo-district-clerk", "黄磊", f"{d.name} 经办人", (DISTRICT_CLERK,), d.code, "区级"
        ),
        DemoUser(
            "demo-district-reviewer",
            "吴芳",
            f"{d.name} 复核人",
            (DISTRICT_REVIEWER,),
            d.code,
            "区级",
        ),
        DemoUser("demo-city-clerk", "郑伟", f"{c.name} 经办人", (CITY_CLERK,), c.code, "市级"),
        DemoUser(
            "demo-city-reviewer", "王敏", f"{c.name} 复核人", (CITY_REVIEWER,), c.code, "市级"
        ),
        DemoUser("demo-city-leader", "刘强", f"{c.name} 分管领导", (CITY_LEADER,), c.code, "市级"),
        DemoUser("demo-supervisor", "张华", f"{c.name} 监督员", (SUPERVISOR,), c.code, "监督"),
        DemoUser(
            "demo-district-supervisor", "许丽", f"{d.name} 监督员", (SUPERVISOR,), d.code, "监督"
        ),
        DemoUser(
            "demo-inspector", "杨帆", f"{c.name} 纪检监察", (DISCIPLINE_INSPECTOR,), c.code, "监督"
        ),
        DemoUser(
            "demo-credit-officer", "孙洁", f"{c.name} 信用管理", (CREDIT_OFFICER,), c.code, "业务"
        ),
        DemoUser(
            "demo-housing-officer", "马骏", f"{c.name} 配租经办", (HOUSING_OFFICER,), c.code, "业务"
        ),
        DemoUser("demo-notary", "周正", f"{c.name} 公证员", (NOTARY,), c.code, "业务"),
        DemoUser("demo-admin", "系统管理员", f"{c.name} 系统管理员", (ADMIN,), c.code, "业务"),
        DemoUser("demo-applicant", "李明", "申请人（市民）", (APPLICANT,), s.code, "市民"),
    ]
    users += [
        DemoUser(
            f"demo-dept-{dept.code}",
            f"{dept.name}协查员",
            f"{dept.name} 协查经办",
            (department_role(dept.code),),
            c.code,
            "部门",
        )
        for dept in city.departments
    ]
    return users
