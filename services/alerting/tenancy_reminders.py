"""N5–N7: tenancy's deadline reminders (资格复核、入户巡查、违规整改临期提醒).

Tenancy owns these clocks and announces each deadline itself (the re-review and visit
reminders inside their windows, the rectification order with its deadline when it opens), so
alerting only turns each announcement into one stored SMS notification. Tenancy's events carry
no street: the reminder goes to the city's unit, as other city-level alerts do.
"""

from __future__ import annotations

from services.alerting.context import AlertingContext
from services.alerting.evaluation import queue_notifications
from shared.db import UnitOfWork
from shared.events import catalogue as ev


async def _remind(
    ctx: AlertingContext, uow: UnitOfWork, rule_id: str, key: str, message: str
) -> None:
    # The dedupe key names the deadline: a redelivered or repeated announcement sends nothing.
    await queue_notifications(
        uow,
        [
            {
                "kind": "tenancy_deadline",
                "rule_id": rule_id,
                "dedupe_key": f"{rule_id}:{key}",
                "unit": ctx.rules.city,
                "message": message,
            }
        ],
    )


async def rereview_due(ctx: AlertingContext, uow: UnitOfWork, e: ev.TenancyRereviewDue) -> None:
    await _remind(
        ctx,
        uow,
        "N5",
        f"{e.lease_id}:{e.campaign}:{e.deadline}",
        f"【临期提醒】承租家庭{e.household_reference}的{e.campaign}年度资格复核将于"
        f"{e.deadline}到期，请督促按期完成。",
    )


async def visit_due(ctx: AlertingContext, uow: UnitOfWork, e: ev.TenancyVisitDue) -> None:
    await _remind(
        ctx,
        uow,
        "N6",
        f"{e.lease_id}:{e.due_on}",
        f"【临期提醒】承租家庭{e.household_reference}的入户巡查将于{e.due_on}到期，"
        "请及时安排走访。",
    )


async def violation_opened(
    ctx: AlertingContext, uow: UnitOfWork, e: ev.TenancyViolationOpened
) -> None:
    await _remind(
        ctx,
        uow,
        "N7",
        f"{e.violation_id}:{e.deadline}",
        f"【临期提醒】承租家庭{e.household_reference}的违规整改期限为{e.deadline}，"
        "请督促按期整改并核验。",
    )
