"""Problems of the allocation service and the translation of domain refusals into them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.allocation import domain
from shared.problems import Conflict, Problem, ValidationProblem, problem_type

T = TypeVar("T")


class LotteryRefused(Conflict):
    type = problem_type("lottery-refused")
    title = "摇号被拒绝"


class OutOfOrder(Conflict):
    type = problem_type("out-of-rank-order")
    title = "未按轮候顺序选房"


class UnitTaken(Conflict):
    type = problem_type("unit-taken")
    title = "房源已被选定"


class SlotMissed(Conflict):
    type = problem_type("selection-slot-missed")
    title = "已过选房截止时间"


class StockImportInvalid(ValidationProblem):
    type = problem_type("stock-import-invalid")
    title = "房源导入文件有误"


_MAP: dict[type[domain.AllocationError], type[Problem]] = {
    domain.LotteryRefused: LotteryRefused,
    domain.OutOfOrder: OutOfOrder,
    domain.UnitTaken: UnitTaken,
    domain.SlotMissed: SlotMissed,
}


def translate(exc: domain.AllocationError) -> Problem:
    return _MAP.get(type(exc), Conflict)(detail=str(exc))


async def translated(work: Callable[[], Awaitable[T]]) -> T:
    try:
        return await work()
    except domain.AllocationError as exc:
        raise translate(exc) from exc
