"""Authentication and authorisation: bearer JWTs, roles, and the administrative-unit scope.

The FastAPI dependencies (``shared.auth.deps``) load on first use, so that the development
token command (``python -m shared.auth token``) starts without importing the web framework.
"""

from typing import Any

from shared.auth.principal import (
    ADMIN,
    APPLICANT,
    CASEWORK_ROLES,
    CITY_CLERK,
    CITY_LEADER,
    CITY_REVIEWER,
    CREDIT_OFFICER,
    DATA_STEWARD,
    DEPARTMENT_ROLE_PREFIX,
    DISCIPLINE_INSPECTOR,
    DISTRICT_CLERK,
    DISTRICT_REVIEWER,
    FIXED_ROLES,
    GLOBAL_READ_ROLES,
    HOUSING_OFFICER,
    NOTARY,
    PORTAL,
    SERVICE,
    STREET_CLERK,
    STREET_REVIEWER,
    SUPERVISOR,
    Principal,
    can_act,
    can_read,
    department_role,
    is_known_role,
)
from shared.auth.tokens import (
    ALL_AUDIENCES,
    DEV_SIGNING_KEY,
    ISSUER,
    audience_of,
    issue_token,
    token_keys,
    verify_token,
)
from shared.auth.units import (
    is_unit_code,
    parent_unit,
    unit_chain,
    unit_contains,
    unit_level,
    unit_prefix,
    within,
)

__all__ = [
    "ADMIN",
    "ALL_AUDIENCES",
    "APPLICANT",
    "CASEWORK_ROLES",
    "CITY_CLERK",
    "CITY_LEADER",
    "CITY_REVIEWER",
    "CREDIT_OFFICER",
    "DATA_STEWARD",
    "DEPARTMENT_ROLE_PREFIX",
    "DEV_SIGNING_KEY",
    "DISCIPLINE_INSPECTOR",
    "DISTRICT_CLERK",
    "DISTRICT_REVIEWER",
    "FIXED_ROLES",
    "GLOBAL_READ_ROLES",
    "HOUSING_OFFICER",
    "ISSUER",
    "NOTARY",
    "PORTAL",
    "SERVICE",
    "STREET_CLERK",
    "STREET_REVIEWER",
    "SUPERVISOR",
    "CurrentPrincipal",
    "Principal",
    "audience_of",
    "can_act",
    "can_read",
    "department_role",
    "ensure_can_act",
    "ensure_can_read",
    "get_principal",
    "is_known_role",
    "is_unit_code",
    "issue_token",
    "parent_unit",
    "principal_from_token",
    "require_roles",
    "token_keys",
    "unit_chain",
    "unit_contains",
    "unit_level",
    "unit_prefix",
    "verify_token",
    "within",
]

_DEPS = frozenset(
    {
        "CurrentPrincipal",
        "ensure_can_act",
        "ensure_can_read",
        "get_principal",
        "principal_from_token",
        "require_roles",
    }
)


def __getattr__(name: str) -> Any:
    if name in _DEPS:
        from shared.auth import deps

        return getattr(deps, name)
    raise AttributeError(f"module 'shared.auth' has no attribute {name!r}")
