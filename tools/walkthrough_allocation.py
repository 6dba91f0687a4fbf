"""Walkthrough: one family from an online application to a signed tenancy contract, through
the platform's HTTP APIs only, with development tokens (issue 15, "Done when").

    uv run python -m tools.walkthrough_allocation      # against `make run` (development)

The family applies online (intake), a street clerk accepts it, the department simulators of
the run command answer verification (a family their records show not eligible withdraws and
another applies), street, district and city sign the review, the city opens
the qualification notice (publication) and the publication service's development clock is
moved past the 7-day publicity so the notice closes: the family is qualified and enters the
waiting list (allocation). Then a housing officer opens a round with the vacant demo stock
(``deploy/demo/allocation_stock.csv``, imported by ``make run``) and a 20 % quota for tier 1,
a leader approves it, the pool is frozen and the commitment published, the allocation clock is
moved past the pool's objection period, a notary draws, the published files are re-checked
with ``tools/verify_lottery.py``, households ahead of the family choose first, the family
chooses a fitting unit online with its own account, and the officer drafts and records the
signed contract. Each step is printed in Chinese and English.

Service URLs: ``HOUSING_<SERVICE>_URL``, else ``http://HOUSING_HOST:HOUSING_<SERVICE>_PORT``
(defaults 127.0.0.1 and 8001…8008). Tokens are signed with ``HOUSING_TOKEN_SIGNING_KEY`` or the
development key; the services must run with ``HOUSING_ENVIRONMENT=development`` (the
development clock, ``POST /_dev/clock``, exists only there and in tests).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import httpx

from shared.auth import DEV_SIGNING_KEY, issue_token
from shared.pii import resident_id_check_char
from shared.settings import DEFAULT_PORTS, SERVICES
from simulators.applicants import couple_application
from tools import verify_lottery

T = TypeVar("T")

CITY = "350200"
STREET = "350203001"  # 厦港街道, 思明区
CATEGORY = "low_income_family"  # the four core materials; eleven departments verify
MATERIALS = (
    "id_card",
    "household_register",
    "application_form",
    "economic_verification_authorisation",
)
# The demo city's workflow (xiamen): stage, level, signatures in order.
STAGES = (
    ("street_initial", "street", ("handler", "reviewer")),
    ("district_review", "district", ("handler", "reviewer")),
    ("city_confirmation", "city", ("handler", "reviewer", "leader")),
)
OPINION = "经核查，家庭收入、住房、车辆情况与各部门核查结果一致，材料齐全，符合申请条件，同意。"
PUBLICITY_DAYS = 7


def service_urls() -> dict[str, str]:
    host = os.environ.get("HOUSING_HOST", "127.0.0.1")
    host = "127.0.0.1" if host == "0.0.0.0" else host  # noqa: S104 - the bind-all default
    return {
        name: os.environ.get(f"HOUSING_{name.upper()}_URL")
        or f"http://{host}:{os.environ.get(f'HOUSING_{name.upper()}_PORT', DEFAULT_PORTS[name])}"
        for name in SERVICES
    }


def dev_token(role: str, org: str, sub: str, name: str = "演示用户") -> dict[str, str]:
    """A development bearer token, as ``python -m shared.auth token`` prints it."""
    key = os.environ.get("HOUSING_TOKEN_SIGNING_KEY") or DEV_SIGNING_KEY
    jwt = issue_token(
        sub=sub,
        name=name,
        roles=[role],
        org=org,
        key=key,
        ttl=timedelta(hours=2),
    )
    return {"Authorization": f"Bearer {jwt}"}


OFFICER = dev_token("housing_officer", CITY, "walkthrough-officer", "配租经办")
LEADER = dev_token("city_leader", CITY, "walkthrough-leader", "分管领导")
NOTARY = dev_token("notary", CITY, "walkthrough-notary", "公证员")
STREET_CLERK = dev_token("street_clerk", STREET, "walkthrough-street-clerk", "街道经办")
CITY_CLERK = dev_token("city_clerk", CITY, "walkthrough-city-clerk", "市级经办")


def signer(level: str, role: str, street: str = STREET, who: str = "walkthrough") -> dict[str, str]:
    """A signer of ``street``'s stage, its district's or the city's: one person per level and
    role (review refuses a person signing at two levels of one case)."""
    org = {"street": street, "district": street[:6], "city": CITY}[level]
    staff = (
        "city_leader"
        if role == "leader"
        else f"{level}_{'clerk' if role == 'handler' else 'reviewer'}"
    )
    return dev_token(staff, org, f"{who}-{staff}-{org}", "王*明")


class WalkthroughError(RuntimeError):
    """A step did not give what the walkthrough expects; the message says which."""


@dataclass
class Family:
    application_id: str
    tracking_no: str
    id_tail: str
    account: dict[str, str]  # the applicant's own token


@dataclass
class Outcome:
    round_id: str
    allocation_id: str
    unit_id: str
    unit_code: str
    contract_id: str
    monthly_rent: str
    priority_group: str


def _check(response: httpx.Response, *codes: int) -> Any:
    if response.status_code not in codes:
        raise WalkthroughError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json() if response.content else None


class Walkthrough:
    """The steps, against one httpx client per service (base URL set on each)."""

    def __init__(
        self,
        clients: Mapping[str, httpx.AsyncClient],
        say: Callable[[str], None] = print,
        timeout: float = 120.0,
    ) -> None:
        self.c = clients
        self.say = say
        self.timeout = timeout
        self.step = 0

    def tell(self, chinese: str, english: str) -> None:
        self.step += 1
        self.say(f"[{self.step:02d}] {chinese} / {english}")

    async def eventually(self, check: Callable[[], Awaitable[T | None]], what: str) -> T:
        deadline = time.monotonic() + self.timeout
        while True:
            value = await check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise WalkthroughError(f"{what}: not reached within {self.timeout:.0f} s")
            await asyncio.sleep(0.25)

    async def clock(self, service: str, change: dict[str, Any]) -> str:
        answer = _check(await self.c[service].post("/_dev/clock", json=change), 200)
        return str(answer["now"])

    # -- qualification ---------------------------------------------------------------------

    async def qualify_family(self, attempts: int = 12) -> Family:
        """A family the departments' records show eligible: the simulators' records differ per
        person, so a family they show ineligible withdraws and another one applies."""
        for _ in range(attempts):
            found = await self._apply()
            if found is not None:
                return await self._review_and_publicise(*found)
        raise WalkthroughError(f"no eligible family in {attempts} applications")

    async def _apply(self) -> tuple[str, str, str, str, dict[str, str]] | None:
        rng = random.SystemRandom()
        born = date(1970, 1, 1) + timedelta(days=rng.randrange(9000))
        ids = []
        for region in ("350203", "350206"):
            first17 = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
            ids.append(first17 + resident_id_check_char(first17))
        account = dev_token("applicant", CITY, f"walkthrough-resident-{uuid.uuid4().hex[:10]}")
        intake = self.c["intake"]
        body = couple_application(ids[0], ids[1], category=CATEGORY, street=STREET)
        created = _check(await intake.post("/applications", json=body, headers=account), 201)
        app_id, tracking_no = created["id"], created["tracking_no"]
        self.tell(f"网上申请，查询编号 {tracking_no}", "online application submitted")
        for code in MATERIALS:
            _check(
                await intake.post(
                    f"/applications/{app_id}/materials",
                    params={"material_type": code, "file_name": f"{code}.pdf"},
                    content=b"%PDF-1.4 walkthrough " + code.encode(),
                    headers={**account, "Content-Type": "application/pdf"},
                ),
                200,
                201,
            )
        self.tell("上传申请材料（一证一簿两表）", "materials uploaded")
        receipt = _check(
            await intake.post(f"/applications/{app_id}/accept", json={}, headers=STREET_CLERK),
            201,
        )
        self.tell(f"街道受理，回执 {receipt['receipt_no']}", "accepted at the street window")

        review = self.c["review"]

        async def task() -> dict[str, Any] | None:
            items = _check(await review.get("/tasks", headers=STREET_CLERK), 200)["items"]
            return next((t for t in items if t["application_id"] == app_id), None)

        case_id = (await self.eventually(task, "the street clerk's review task"))["case_id"]

        async def verified() -> dict[str, Any] | None:
            view = _check(await review.get(f"/cases/{case_id}", headers=STREET_CLERK), 200)
            return view.get("verification")

        verification = await self.eventually(verified, "the departments' verification")
        recommendation = verification["recommendation"]
        if recommendation != "eligible":
            _check(
                await intake.post(
                    f"/applications/{app_id}/withdraw",
                    json={"reason": "部门核查结果不符合条件，申请人撤回申请"},
                    headers=account,
                ),
                200,
                201,
            )
            self.tell(
                f"联审联查结果 {recommendation}，申请人撤回，换一户演示",
                f"verification says {recommendation}: withdrawn, another family applies",
            )
            return None
        self.tell("联审联查完成：符合条件", "every department answered: eligible")
        return app_id, tracking_no, case_id, ids[0][-4:], account

    async def _review_and_publicise(
        self, app_id: str, tracking_no: str, case_id: str, id_tail: str, account: dict[str, str]
    ) -> Family:
        review = self.c["review"]
        for stage, level, roles in STAGES:
            for role in roles:
                _check(
                    await review.post(
                        f"/cases/{case_id}/stages/{stage}/opinions",
                        json={"role": role, "decision": "approve", "opinion": OPINION},
                        headers=signer(level, role),
                    ),
                    201,
                )
            self.tell(f"{stage} 签字完成（{len(roles)} 人）", f"{stage} signed")

        publication = self.c["publication"]

        async def progress(stage: str) -> dict[str, Any] | None:
            r = await publication.get(
                "/public/progress", params={"tracking_no": tracking_no, "id_tail": id_tail}
            )
            return r.json() if r.status_code == 200 and r.json()["stage"] == stage else None

        await self.eventually(lambda: progress("qualified"), "the decision in public progress")
        notice = _check(
            await publication.post(
                "/notices",
                json={
                    "kind": "qualification",
                    "unit": STREET,
                    "batch": f"walkthrough-{tracking_no}",
                    "days": PUBLICITY_DAYS,
                },
                headers=CITY_CLERK,
            ),
            201,
        )
        self.tell(
            f"资格审核结果公示 {PUBLICITY_DAYS} 天（{notice['entry_count']} 户）",
            "qualification notice opened",
        )

        async def case_status(status: str) -> dict[str, Any] | None:
            view = _check(await review.get(f"/cases/{case_id}", headers=STREET_CLERK), 200)
            return view if view["status"] == status else None

        await self.eventually(lambda: case_status("in_publicity"), "the case in publicity")
        moved = await self.clock(
            "publication", {"advance_seconds": (PUBLICITY_DAYS * 24 + 1) * 3600}
        )
        self.tell(
            f"开发时钟：公示服务拨至 {moved[:16]}，公示期满", "publicity period passed (dev clock)"
        )
        await self.eventually(lambda: case_status("qualified"), "the qualification")
        self.tell("公示无异议，资格认定", "qualified: application.qualified published")
        return Family(app_id, tracking_no, id_tail, account)

    # -- allocation ------------------------------------------------------------------------

    async def allocate(self, family: Family) -> Outcome:
        alloc = self.c["allocation"]

        async def entry() -> dict[str, Any] | None:
            r = await alloc.get(f"/waiting/{family.tracking_no}", headers=OFFICER)
            return r.json() if r.status_code == 200 else None

        waiting = await self.eventually(entry, "the family in the waiting list")
        self.tell(
            f"进入轮候：{waiting['priority_group']}（{waiting['priority_reason']}）",
            "entered the waiting list with its priority group",
        )
        vacant = _check(await alloc.get("/units?status=vacant", headers=OFFICER), 200)
        if not vacant:
            raise WalkthroughError("no vacant unit: import deploy/demo/allocation_stock.csv")
        round_id, order = await self.draw_round(
            [u["id"] for u in vacant], f"演示配租批次 {family.tracking_no}", reset_clock=True
        )
        for reference in order[: order.index(family.tracking_no)]:
            await self._earlier_household(round_id, reference)
        url = f"/rounds/{round_id}/households/{family.tracking_no}"
        choices = _check(await alloc.get(f"{url}/choices", headers=family.account), 200)
        if not choices["units"]:
            raise WalkthroughError("no unit of the round fits the family")
        unit = choices["units"][0]
        self.tell(
            f"选房时段 {choices['slot']['slot_starts_at'][:16]}，可选 {len(choices['units'])} 套"
            f"（≤{choices['max_area_m2']}㎡）",
            "the family's slot and the units that fit it",
        )
        chosen = _check(
            await alloc.post(
                f"{url}/selection", json={"unit_id": unit["id"]}, headers=family.account
            ),
            201,
        )
        self.tell(f"网上选房：{unit['code']}（{unit['area_m2']}㎡）", "chose a unit online")
        contract = await self.sign_contract(chosen["id"])
        return Outcome(
            round_id,
            chosen["id"],
            unit["id"],
            unit["code"],
            contract["id"],
            contract["monthly_rent"],
            waiting["priority_group"],
        )

    async def draw_round(
        self, unit_ids: list[str], title: str, *, reset_clock: bool
    ) -> tuple[str, list[str]]:
        """A round with ``unit_ids`` from its opening to the verified draw: the round's id and
        the households' selection order. Allocation's clock is moved past the pool's objection
        period for the draw, and back afterwards when ``reset_clock``."""
        alloc = self.c["allocation"]
        opened = _check(
            await alloc.post(
                "/rounds",
                json={
                    "category": CATEGORY,
                    "title": title,
                    "unit_ids": unit_ids,
                    "quotas": [{"tier": 1, "percent": 20}],
                    "slot_minutes": 30,
                    "households_per_slot": 5,
                },
                headers=OFFICER,
            ),
            201,
        )
        round_id = opened["id"]
        self.tell(
            f"开启配租批次：{len(unit_ids)} 套房源，一级优先配额 20%",
            "round opened with the vacant units and a tier-1 quota",
        )
        _check(await alloc.post(f"/rounds/{round_id}/approve", headers=LEADER), 200)
        self.tell("领导审批（四眼原则）", "approved by a leader (four eyes)")
        frozen = _check(
            await alloc.post(f"/rounds/{round_id}/freeze", json={}, headers=OFFICER), 200
        )
        self.tell(
            f"冻结入围名单 {frozen['households']} 户，摘要 {frozen['pool_digest'][:16]}…",
            "pool frozen and its SHA-256 digest published",
        )
        committed = _check(await alloc.post(f"/rounds/{round_id}/commitment", headers=OFFICER), 200)
        self.tell(
            f"公布承诺值 {committed['commitment'][:16]}…", "commitment to the secret published"
        )
        state = _check(await alloc.get(f"/public/rounds/{round_id}"), 200)
        until = datetime.fromisoformat(state["objection_until"])
        # In a real draw: numbers drawn in public on the day (e.g. that evening's lottery).
        lucky = random.SystemRandom().randrange(1000)
        public_input = f"{until.date().isoformat()} 福彩3D {lucky:03d} {uuid.uuid4().hex[:6]}"
        try:
            await self.clock("allocation", {"set_to": (until + timedelta(minutes=1)).isoformat()})
            self.tell("开发时钟：配租服务拨过异议期", "pool objection period passed (dev clock)")
            drawn = _check(
                await alloc.post(
                    f"/rounds/{round_id}/draw", json={"public_input": public_input}, headers=NOTARY
                ),
                200,
            )
        finally:
            if reset_clock:
                await self.clock("allocation", {"reset": True})
        self.tell(
            f"公证员输入公开随机数「{public_input}」摇号，种子 {drawn['seed'][:16]}…",
            "the notary drew with a public input",
        )
        files = {}
        for name in (*verify_lottery.FILES, *verify_lottery.SELECTION_FILES):
            files[name] = (await alloc.get(f"/public/rounds/{round_id}/files/{name}")).content
        failures = verify_lottery.verify(files)
        if failures:
            raise WalkthroughError(f"the published draw does not verify: {failures}")
        self.tell("独立验证程序复现摇号结果和选房顺序", "tools/verify_lottery.py reproduces it")
        order = [line.split(",")[1] for line in files["selection.csv"].decode().split("\n")[1:-1]]
        return round_id, order

    async def sign_contract(self, allocation_id: str) -> dict[str, Any]:
        """The officer generates the contract of an allocation and records its signature."""
        alloc = self.c["allocation"]
        contract = _check(
            await alloc.post(f"/allocations/{allocation_id}/contract", headers=OFFICER), 201
        )
        self.tell(
            f"生成租赁合同：月租金 {contract['monthly_rent']} 元，{len(contract['clauses'])} 项"
            f"提前收回情形，{contract['sign_by']} 前签订",
            "contract generated from the model text",
        )
        signed = _check(await alloc.post(f"/contracts/{contract['id']}/sign", headers=OFFICER), 200)
        self.tell(f"合同签订 {signed['signed_at'][:16]}", "contract signed")
        return dict(contract)

    async def _earlier_household(self, round_id: str, reference: str) -> None:
        """A household ahead in the selection order chooses first (the first fitting unit),
        or declines when none fits."""
        alloc = self.c["allocation"]
        url = f"/rounds/{round_id}/households/{reference}/choices"
        choices = _check(await alloc.get(url, headers=OFFICER), 200)
        if not choices["slot"]["your_turn"]:
            return  # suspended or already decided meanwhile
        if choices["units"]:
            _check(
                await alloc.post(
                    f"/rounds/{round_id}/selections",
                    json={"household_reference": reference, "unit_id": choices["units"][0]["id"]},
                    headers=OFFICER,
                ),
                201,
            )
            self.tell(f"先序家庭 {reference[:6]}… 现场选房", "a household ahead chose first")
        else:
            await self.decline(round_id, reference)
            self.tell(f"先序家庭 {reference[:6]}… 无合适房源", "a household ahead had no fit")

    async def decline(self, round_id: str, reference: str) -> None:
        """The officer records that no unit of the round fits the household (it waits on)."""
        _check(
            await self.c["allocation"].post(
                f"/rounds/{round_id}/declines",
                json={"household_reference": reference},
                headers=OFFICER,
            ),
            200,
        )

    async def run(self) -> Outcome:
        try:
            family = await self.qualify_family()
            return await self.allocate(family)
        finally:
            await self.clock("publication", {"reset": True})


async def run_cli(walk: Callable[[Mapping[str, httpx.AsyncClient]], Awaitable[str]]) -> int:
    """Run a walkthrough against the running services; print its last line or the failure."""
    urls = service_urls()
    clients = {name: httpx.AsyncClient(base_url=url, timeout=30) for name, url in urls.items()}
    try:
        summary = await walk(clients)
    except (WalkthroughError, httpx.HTTPError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        for client in clients.values():
            await client.aclose()
    print(summary)
    return 0


async def _walk(clients: Mapping[str, httpx.AsyncClient]) -> str:
    outcome = await Walkthrough(clients).run()
    return (
        f"OK: 批次 {outcome.round_id}，房源 {outcome.unit_code}，合同 {outcome.contract_id}，"
        f"月租金 {outcome.monthly_rent} 元 / signed contract reached through the HTTP APIs"
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(run_cli(_walk)))
