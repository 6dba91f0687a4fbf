"""Who is calling: the roles (architecture.md §4) and where a principal may read or act."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.auth.units import unit_contains

__all__ = [
    "ADMIN",
    "APPLICANT",
    "CASEWORK_ROLES",
    "CITY_CLERK",
    "CITY_LEADER",
    "CITY_REVIEWER",
    "CREDIT_OFFICER",
    "DATA_STEWARD",
    "DEPARTMENT_ROLE_PREFIX",
    "DISCIPLINE_INSPECTOR",
    "DISTRICT_CLERK",
    "DISTRICT_REVIEWER",
    "FIXED_ROLES",
    "GLOBAL_READ_ROLES",
    "HOUSING_OFFICER",
    "NOTARY",
    "PORTAL",
    "SERVICE",
    "STREET_CLERK",
    "STREET_REVIEWER",
    "SUPERVISOR",
    "Principal",
    "can_act",
    "can_read",
    "department_role",
    "is_known_role",
]

APPLICANT = "applicant"
PORTAL = "portal"
STREET_CLERK = "street_clerk"
STREET_REVIEWER = "street_reviewer"
DISTRICT_CLERK = "district_clerk"
DISTRICT_REVIEWER = "district_reviewer"
CITY_CLERK = "city_clerk"
CITY_REVIEWER = "city_reviewer"
CITY_LEADER = "city_leader"
SUPERVISOR = "supervisor"
CREDIT_OFFICER = "credit_officer"
DISCIPLINE_INSPECTOR = "discipline_inspector"  # 纪检监察: reads, never acts
HOUSING_OFFICER = "housing_officer"  # 房管/配租经办: stock, rounds, selection
NOTARY = "notary"  # 公证员: enters the public random input of a lottery
# 数据管理员: loads a migrating city's historical cases and nothing else (least privilege).
DATA_STEWARD = "data_steward"
ADMIN = "admin"
SERVICE = "service"  # service-to-service calls
DEPARTMENT_ROLE_PREFIX = "department:"

FIXED_ROLES: frozenset[str] = frozenset(
    {
        APPLICANT,
        PORTAL,
        STREET_CLERK,
        STREET_REVIEWER,
        DISTRICT_CLERK,
        DISTRICT_REVIEWER,
        CITY_CLERK,
        CITY_REVIEWER,
        CITY_LEADER,
        SUPERVISOR,
        CREDIT_OFFICER,
        DISCIPLINE_INSPECTOR,
        HOUSING_OFFICER,
        NOTARY,
        DATA_STEWARD,
        ADMIN,
        SERVICE,
    }
)

# Roles that may read in every unit, whatever their own org. One constant, so that narrowing
# discipline inspectors to their own unit is a one-line change.
GLOBAL_READ_ROLES: frozenset[str] = frozenset({ADMIN, DISCIPLINE_INSPECTOR})

# The staff of the tiered review (经办人, 复核人 at street, district and city; 市领导), who work
# cases in their own unit. Services add their readers (supervisors, inspectors) to it.
CASEWORK_ROLES: tuple[str, ...] = (
    STREET_CLERK,
    STREET_REVIEWER,
    DISTRICT_CLERK,
    DISTRICT_REVIEWER,
    CITY_CLERK,
    CITY_REVIEWER,
    CITY_LEADER,
)


def department_role(department: str) -> str:
    """``department:<dept>``, the role of one department's system or staff."""
    if not department or ":" in department:
        raise ValueError(f"bad department name {department!r}")
    return DEPARTMENT_ROLE_PREFIX + department


def is_known_role(role: str) -> bool:
    if role in FIXED_ROLES:
        return True
    return role.startswith(DEPARTMENT_ROLE_PREFIX) and len(role) > len(DEPARTMENT_ROLE_PREFIX)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, from the token's ``sub``, ``name``, ``roles`` and ``org``."""

    sub: str
    name: str
    roles: frozenset[str]
    org: str

    def has_role(self, *roles: str) -> bool:
        """True when the principal holds at least one of ``roles`` (no admin shortcut here)."""
        return not self.roles.isdisjoint(roles)

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def departments(self) -> frozenset[str]:
        """Departments named by ``department:<dept>`` roles."""
        n = len(DEPARTMENT_ROLE_PREFIX)
        return frozenset(r[n:] for r in self.roles if r.startswith(DEPARTMENT_ROLE_PREFIX))

    def audit_actor(self) -> dict[str, Any]:
        """Actor fields of an audit entry: ``audit.record(conn, **p.audit_actor(), ...)``."""
        return {"actor": self.sub, "actor_roles": sorted(self.roles), "actor_org": self.org}

    def can_read_in(self, unit_code: str) -> bool:
        return can_read(self, unit_code)

    def can_act_in(self, unit_code: str) -> bool:
        return can_act(self, unit_code)


def can_read(principal: Principal, unit: str) -> bool:
    """Own unit and below; admin and discipline inspectors everywhere."""
    if principal.has_role(*GLOBAL_READ_ROLES):
        return True
    return unit_contains(principal.org, unit)


def can_act(principal: Principal, unit: str) -> bool:
    """Own unit and below; admin anywhere; a discipline inspector nowhere.

    Read-only wins over any other role the inspector also holds: an oversight account must not
    be able to change what it oversees.
    """
    if principal.is_admin:
        return True
    if DISCIPLINE_INSPECTOR in principal.roles:
        return False
    return unit_contains(principal.org, unit)
