"""Walkthrough, continued: the family of the allocation walkthrough lives a year in its unit,
is re-reviewed by every department, moves out, and the unit is let to the next household
(issue 16, "Done when"), through the platform's HTTP APIs only.

    uv run python -m tools.walkthrough_tenancy      # against `make run` (development)

After the signed contract (``tools/walkthrough_allocation.py``) a second family
qualifies and waits. Tenancy opens the lease from ``allocation.contract_signed``. Then
every service's development clock is moved through the lease's first twelve months
together with ``tools/dev_clock.py``'s ``move_clocks``, on the 10th of each month (the first month:
the day the lease starts): the month is billed and the bank's withholding file (代扣) pays
it. In March (the walkthrough's re-review month) the officer records the year's
campaign; verification asks every department again with the purpose ``re_review`` and
the department simulators answer as they do for applications, so the verdict comes from
the same records. When the yearly home visit falls due, alerting's N6 reminder goes out
and an officer records the visit. The withholding file of the first month is sent again
and changes nothing. In the thirteenth month the family gives notice, the unit is
inspected and vacated, and allocation puts it back in its stock; a round with that one
unit is drawn and the first household of its selection order that fits it takes it; its
lease opens in tenancy. The cockpit's admission, use and exit figures (准入、使用、退出) are
printed at the end, and every clock is set back to real time.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx

from shared.clock import SHANGHAI
from shared.settings import SERVICES
from tools.dev_clock import move_clocks
from tools.walkthrough_allocation import (
    CITY,
    OFFICER,
    Family,
    Outcome,
    Walkthrough,
    WalkthroughError,
    _check,
    dev_token,
    run_cli,
)

SUPERVISOR = dev_token("supervisor", CITY, "walkthrough-supervisor", "市级监督")
VISITORS = ["街道住房保障专管员", "社区网格员"]
# What the walkthrough's re-review may conclude for a family the departments found eligible:
# the city's continuation thresholds are never stricter than admission's (shared/city.py).
CONTINUING = ("continued", "band_changed")
# The visit is made this many days before it is due: inside tenancy's N6 reminder window
# (``visits.reminder_days``, 30 in services/tenancy/data/rules.yaml).
VISIT_AHEAD_DAYS = 25
# The month the officer records the year's re-review campaign (Fujian re-reviews in spring).
REREVIEW_MONTH = 3


@dataclass
class RentYear:
    rereview: dict[str, Any]
    campaign_month: date
    months: int  # billed and paid before the month of the move-out


@dataclass
class Journey:
    first: Outcome
    lease: dict[str, Any]
    year: RentYear
    visit: dict[str, Any]
    bills: list[dict[str, Any]]
    exit: dict[str, Any]
    next_household: str
    next_lease: dict[str, Any]
    cockpit: dict[str, Any]


def month_start(day: date, months: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


class TenancyWalkthrough(Walkthrough):
    """The allocation walkthrough's steps, then a year of tenancy and the unit's next letting."""

    def __init__(self, clients: Mapping[str, httpx.AsyncClient], **kwargs: Any) -> None:
        super().__init__(clients, **kwargs)
        self.latest: datetime | None = None  # the latest "now" any service reported

    async def clock(self, service: str, change: dict[str, Any]) -> str:
        moved = await super().clock(service, change)
        if not change.get("reset"):
            at = datetime.fromisoformat(moved)
            self.latest = at if self.latest is None else max(self.latest, at)
        return moved

    async def clocks_to(self, day: date, hour: int = 10) -> datetime:
        """Every service's clock at ``hour`` o'clock (China) of ``day``, never back in time."""
        at = datetime.combine(day, time(hour), SHANGHAI)
        if self.latest is not None and at <= self.latest:
            at = self.latest + timedelta(minutes=1)
        await self._move_clocks(set_to=at)
        self.latest = at
        return at

    async def reset_clocks(self) -> None:
        await self._move_clocks(reset=True)

    async def _move_clocks(self, **change: Any) -> None:
        moved = await move_clocks({name: self.c[name] for name in SERVICES}, **change)
        failed = [f"{m.service}: {m.error}" for m in moved if m.error]
        if failed:
            raise WalkthroughError(f"development clocks not moved: {'; '.join(failed)}")

    # -- the lease's year --------------------------------------------------------------------

    async def lease_of(self, reference: str, unit_id: str) -> dict[str, Any]:
        tenancy = self.c["tenancy"]

        async def opened() -> dict[str, Any] | None:
            url = f"/leases?household_reference={reference}&status=active"
            items = _check(await tenancy.get(url, headers=OFFICER), 200)["items"]
            return next((x for x in items if x["unit_id"] == unit_id), None)

        lease = await self.eventually(opened, "the lease opened from allocation.contract_signed")
        self.tell(
            f"租后管理建档：租约 {lease['lease_no']}，{lease['starts_on']} 起租，租金档 "
            f"{lease['rent_band']}，押金 {lease['deposit']} 元",
            "tenancy opened the lease from the signed contract",
        )
        return lease

    async def bill_and_pay(self, lease: dict[str, Any], month: date, day: date) -> bytes:
        """The month billed and paid by the bank's withholding file; the file sent."""
        tenancy = self.c["tenancy"]
        _check(await tenancy.post(f"/billing/{month:%Y-%m}", headers=OFFICER), 200)
        bills = _check(await tenancy.get(f"/leases/{lease['id']}/bills", headers=OFFICER), 200)
        [bill] = [b for b in bills if b["month"] == month.isoformat()]
        # The bank's transaction reference: one per lease and month, as its file would carry.
        ref = "WH" + hashlib.sha256(f"{lease['id']}:{month}".encode()).hexdigest()[:20].upper()
        file = (
            "transaction_ref,lease_no,amount,paid_on\n"
            f"{ref},{lease['lease_no']},{bill['amount']},{day.isoformat()}\n"
        ).encode()
        report = _check(
            await tenancy.post(
                f"/withholding-imports?file_name=bank-{month:%Y%m}.csv",
                content=file,
                headers={**OFFICER, "Content-Type": "text/csv"},
            ),
            201,
        )
        if (report["applied"], report["unmatched"]) != (1, []):
            raise WalkthroughError(f"the bank file of {month:%Y-%m} was not applied: {report}")
        self.tell(
            f"{month:%Y-%m} 租金 {bill['amount']} 元（{bill['rent_band']} 档 × {bill['factor']}"
            f"，{bill['days']} 天），银行代扣到账",
            "the month billed and paid by the bank's withholding file",
        )
        return file

    async def rereview(self, lease: dict[str, Any], year: int) -> dict[str, Any]:
        tenancy = self.c["tenancy"]
        campaign = _check(await tenancy.post(f"/campaigns/{year}", headers=OFFICER), 200)
        self.tell(
            f"{year} 年度资格复核启动：{campaign['requested']} 户，{campaign['deadline']} 前完成",
            "the year's re-review campaign recorded; verification asks every department again",
        )

        async def concluded() -> dict[str, Any] | None:
            url = f"/rereviews/{year}?limit=200"
            items = _check(await tenancy.get(url, headers=OFFICER), 200)["items"]
            row = next((x for x in items if x["lease_id"] == lease["id"]), None)
            return row if row is not None and row["status"] != "requested" else None

        row = await self.eventually(concluded, "the re-review's verdict from verification")
        if row["status"] not in CONTINUING:
            raise WalkthroughError(f"the re-review concluded {row['status']}: {row}")
        self.tell(
            f"联审联查复核完成：{row['status']}，核定收入档 {row['income_band']}，租金档 "
            f"{row['rent_band']}（次月账单起）",
            "every department answered again: the household continues",
        )
        return dict(row)

    async def home_visit(self, lease: dict[str, Any], reference: str) -> dict[str, Any]:
        """The yearly visit, 25 days before it is due: inside tenancy's reminder window (30
        days), so alerting's N6 reminder has gone out; an officer records what was found."""
        due = date.fromisoformat(lease["next_visit_due"])
        day = (await self.clocks_to(due - timedelta(days=VISIT_AHEAD_DAYS))).date()
        alerting = self.c["alerting"]

        async def reminded() -> dict[str, Any] | None:
            url = "/notifications?kind=tenancy_deadline&limit=200"
            items = _check(await alerting.get(url, headers=SUPERVISOR), 200)["items"]
            return next(
                (n for n in items if n["rule_id"] == "N6" and reference in n["message"]), None
            )

        notice = await self.eventually(reminded, "alerting's N6 home-visit reminder")
        self.tell(f"N6 临期提醒：{notice['message']}", "N6: the home visit falls due")
        visit = _check(
            await self.c["tenancy"].post(
                f"/leases/{lease['id']}/visits",
                json={
                    "visited_on": day.isoformat(),
                    "visitors": VISITORS,
                    "finding": "occupied_normally",
                    "note": "家庭成员在住，房屋使用正常",
                },
                headers=OFFICER,
            ),
            201,
        )
        self.tell(f"入户走访 {visit['visited_on']}：正常居住", "home visit recorded: lived in")
        return dict(visit)

    async def year_of_rent(self, lease: dict[str, Any], rereview_month: int) -> RentYear:
        """Twelve months billed and paid (more when the lease began in the first months of a
        year: a campaign covers the leases begun before its year, so the walkthrough goes on
        to the next year's campaign month), the re-review in its month, a bank file resent."""
        tenancy = self.c["tenancy"]
        starts = date.fromisoformat(lease["starts_on"])
        files: list[bytes] = []
        rereview: dict[str, Any] | None = None
        campaign_month = starts
        months = 0
        while months < 12 or rereview is None:
            month = month_start(starts, months)
            day = starts if months == 0 else month.replace(day=10)
            await self.clocks_to(day)
            if months == 0:
                self.tell(
                    f"开发时钟：全部服务拨至 {day}，逐月推进一年",
                    "every service's clock moves month by month through the year",
                )
            files.append(await self.bill_and_pay(lease, month, day))
            if rereview is None and month.year > starts.year and month.month >= rereview_month:
                rereview, campaign_month = await self.rereview(lease, month.year), month
            months += 1
        before = _check(await tenancy.get(f"/leases/{lease['id']}/bills", headers=OFFICER), 200)
        again = _check(
            await tenancy.post(
                "/withholding-imports?file_name=bank-resent.csv",
                content=files[0],
                headers={**OFFICER, "Content-Type": "text/csv"},
            ),
            201,
        )
        after = _check(await tenancy.get(f"/leases/{lease['id']}/bills", headers=OFFICER), 200)
        if (again["applied"], again["duplicates"]) != (0, 1) or after != before:
            raise WalkthroughError(f"a withholding file sent twice changed something: {again}")
        self.tell("银行重复发送代扣文件：识别为重复，账目不变", "a resent file changes nothing")
        state = _check(await tenancy.get(f"/leases/{lease['id']}", headers=OFFICER), 200)
        if state["arrears_months"] != 0 or any(b["paid_at"] is None for b in after):
            raise WalkthroughError(f"rent left unpaid after the year: {state}")
        self.tell(f"一年租金 {len(after)} 期全部缴清，无欠租", "a year of rent billed and paid")
        return RentYear(rereview, campaign_month, months)

    # -- exit and the next household ---------------------------------------------------------

    async def move_out(self, lease: dict[str, Any], day: date) -> dict[str, Any]:
        tenancy = self.c["tenancy"]
        await self.clocks_to(day)
        # The month they leave in was billed when the clock reached it: paid before they go.
        await self.bill_and_pay(lease, month_start(day), day)
        started = _check(
            await tenancy.post(
                f"/leases/{lease['id']}/exits",
                json={"kind": "voluntary", "reason": "承租家庭购买商品住房，申请退租"},
                headers=OFFICER,
            ),
            201,
        )
        self.tell(f"承租家庭申请退租，腾退期限 {started['move_out_by']}", "the family gives notice")
        inspected = _check(
            await tenancy.post(
                f"/exits/{started['id']}/inspection",
                json={"inspected_on": day.isoformat(), "damages": []},
                headers=OFFICER,
            ),
            200,
        )
        self.tell(
            f"退房验房：无损坏，押金 {inspected['deposit']} 元，结算 {inspected['settlement']} 元",
            "move-out inspection and deposit settlement",
        )
        vacated = _check(
            await tenancy.post(
                f"/exits/{started['id']}/move-out",
                json={"vacated_on": day.isoformat()},
                headers=OFFICER,
            ),
            200,
        )
        alloc = self.c["allocation"]

        async def back_in_stock() -> bool:
            units = _check(await alloc.get("/units?status=vacant", headers=OFFICER), 200)
            return lease["unit_id"] in [u["id"] for u in units]

        await self.eventually(back_in_stock, "the vacated unit back in allocation's stock")
        self.tell(
            f"交还钥匙 {vacated['vacated_on']}，房源回到配租房源库", "unit vacated, back in stock"
        )
        return dict(vacated)

    async def relet(self, unit_id: str, day: date) -> tuple[str, dict[str, Any]]:
        """A round with the vacated unit; the first household in the selection order that fits
        it takes it, the ones before it that it does not fit decline."""
        await self.clocks_to(day)
        alloc = self.c["allocation"]
        round_id, order = await self.draw_round(
            [unit_id], f"腾退房源再配租 {day.isoformat()}", reset_clock=False
        )
        for reference in order:
            url = f"/rounds/{round_id}/households/{reference}/choices"
            choices = _check(await alloc.get(url, headers=OFFICER), 200)
            if unit_id in [u["id"] for u in choices["units"]]:
                chosen = _check(
                    await alloc.post(
                        f"/rounds/{round_id}/selections",
                        json={"household_reference": reference, "unit_id": unit_id},
                        headers=OFFICER,
                    ),
                    201,
                )
                self.tell(f"轮候家庭 {reference} 选定该房源", "the next household chose the unit")
                await self.sign_contract(chosen["id"])
                return reference, await self.lease_of(reference, unit_id)
            await self.decline(round_id, reference)
        raise WalkthroughError("no household of the round fits the vacated unit")

    async def cockpit(self) -> dict[str, Any]:
        view = _check(await self.c["alerting"].get("/cockpit", headers=SUPERVISOR), 200)
        figures = dict(view["admission_use_exit"])
        self.tell(
            f"驾驶舱 {figures['from']}–{figures['to']}：准入 {figures['admission']}，"
            f"在租 {figures['use']['active_leases']} 户，走访 {figures['use']['visits_done']} 次，"
            f"退出 {figures['exit']['exits']}",
            "the cockpit's admission, use and exit figures",
        )
        return figures

    async def journey(self) -> Journey:
        try:
            family: Family = await self.qualify_family()
            first = await self.allocate(family)
            await self.clock("publication", {"reset": True})
            self.tell("下一户家庭申请并取得资格，进入轮候", "a second family qualifies and waits")
            await self.qualify_family()
            lease = await self.lease_of(family.tracking_no, first.unit_id)
            year = await self.year_of_rent(lease, REREVIEW_MONTH)
            visit = await self.home_visit(lease, family.tracking_no)
            left = month_start(date.fromisoformat(lease["starts_on"]), year.months).replace(day=10)
            vacated = await self.move_out(lease, left)
            bills = _check(
                await self.c["tenancy"].get(f"/leases/{lease['id']}/bills", headers=OFFICER), 200
            )
            reference, next_lease = await self.relet(first.unit_id, left + timedelta(days=1))
            figures = await self.cockpit()
            return Journey(
                first, lease, year, visit, bills, vacated, reference, next_lease, figures
            )
        finally:
            await self.reset_clocks()


async def _walk(clients: Mapping[str, httpx.AsyncClient]) -> str:
    journey = await TenancyWalkthrough(clients).journey()
    return (
        f"OK: 房源 {journey.first.unit_code} 租约 {journey.lease['lease_no']} 一年后腾退，"
        f"转配轮候家庭 {journey.next_household}（租约 {journey.next_lease['lease_no']}）"
        " / from application to the unit let to the next household through the HTTP APIs"
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(run_cli(_walk)))
