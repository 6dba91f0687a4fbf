"""Demo data: the demo city filled with households at every stage (issue 18, item 4).

    uv run python -m tools.demo_seed [--households 300] [--seed 18]

Run by ``scripts/run.sh`` after the demo stock import (development only; ``HOUSING_DEMO=0``
skips it) on an empty installation: when intake already lists an application, nothing is
seeded, so a second ``make run`` does not seed twice. Everything goes through the services'
HTTP APIs with development tokens, the reference department simulators of the run command
answer verification, and the development clocks (``POST /_dev/clock``, as
``tools/walkthrough_tenancy.py`` moves them) give the city a history of about six weeks:

- six weeks ago (era 0) households applied who are now qualified and waiting, allocated, in
  tenancy, objected, or whose street review is long overdue (R8 red lights and their red
  tickets, some handled and reported up the ladder); families and agencies were found out,
  sent a notice letter, and are now recorded with bans or on the agency blacklist;
- sixteen days later (era 1) publicity closed, the bans started, and a round was drawn for
  just as many fitting units as the allocated and tenant households take; the tenants signed;
- fifteen working days ago (era 2) households were accepted whose street stage falls due on
  the next working day (Y3 yellow lights, half on a yellow ticket);
- today the rest: submitted, missing materials (补件通知单), accepted with incomplete
  materials (Y1), at the street, district and city tiers, suspended for supplements, returned
  by the district, in publicity, and the last ones just sent to the departments.

Households are generated from ``--seed``: the same names, resident IDs, streets, stages and
counts every time. A household planned to pass review that the departments' records show
not eligible is rejected at the street (审核未通过) and another household takes its place, so
the rejected count follows from the seed too (the simulators' answers are a function of the
person). What the services draw themselves (the lottery's secret, ids, tracking numbers)
differs between runs. The households just accepted move on from "under verification" to the
street within seconds, as the simulators answer at once. Every clock is set back to real time
at the end. The summary printed last gives the count per stage and of lights, tickets, bans.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from services.review.workflow import presets
from shared.city import city_config
from shared.clock import SHANGHAI
from shared.pii import resident_id_check_char
from shared.workdays import default_calendar
from simulators.applicants import couple_application
from tools.walkthrough_allocation import (
    CATEGORY,
    CITY,
    MATERIALS,
    OFFICER,
    OPINION,
    PUBLICITY_DAYS,
    STAGES,
    WalkthroughError,
    _check,
    dev_token,
    service_urls,
    signer,
)
from tools.walkthrough_tenancy import SUPERVISOR, TenancyWalkthrough

# Stages in the order a household passes them, with their share per 100 households.
PLAN: tuple[tuple[str, int], ...] = (
    ("submitted", 8),  # 已提交，待受理
    ("supplement", 6),  # 补件通知单 issued, waiting for the family
    ("verifying", 5),  # accepted, the departments asked
    ("street_review", 10),  # at the street, fresh
    ("street_incomplete", 3),  # accepted with materials missing (Y1), at the street
    ("street_yellow", 4),  # street deadline on the next working day (Y3)
    ("street_overdue", 5),  # street deadline passed weeks ago (R8, red ticket)
    ("street_suspended", 4),  # 补件挂起 at the street
    ("district_review", 8),
    ("city_review", 7),
    ("returned", 4),  # the district sent it back to the street
    ("publicity", 8),  # in publicity now
    ("objected", 3),  # an objection lodged and not concluded
    ("waiting", 15),  # qualified, on the waiting list
    ("allocated", 5),  # chose a unit in a round, contract not signed yet
    ("tenancy", 5),  # contract signed, a lease in tenancy
)
# Stages whose households were filed six weeks ago (era 0) and fifteen working days ago (era 2).
OLD = ("street_overdue", "objected", "waiting", "allocated", "tenancy")
PUBLICISED = ("publicity", "objected", "waiting", "allocated", "tenancy")
REJECT_OPINION = "经核查，部门核查结果显示家庭经济状况超出准入条件，不符合申请条件，不予通过。"
RETURN_OPINION = "经复核，家庭成员收入证明与社保缴费记录不一致，退回街道重新核实后再报。"
# The stages signed, in order, to bring a household to its planned stage.
_STREET = ("street_initial", "approve", OPINION)
_DISTRICT = ("district_review", "approve", OPINION)
_CITY = ("city_confirmation", "approve", OPINION)
SIGNED: dict[str, tuple[tuple[str, str, str], ...]] = {
    "district_review": (_STREET,),
    "city_review": (_STREET, _DISTRICT),
    "returned": (_STREET, ("district_review", "return", RETURN_OPINION)),
    **{stage: (_STREET, _DISTRICT, _CITY) for stage in PUBLICISED},
}
YELLOW = ("street_yellow",)
INCOMPLETE = "street_incomplete"
ELIGIBLE_TRIES = 3
OUTSIDE_PLAN = ("rejected", "withdrawn")
# Units of 40 m² or less fit a couple (allocation's standard for 1–2 persons); the demo stock
# has 32, and the walkthroughs take a few.
MAX_HOUSED = 24
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志海燕文斌宇浩晨欣怡"
SUSPEND_ITEMS = ["申请人配偶近六个月工资流水", "现住房租赁合同"]
OBJECTION = "据了解该户家庭在本市另有住房一套且长期出租，请核查其住房情况是否属实。"
RED_HANDLING = {
    "cause": "街道经办人员休假，案件未及时移交，超过办理时限",
    "handling_opinion": "已指定专人接办，三个工作日内完成初审并约谈相关人员",
    "section_head": "陈科长",
    "handler": "林经办",
    "cause_kind": "human",
}
AGENCIES = (
    ("厦门安居代办服务部", "92350203MA3YYYYY1B", "paid_proxy_application"),
    ("厦门市顺心房屋中介有限公司", "91350206MA2XXXXX3C", "agency_fraud"),
)
FAMILY_KINDS = (
    ("concealed_housing", "申请时隐瞒名下住房一套", "serious"),
    ("false_household_members", "虚报家庭成员，将已分户子女列入申请", "general"),
    ("concealed_housing", "隐瞒配偶名下商铺及住房", "severe"),
)
CREDIT_A = dev_token("credit_officer", CITY, "demo-credit-officer-a", "信用经办")
CREDIT_B = dev_token("credit_officer", CITY, "demo-credit-officer-b", "信用审批")
READER = dev_token("street_clerk", CITY, "demo-task-reader", "演示查询")
CITY_CLERK = dev_token("city_clerk", CITY, "demo-city-clerk", "市级经办")


def plan(households: int) -> dict[str, int]:
    """How many households end in each stage: the shares of ``PLAN`` by cumulative rounding
    (so the counts add up to ``households``), allocated and tenancy together capped by the
    fitting stock in their proportion (the rest wait)."""
    total = sum(w for _, w in PLAN)
    counts: dict[str, int] = {}
    cumulative = 0
    for stage, weight in PLAN:
        before = round(cumulative * households / total)
        cumulative += weight
        counts[stage] = round(cumulative * households / total) - before
    housed = counts["allocated"] + counts["tenancy"]
    if housed > MAX_HOUSED:
        tenancy = round(MAX_HOUSED * counts["tenancy"] / housed)
        counts["waiting"] += housed - MAX_HOUSED
        counts["allocated"], counts["tenancy"] = MAX_HOUSED - tenancy, tenancy
    return counts


@dataclass
class Household:
    number: int
    stage: str
    street: str
    body: dict[str, Any]
    account: dict[str, str]
    id_tail: str
    application_id: str = ""
    tracking_no: str = ""
    case_id: str = ""
    recommendation: str = ""

    @property
    def district(self) -> str:
        return self.street[:6]


class Households:
    """Household ``n`` of a seed: a couple in one of the city's streets, named and numbered
    from the seed's random stream (resident IDs unique per number below 1,000)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.streets = [s.code for d in city_config().units.districts for s in d.streets]
        self.count = 0

    def _person(self, region: str, born: date, serial: int) -> str:
        first17 = f"{region}{born:%Y%m%d}{serial:03d}"
        return first17 + resident_id_check_char(first17)

    def _name(self) -> str:
        return self.rng.choice(SURNAMES) + "".join(self.rng.sample(GIVEN, self.rng.choice((1, 2))))

    def new(self, stage: str) -> Household:
        rng, number = self.rng, self.count
        self.count += 1
        if number >= 1000:
            raise WalkthroughError("at most 1,000 demo households (resident ID serials)")
        street = rng.choice(self.streets)
        born = date(1965, 1, 1) + timedelta(days=rng.randrange(12_000))
        applicant = self._person(street[:6], born, number)
        spouse = self._person("350206", born + timedelta(days=rng.randrange(1, 900)), number)
        body = couple_application(applicant, spouse, category=CATEGORY, street=street)
        body["mobile"] = f"13{rng.randrange(10**9):09d}"
        for member in body["members"]:
            member["name"] = self._name()
            member["hukou_division"] = street[:6]
            member["declared_monthly_income"] = f"{rng.randrange(1800, 5200)}.00"
            member["declared_financial_assets"] = f"{rng.randrange(0, 60) * 1000}.00"
        body["housing"]["address"] = f"厦门市某某路{rng.randrange(1, 300)}号"
        account = dev_token("applicant", CITY, f"demo-resident-{number:04d}", "申请人")
        return Household(number, stage, street, body, account, applicant[-4:])


