"""The credit service's problems: how domain exceptions and refusals reach the caller.

Credit needs no Problem subclasses of its own: its refusals are the platform's ``Conflict``
(a step that does not follow, with the current and allowed steps) and ``Forbidden`` (another
unit's record, the four-eyes rule). This module turns the domain's plain exceptions into them.
"""

from __future__ import annotations

from services.credit import domain
from services.credit.domain import STAGE_TITLES, InvalidTransition
from shared.auth import Principal
from shared.problems import Conflict, Forbidden


def transition_conflict(exc: InvalidTransition) -> Conflict:
    """A notice step or decision that does not follow from the record's current step."""
    return Conflict(
        exc.reason,
        field="step",
        extra={
            "current_step": exc.current.value,
            "current_step_title": STAGE_TITLES[exc.current],
            "allowed_steps": sorted(s.value for s in domain.TRANSITIONS[exc.current]),
        },
    )


def same_officer(detail: str) -> Forbidden:
    """``domain.SameOfficer``: the approver is the officer who entered or proposed it."""
    return Forbidden(detail, field="approved_by")


def ensure_can_act(principal: Principal, unit: str) -> None:
    """Only officers of the record's unit (or above) act on it; read-only roles never do."""
    if not principal.can_act_in(unit):
        raise Forbidden("无权办理该单位录入的失信记录")
