"""Production sign-in reads roles and unit from the identity provider's claims, wherever the
settings say they are (services/workbench/oidc.py)."""

from __future__ import annotations

import pytest

from services.workbench.oidc import ClaimMapping, SignInError, claim, user_from_claims
from services.workbench.sessions import User


def test_default_claims_roles_and_org() -> None:
    user = user_from_claims(
        {"sub": "u1", "name": "林晓", "roles": ["street_clerk"], "org": "350203001"},
        ClaimMapping(),
    )
    assert user == User(sub="u1", name="林晓", roles=("street_clerk",), org="350203001")


def test_nested_roles_claim_with_a_role_map_keeps_platform_roles_and_drops_others() -> None:
    claims = {
        "sub": "u2",
        "preferred_username": "wufang",
        "realm_access": {"roles": ["offline_access", "QXFH", "supervisor", "department:tax"]},
        "dept": {"division": 350203},
    }
    mapping = ClaimMapping(
        roles_claim="realm_access.roles",
        unit_claim="dept.division",
        name_claim="display_name",
        role_map={"QXFH": "district_reviewer"},
    )
    user = user_from_claims(claims, mapping)
    assert user == User(
        sub="u2",
        name="wufang",
        roles=("district_reviewer", "supervisor", "department:tax"),
        org="350203",
    )


def test_space_separated_roles_and_a_claim_name_with_dots() -> None:
    claims = {
        "sub": "u3",
        "name": "郑伟",
        "https://housing.xm.gov.cn/roles": "city_clerk city_reviewer",
        "https://housing.xm.gov.cn/unit": "350200",
    }
    mapping = ClaimMapping(
        roles_claim="https://housing.xm.gov.cn/roles", unit_claim="https://housing.xm.gov.cn/unit"
    )
    assert user_from_claims(claims, mapping).roles == ("city_clerk", "city_reviewer")
    assert user_from_claims(claims, mapping).org == "350200"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"roles": ["street_clerk"], "org": "350203001"}, "缺少用户标识"),
        ({"sub": "u", "roles": ["offline_access"], "org": "350203001"}, "未分配本平台的岗位角色"),
        ({"sub": "u", "org": "350203001"}, "未分配本平台的岗位角色"),
        ({"sub": "u", "roles": ["street_clerk"], "org": "35020"}, "未配置所属单位"),
        ({"sub": "u", "roles": ["street_clerk"]}, "未配置所属单位"),
    ],
)
def test_a_user_the_workbench_cannot_serve_is_refused_with_a_chinese_reason(
    claims: dict[str, object], message: str
) -> None:
    with pytest.raises(SignInError, match=message):
        user_from_claims(claims, ClaimMapping())


def test_claim_paths() -> None:
    claims = {"a": {"b": {"c": 1}}, "x.y": 2}
    assert claim(claims, "a.b.c") == 1
    assert claim(claims, "x.y") == 2
    assert claim(claims, "a.z") is None
    assert claim(claims, "a.b.c.d") is None