@dataclass
class Report:
    stages: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    withdrawn: int = 0
    lights: Counter[str] = field(default_factory=Counter)
    tickets: Counter[str] = field(default_factory=Counter)
    bans: int = 0
    blacklisted: int = 0
    seconds: float = 0.0
    households: list[Household] = field(default_factory=list)

    def summary(self) -> str:
        stages = "，".join(f"{s} {self.stages[s]}" for s, _ in PLAN)
        lights = "，".join(f"{r} {n}" for r, n in sorted(self.lights.items()))
        tickets = "，".join(f"{k} {n}" for k, n in sorted(self.tickets.items()))
        return (
            f"[demo] {sum(self.stages.values())} households by stage: {stages}; "
            f"rejected at the street {self.rejected}, withdrawn {self.withdrawn}\n"
            f"[demo] open lights: {lights or 'none'}; tickets: {tickets or 'none'}; "
            f"bans {self.bans}, blacklisted agencies {self.blacklisted}; "
            f"{self.seconds:.0f} s"
        )


class DemoSeed(TenancyWalkthrough):
    """The walkthroughs' steps, for many households at once."""

    def __init__(
        self,
        clients: Mapping[str, httpx.AsyncClient],
        *,
        households: int,
        seed: int,
        concurrency: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(clients, **kwargs)
        self.counts = plan(households)
        self.people = Households(seed)
        self.gate = asyncio.Semaphore(concurrency)
        self.report = Report()
        self.started = time.monotonic()

    # -- plumbing ----------------------------------------------------------------------------

    def tell(self, chinese: str, english: str) -> None:
        super().tell(f"{chinese}（{time.monotonic() - self.started:.0f} 秒）", english)

    async def each(self, items: Iterable[Any], step: Callable[[Any], Awaitable[Any]]) -> list[Any]:
        async def one(item: Any) -> Any:
            async with self.gate:
                return await step(item)

        return list(await asyncio.gather(*(one(i) for i in items)))

    async def post(self, service: str, url: str, body: Any, headers: dict[str, str]) -> Any:
        """POST with an idempotency key, sent again with the same key while the service answers
        5xx or not at all (a busy database), or after the wait a 429 names, as a portal would."""
        headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
        deadline = time.monotonic() + self.timeout
        for attempt in itertools.count(1):
            try:
                response = await self.c[service].post(url, json=body, headers=headers)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 429:
                # The public forms' rate limit (all the seed's citizens share one address):
                # wait as told, as a browser's user would, and send the same request again.
                wait = min(float(response.headers.get("Retry-After", "5")), 120.0)
                deadline += wait
                await asyncio.sleep(wait)
                continue
            retry = response is None or response.status_code >= 500
            if not retry or time.monotonic() > deadline:
                if response is None:
                    raise WalkthroughError(f"POST {url}: no answer")
                return _check(response, 200, 201)
            await asyncio.sleep(min(0.2 * attempt, 2.0))
        raise AssertionError("unreachable")

    async def get(self, service: str, url: str, headers: dict[str, str], **params: Any) -> Any:
        return _check(await self.c[service].get(url, params=params, headers=headers), 200)

    async def all_pages(
        self, service: str, url: str, headers: dict[str, str], **params: Any
    ) -> list:
        items: list[Any] = []
        while True:
            page = await self.get(service, url, headers, limit=200, offset=len(items), **params)
            items += page["items"]
            if len(items) >= page["total"] or not page["items"]:
                return items

    # -- intake and verification -------------------------------------------------------------

    async def apply(self, h: Household, *, materials: Sequence[str] = MATERIALS) -> None:
        if self.latest is not None:
            # Signed on the services' day, not this process's: intake refuses a pledge signed
            # after its own (development) clock, which the seed has set weeks back. In one
            # process (the test) both clocks are the same one; with `make run` they are not.
            h.body["pledge"]["signed_at"] = self.latest.isoformat()
        created = await self.post("intake", "/applications", h.body, h.account)
        h.application_id, h.tracking_no = created["id"], created["tracking_no"]
        for code in materials:
            _check(
                await self.c["intake"].post(
                    f"/applications/{h.application_id}/materials",
                    params={"material_type": code, "file_name": f"{code}.pdf"},
                    content=b"%PDF-1.4 demo " + code.encode(),
                    headers={**h.account, "Content-Type": "application/pdf"},
                ),
                200,
                201,
            )

    async def apply_for_stage(self, h: Household) -> None:
        await self.apply(h, materials=MATERIALS[:2] if h.stage == INCOMPLETE else MATERIALS)

    async def accept(self, h: Household, *, incomplete: bool = False) -> None:
        clerk = dev_token("street_clerk", h.street, f"demo-street_clerk-{h.street}", "窗口经办")
        body = (
            {"incomplete_reason": "申请人现场出示纸质原件，电子材料随后补传"} if incomplete else {}
        )
        await self.post("intake", f"/applications/{h.application_id}/accept", body, clerk)

    async def verified(self, group: Sequence[Household]) -> None:
        """Until each household's case is open and the departments' verdict is on it."""
        pending = {h.application_id: h for h in group}

        async def cases() -> bool:
            for task in await self.all_pages("review", "/tasks", READER):
                h = pending.get(task["application_id"])
                if h is not None:
                    h.case_id = task["case_id"]
            return all(h.case_id for h in group)

        await self.eventually(cases, "the review cases of the accepted households")

        async def verdict(h: Household) -> None:
            async def done() -> bool:
                view = await self.get("review", f"/cases/{h.case_id}", READER)
                if view.get("verification"):
                    h.recommendation = view["verification"]["recommendation"]
                return bool(h.recommendation)

            await self.eventually(done, f"the verification of {h.tracking_no}")

        await self.each(group, verdict)

    # -- review ------------------------------------------------------------------------------

    async def sign(
        self, h: Household, stage: str, decision: str = "approve", opinion: str = OPINION
    ) -> None:
        level, roles = next((lv, rs) for code, lv, rs in STAGES if code == stage)
        for role in roles:
            await self.post(
                "review",
                f"/cases/{h.case_id}/stages/{stage}/opinions",
                {"role": role, "decision": decision, "opinion": opinion},
                signer(level, role, h.street, "demo"),
            )

    async def to_stage(self, h: Household) -> None:
        """Sign the household's case up to its planned stage (or suspend it there)."""
        if h.stage == "street_suspended":
            await self.post(
                "review",
                f"/cases/{h.case_id}/stages/street_initial/suspend",
                {"missing_items": SUSPEND_ITEMS, "reason": "收入证明与社保记录不一致，需补充"},
                signer("street", "handler", h.street, "demo"),
            )
            return
        for stage, decision, opinion in SIGNED.get(h.stage, ()):
            await self.sign(h, stage, decision, opinion)

    async def cohort(self, stages: Sequence[str]) -> list[Household]:
        """Households for ``stages`` applied, accepted and verified, each signed to its stage.
        Only households the departments show eligible go past the street: candidates for those
        stages apply three for each place (the simulators' records show about a third of the
        demo couples eligible); one shown not eligible is rejected at the street, an eligible
        one beyond the places withdraws its application (撤回), and places still open are
        tried again."""
        open_places = [stage for stage in stages for _ in range(self.counts[stage])]
        done: list[Household] = []
        while open_places:
            group = [
                self.people.new(stage)
                for stage in open_places
                for _ in range(ELIGIBLE_TRIES if stage in SIGNED else 1)
            ]
            await self.each(group, self.apply_for_stage)
            await self.each(group, lambda h: self.accept(h, incomplete=h.stage == INCOMPLETE))
            await self.verified(group)
            self.tell(f"{len(group)} 户受理，联审联查完成", f"{len(group)} verified")
            places = Counter(open_places)
            for h in group:
                if h.stage not in SIGNED:
                    # Stays at the street whatever the departments showed: its place is taken.
                    places[h.stage] -= 1
                    continue
                if h.recommendation != "eligible":
                    h.stage = "rejected"
                elif places[h.stage] > 0:
                    places[h.stage] -= 1
                else:
                    h.stage = "withdrawn"
            open_places = sorted(places.elements())
            await self.each(group, self.settle)
            done += group
        self.report.households += done
        return done

    async def settle(self, h: Household) -> None:
        if h.stage == "rejected":
            await self.sign(h, "street_initial", "reject", REJECT_OPINION)
        elif h.stage == "withdrawn":
            await self.post(
                "intake",
                f"/applications/{h.application_id}/withdraw",
                {"reason": "申请人已购买商品住房，申请撤回"},
                h.account,
            )
        else:
            await self.to_stage(h)

    # -- publication -------------------------------------------------------------------------

    async def publicise(self, group: Sequence[Household], batch: str) -> None:
        """A qualification notice per street with households awaiting publicity."""

        group = [h for h in group if h.stage not in OUTSIDE_PLAN]

        async def awaiting(h: Household) -> bool:
            view = await self.get("review", f"/cases/{h.case_id}", READER)
            return view["status"] == "awaiting_publicity"

        for h in group:
            await self.eventually(lambda h=h: awaiting(h), f"{h.tracking_no} awaiting publicity")
        streets: dict[str, list[str]] = {}
        for h in group:
            streets.setdefault(h.street, []).append(h.application_id)
        for street, application_ids in sorted(streets.items()):
            body = {
                "kind": "qualification",
                "unit": street,
                "batch": f"{batch}-{street}",
                "days": PUBLICITY_DAYS,
                "application_ids": application_ids,
            }
            await self.eventually(
                lambda body=body: self.notice_once_listed(body), f"the notice of {street}"
            )

        async def in_publicity(h: Household) -> bool:
            view = await self.get("review", f"/cases/{h.case_id}", READER)
            return view["status"] == "in_publicity"

        for h in group:
            await self.eventually(lambda h=h: in_publicity(h), f"{h.tracking_no} in publicity")

    async def notice_once_listed(self, body: dict[str, Any]) -> Any:
        """The notice, or None while publication refuses a listed application as not ready:
        it learns of a decision from review's event, a moment after review's own case view
        says awaiting publicity, so a clerk quick enough sees that refusal too."""
        try:
            return await self.post("publication", "/notices", body, CITY_CLERK)
        except WalkthroughError as refused:
            if " answered 422: " in str(refused) and '"field":"application_ids.' in str(refused):
                return None
            raise

    async def object_to(self, group: Sequence[Household]) -> None:
        """An objection against each household's entry in its street's notice."""
        notices = await self.all_pages("publication", "/public/notices", {}, kind="qualification")
        entries: dict[tuple[str, str], tuple[str, str]] = {}
        for notice in notices:
            page = await self.get("publication", f"/public/notices/{notice['id']}", {}, limit=200)
            for e in page["entries"]["items"]:
                entries[(e["street"], e["id_masked"])] = (notice["id"], e["entry_id"])
        for h in group:
            found = entries.get((h.street, f"3502**********{h.id_tail}"))
            if found is None:
                raise WalkthroughError(f"no notice entry for {h.tracking_no}")
            await self.post(
                "publication",
                "/public/objections",
                {
                    "notice_id": found[0],
                    "entry_id": found[1],
                    "contact": "13900000000",
                    "content": OBJECTION,
                },
                {},
            )

    async def qualified(self, group: Sequence[Household]) -> None:
        async def on_list(h: Household) -> bool:
            r = await self.c["allocation"].get(f"/waiting/{h.tracking_no}", headers=OFFICER)
            return r.status_code == 200

        for h in group:
            await self.eventually(lambda h=h: on_list(h), f"{h.tracking_no} on the waiting list")

    # -- credit ------------------------------------------------------------------------------

    async def credit_records(self) -> list[str]:
        """Family records (people not among the applicants) and agency records, approved, the
        notice letter issued and delivered: recorded once the correction period passed."""
        ids = []
        bodies = []
        for n, (kind, facts, severity) in enumerate(FAMILY_KINDS):
            person = self.people._person(
                "350205", date(1975, 3, 1) + timedelta(days=97 * n), 990 + n
            )
            bodies.append(
                {
                    "category": "family",
                    "kind": kind,
                    "severity": severity,
                    "origin": "verification",
                    "facts": facts,
                    "evidence": [{"title": "不动产登记查询结果", "reference": f"BDC-DEMO-{n:03d}"}],
                    "resident_id": person,
                    "name": self.people._name(),
                }
            )
        for n, (name, code, kind) in enumerate(AGENCIES):
            bodies.append(
                {
                    "category": "agency",
                    "kind": kind,
                    "severity": "serious",
                    "origin": "complaint",
                    "facts": "收取代办费用，代为编造申请材料",
                    "evidence": [{"title": "举报材料及收款记录", "reference": f"JB-DEMO-{n:03d}"}],
                    "org_name": name,
                    "org_credit_code": code,
                }
            )
        for n, body in enumerate(bodies):
            record = await self.post("credit", "/records", body, CREDIT_A)
            await self.post("credit", f"/records/{record['id']}/approve", {}, CREDIT_B)
            steps = (
                ["notice_issued", "delivered"]
                if n % 2 == 0
                else ["notice_issued", "undeliverable", "announced"]
            )
            for step in steps:
                await self.post(
                    "credit",
                    f"/records/{record['id']}/notices",
                    {"step": step, "document_no": f"GZH-DEMO-{n:03d}"},
                    CREDIT_A,
                )
            ids.append(record["id"])
        return ids

    async def record_credit(self, ids: Sequence[str]) -> None:
        for record_id in ids:
            for step in ("deadline_passed", "recorded"):
                await self.post("credit", f"/records/{record_id}/notices", {"step": step}, CREDIT_A)

    # -- allocation --------------------------------------------------------------------------

    async def allocate(self, group: Sequence[Household]) -> None:  # type: ignore[override]
        """A round with as many fitting units as households to house; the first in the drawn
        order choose, the tenants among them sign; the rest find no unit left and wait on."""
        housed = self.counts["allocated"] + self.counts["tenancy"]
        if not housed:
            return
        vacant = await self.get("allocation", "/units", OFFICER, status="vacant")
        fitting = [u["id"] for u in vacant if float(u["area_m2"]) <= 40][:housed]
        if len(fitting) < housed:
            raise WalkthroughError(f"{len(fitting)} fitting vacant units for {housed} households")
        round_id, order = await self.draw_round(
            fitting, "演示配租批次（公租房）", reset_clock=False
        )
        by_reference = {h.tracking_no: h for h in group}
        chosen = 0
        for reference in order:
            h = by_reference.get(reference)
            url = f"/rounds/{round_id}/households/{reference}/choices"
            choices = await self.get("allocation", url, OFFICER)
            if h is None or not choices["units"] or chosen >= housed:
                await self.decline(round_id, reference)
                continue
            allocation = await self.post(
                "allocation",
                f"/rounds/{round_id}/selections",
                {"household_reference": reference, "unit_id": choices["units"][0]["id"]},
                OFFICER,
            )
            h.stage = "tenancy" if chosen < self.counts["tenancy"] else "allocated"
            if h.stage == "tenancy":
                await self.sign_contract(allocation["id"])
            chosen += 1
        if chosen < housed:
            raise WalkthroughError(f"{chosen} of {housed} households chose a unit")

    # -- supervision -------------------------------------------------------------------------

    async def open_alerts(self) -> list[dict[str, Any]]:
        return await self.all_pages("alerting", "/alerts", SUPERVISOR, status="open")

    async def supervise(self, overdue: Sequence[Household], yellow: Sequence[Household]) -> None:
        """Red tickets of the overdue street stages: a third handled by the street, a third of
        those also reported to the district; the yellow lights of half the Y3 households on a
        yellow ticket per street."""
        apps = {h.application_id: h for h in overdue}

        async def red_tickets() -> list[dict[str, Any]] | None:
            tickets = await self.all_pages("alerting", "/tickets", SUPERVISOR, status="open")
            mine = [t for t in tickets if t["application_id"] in apps and t["rule_id"] == "R8"]
            return mine if len(mine) >= len(overdue) else None

        tickets = await self.eventually(red_tickets, "the red tickets of the overdue stages")
        tickets.sort(key=lambda t: apps[t["application_id"]].number)
        for n, ticket in enumerate(tickets):
            if n % 3 == 2:
                continue
            street = apps[ticket["application_id"]].street
            clerk = dev_token("street_clerk", street, f"demo-street_clerk-{street}", "窗口经办")
            await self.post(
                "alerting", f"/tickets/{ticket['ticket_id']}/handle", RED_HANDLING, clerk
            )
            if n % 3 == 1:
                await self.post(
                    "alerting",
                    f"/tickets/{ticket['ticket_id']}/report",
                    {"summary": "已指定专人接办，初审意见三个工作日内报区住房保障部门"},
                    clerk,
                )
        wanted = {h.application_id for h in yellow[: (len(yellow) + 1) // 2]}

        async def y3() -> list[dict[str, Any]] | None:
            alerts = [a for a in await self.open_alerts() if a["rule_id"] == "Y3"]
            mine = [a for a in alerts if a["application_id"] in wanted]
            return mine if len(mine) >= len(wanted) else None

        if wanted:
            alerts = await self.eventually(y3, "the Y3 lights of the yellow households")
            by_street: dict[str, list[str]] = {}
            for a in alerts:
                by_street.setdefault(a["unit"], []).append(a["alert_id"])
            due = default_calendar().add_workdays(date.today(), 2).date
            for street, ids in sorted(by_street.items()):
                await self.post(
                    "alerting",
                    "/tickets",
                    {
                        "alert_ids": ids,
                        "responsible_section": "住房保障科",
                        "section_head": "黄科长",
                        "handler": "郑经办",
                        "due_date": due.isoformat(),
                    },
                    dev_token("supervisor", street, f"demo-supervisor-{street}", "街道监督员"),
                )

    async def tally(self) -> None:
        for alert in await self.open_alerts():
            self.report.lights[alert["rule_id"]] += 1
        for ticket in await self.all_pages("alerting", "/tickets", SUPERVISOR, status="all"):
            self.report.tickets[f"{ticket['colour']}/{ticket['step']}"] += 1
        records = await self.all_pages("credit", "/records", CREDIT_A, category="family")
        details = [await self.get("credit", f"/records/{r['id']}", CREDIT_A) for r in records]
        self.report.bans = sum(1 for r in details if r["ban"] is not None)
        self.report.blacklisted = len(await self.all_pages("credit", "/blacklist", CREDIT_A))
        self.report.stages = Counter(
            h.stage for h in self.report.households if h.stage not in OUTSIDE_PLAN
        )
        self.report.rejected = sum(1 for h in self.report.households if h.stage == "rejected")
        self.report.withdrawn = sum(1 for h in self.report.households if h.stage == "withdrawn")

    # -- the eras ----------------------------------------------------------------------------

    def eras(self, today: date) -> tuple[date, date, date]:
        """Era 0, era 1 and the day the yellow households were accepted: their street stage
        (15 working days) falls due on the working day after ``today``."""
        calendar = default_calendar()
        due = calendar.add_workdays(today, 1).date
        limit = next(int(s.time_limit_working_days) for s in self._street_stage())
        yellow = today
        while calendar.add_workdays(yellow, limit).date > due:
            yellow -= timedelta(days=1)
        while not calendar.is_workday(yellow):
            yellow -= timedelta(days=1)
        era1 = yellow - timedelta(days=PUBLICITY_DAYS + 1)  # and the round's 5-day pool objection
        era0 = era1 - timedelta(days=17)  # the 15-day correction period of a notice letter
        return era0, era1, yellow

    def _street_stage(self) -> list[Any]:
        workflow = presets()[city_config().workflow]
        return [s for s in workflow.stages if s.code == "street_initial"]

    async def run(self) -> Report:  # type: ignore[override]
        today = datetime.now(SHANGHAI).date()
        era0, era1, yellow_day = self.eras(today)
        try:
            await self.clocks_to(era0, hour=9)
            self.tell(f"开发时钟拨至 {era0}（六周前）", "era 0: six weeks ago")
            old = await self.cohort(OLD)
            late = [h for h in old if h.stage in ("objected", "waiting", "allocated", "tenancy")]
            await self.publicise(late, f"demo-{era0:%Y%m%d}")
            await self.object_to([h for h in late if h.stage == "objected"])
            credit = await self.credit_records()
            self.tell(
                f"{len(old)} 户申请，公示 {len(late)} 户，失信记录 {len(credit)} 条", "era 0 done"
            )

            await self.clocks_to(era1, hour=10)
            housed = [h for h in late if h.stage in ("waiting", "allocated", "tenancy")]
            for h in housed:
                h.stage = "waiting"
            await self.qualified(housed)
            await self.record_credit(credit)
            await self.allocate(housed)
            self.tell(f"开发时钟拨至 {era1}：公示期满，摇号配租，失信记录入档", "era 1 done")

            await self.clocks_to(yellow_day, hour=9)
            yellow = await self.cohort(YELLOW)
            self.tell(f"开发时钟拨至 {yellow_day}：{len(yellow)} 户街道初审将到期", "era 2 done")
        finally:
            await self.reset_clocks()
        self.tell("开发时钟恢复实时", "clocks back to real time")
        overdue = [h for h in old if h.stage == "street_overdue"]
        await self.supervise(overdue, yellow)
        self.tell(f"督办：{len(overdue)} 张红灯督办单，黄灯督办单", "tickets handled")
        now_stages = [
            s for s, _ in PLAN if s not in (*OLD, *YELLOW, "submitted", "supplement", "verifying")
        ]
        current = await self.cohort(now_stages)
        await self.publicise([h for h in current if h.stage == "publicity"], f"demo-{today:%Y%m%d}")
        self.tell(f"今日 {len(current)} 户在审或公示", "today's households in review")
        await self.fresh()
        await self.tally()
        self.tell("统计完成", "counted")
        self.report.seconds = time.monotonic() - self.started
        return self.report

    async def fresh(self) -> None:
        """Submitted (not accepted yet), missing materials, and the last ones accepted."""
        waiting = [self.people.new("submitted") for _ in range(self.counts["submitted"])]
        missing = [self.people.new("supplement") for _ in range(self.counts["supplement"])]
        verifying = [self.people.new("verifying") for _ in range(self.counts["verifying"])]
        await self.each(waiting, self.apply)
        await self.each(missing, lambda h: self.apply(h, materials=MATERIALS[:2]))
        clerk = {
            h.street: dev_token(
                "street_clerk", h.street, f"demo-street_clerk-{h.street}", "窗口经办"
            )
            for h in missing
        }
        await self.each(
            missing,
            lambda h: self.post(
                "intake",
                f"/applications/{h.application_id}/supplement-notice",
                {"items": [{"code": c} for c in MATERIALS[2:]]},
                clerk[h.street],
            ),
        )
        await self.each(verifying, self.apply)
        await self.each(verifying, self.accept)
        self.report.households += [*waiting, *missing, *verifying]


async def installation_is_empty(intake: httpx.AsyncClient) -> bool:
    """No application in the city yet (what intake lists to a city clerk)."""
    page = _check(await intake.get("/applications", params={"limit": 1}, headers=CITY_CLERK), 200)
    return int(page["total"]) == 0


async def wait_ready(clients: Mapping[str, httpx.AsyncClient], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    pending = set(clients)
    while pending:
        for name in sorted(pending):
            try:
                if (await clients[name].get("/readyz")).status_code == 200:
                    pending.discard(name)
            except httpx.HTTPError:
                pass
        if not pending:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(1)
    return True


async def seed(
    clients: Mapping[str, httpx.AsyncClient],
    *,
    households: int,
    seed: int,
    say: Callable[[str], None] = print,
) -> Report | None:
    """Seed the demo city unless intake already has an application; the report, or None."""
    if not await installation_is_empty(clients["intake"]):
        say("[demo] applications already present: no demo households seeded")
        return None
    return await DemoSeed(clients, households=households, seed=seed, say=say).run()


async def _main(args: argparse.Namespace) -> int:
    urls = service_urls()
    clients = {name: httpx.AsyncClient(base_url=url, timeout=60) for name, url in urls.items()}
    try:
        if not await wait_ready(clients, args.wait):
            print("[demo] the services are not ready: no demo households seeded", file=sys.stderr)
            return 1
        report = await seed(clients, households=args.households, seed=args.seed)
    except (WalkthroughError, httpx.HTTPError) as error:
        print(f"[demo] FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        for client in clients.values():
            await client.aclose()
    if report is not None:
        print(report.summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=300, help="how many (at most 900)")
    parser.add_argument("--seed", type=int, default=18, help="the random seed of the households")
    parser.add_argument("--wait", type=float, default=180.0, help="seconds to wait for /readyz")
    args = parser.parse_args(argv)
    if not 1 <= args.households <= 900:
        parser.error("--households: 1 to 900")
    if os.environ.get("HOUSING_ENVIRONMENT") != "development":
        print("[demo] not development: no demo households", file=sys.stderr)
        return 0
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
