"""Problems of the tenancy service and the translation of domain refusals into them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.tenancy import domain
from shared.problems import Conflict, Problem, problem_type

T = TypeVar("T")


class LeaseNotActive(Conflict):
    type = problem_type("lease-not-active")
    title = "租约已终止"


class ClauseNotInContract(Conflict):
    type = problem_type("clause-not-in-contract")
    title = "合同未约定该收回情形"


class ExitStepRefused(Conflict):
    type = problem_type("exit-step-refused")
    title = "退出程序步骤不符"


class ViolationStepRefused(Conflict):
    type = problem_type("violation-step-refused")
    title = "整改程序步骤不符"


_MAP: dict[type[domain.TenancyError], type[Problem]] = {
    domain.LeaseNotActive: LeaseNotActive,
    domain.ClauseNotInContract: ClauseNotInContract,
    domain.ExitStepRefused: ExitStepRefused,
    domain.ViolationStepRefused: ViolationStepRefused,
}


def translate(exc: domain.TenancyError) -> Problem:
    return _MAP.get(type(exc), Conflict)(detail=str(exc))


async def translated(work: Callable[[], Awaitable[T]]) -> T:
    try:
        return await work()
    except domain.TenancyError as exc:
        raise translate(exc) from exc
