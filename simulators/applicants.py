"""Simulated applicants and street windows: households submit, a clerk accepts each one.

The load the pipeline benchmark and the fault tests put on the platform, through intake's
public API only (``POST /applications``, ``POST /applications/{id}/accept``). Each household
is generated from its number, with valid resident ID numbers unique per number, so a batch can
be sent again (the same ``Idempotency-Key``) and gives the same applications.

A call that fails on the way (connection refused while intake restarts, a 5xx during a database
restart) is retried with the same idempotency key until ``give_up_after`` seconds: what a
portal does, and what lets the fault tests check that nothing is lost and nothing doubled.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from shared.auth import issue_token
from shared.clock import now
from shared.pii import resident_id_check_char
from shared.settings import DEV_SIGNING_KEY

STREET = "350203001"  # 厦港街道, 思明区
CATEGORY = "newly_employed"  # verified by the default eight departments
# Paper originals checked at the window: acceptance with a reason (the platform lights Y1).
DECLARED_MONTHLY_INCOME = Decimal("3200.00")  # each spouse's, as declared
WINDOW_REASON = "申请人在窗口出示纸质原件，已当场核验，电子材料随后补传"


def _resident_id(region: str, born: date, serial: int) -> str:
    first17 = f"{region}{born:%Y%m%d}{serial:03d}"
    return first17 + resident_id_check_char(first17)


def couple_application(
    applicant_id: str, spouse_id: str, *, category: str, street: str, channel: str = "online"
) -> dict[str, Any]:
    """The application body of a married couple with local hukou, both earning 3,200 a month."""
    members = [
        ("张三丰", applicant_id, "applicant", "厦门某某有限公司"),
        ("李四娘", spouse_id, "spouse", None),
    ]
    return {
        "category": category,
        "street": street,
        "channel": channel,
        "mobile": "13812345678",
        "members": [
            {
                "name": name,
                "resident_id": rid,
                "relationship": relationship,
                "marital_status": "married",
                "hukou_division": street[:6],
                "residence_permit": False,
                "employer": employer,
                "declared_monthly_income": str(DECLARED_MONTHLY_INCOME),
                "declared_financial_assets": "20000.00",
                "declared_vehicle_count": 0,
                "declared_vehicle_value": "0",
            }
            for name, rid, relationship, employer in members
        ],
        "housing": {"address": "厦门市思明区某某路1号", "area_m2": "0", "tenure": "private_rental"},
        "pledge": {"version": "2026.1", "signed_at": now().isoformat()},
    }


def household(number: int) -> dict[str, Any]:
    """The application body of household ``number`` (0 <= number < 10,000,000): a couple,
    born in Siming (applicant) and Huli (spouse), so no two numbers share a person; applying
    at the street window."""
    day, serial = divmod(number, 1000)
    born = date(1960, 1, 1) + timedelta(days=day)
    return couple_application(
        _resident_id("350203", born, serial),
        _resident_id("350206", born, serial),
        category=CATEGORY,
        street=STREET,
        channel="window",
    )


def _bearer(role: str, org: str, sub: str, name: str) -> dict[str, str]:
    jwt = issue_token(sub=sub, name=name, roles=[role], org=org, key=DEV_SIGNING_KEY)
    return {"Authorization": f"Bearer {jwt}"}


PORTAL = _bearer("portal", "350200", "portal-load", "网上办事大厅")
CLERK = _bearer("street_clerk", STREET, "clerk-load", "王经办")


@dataclass(frozen=True)
class Submitted:
    number: int
    application_id: str
    tracking_no: str
    started: float  # time.time() when the household started submitting
    accepted: float  # time.time() when the receipt came back
    attempts: int  # HTTP calls made, retries included


class GaveUp(RuntimeError):
    pass


async def _post(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    give_up_after: float,
) -> tuple[dict[str, Any], int]:
    deadline = time.monotonic() + give_up_after
    attempts = 0
    while True:
        attempts += 1
        try:
            response = await client.post(url, json=body, headers=headers)
            if response.status_code in (200, 201):
                return response.json(), attempts
            if response.status_code < 500 and response.status_code != 409:
                raise GaveUp(f"{url}: {response.status_code} {response.text[:300]}")
            # 5xx, or 409 "the same key is still being processed": try again.
        except (httpx.TransportError, httpx.TimeoutException):
            pass
        if time.monotonic() > deadline:
            raise GaveUp(f"{url}: no answer within {give_up_after} s")
        await asyncio.sleep(min(0.05 * attempts, 1.0))


async def submit_and_accept(
    client: httpx.AsyncClient, number: int, *, run: str, give_up_after: float = 120.0
) -> Submitted:
    """One household submits online; the street clerk accepts it with a receipt."""
    started = time.time()
    created, tries = await _post(
        client,
        "/applications",
        household(number),
        {**PORTAL, "Idempotency-Key": f"{run}-apply-{number}"},
        give_up_after,
    )
    app_id = created["id"]
    _, more = await _post(
        client,
        f"/applications/{app_id}/accept",
        {"incomplete_reason": WINDOW_REASON},
        {**CLERK, "Idempotency-Key": f"{run}-accept-{number}"},
        give_up_after,
    )
    return Submitted(number, app_id, created["tracking_no"], started, time.time(), tries + more)


async def submit_many(
    intake_url: str,
    numbers: range,
    *,
    run: str,
    rate: float | None = None,
    concurrency: int = 64,
    give_up_after: float = 120.0,
) -> list[Submitted]:
    """Households ``numbers`` submit and are accepted: open-loop at ``rate`` per second (as
    citizens arrive whether or not the platform keeps up), or as fast as ``concurrency``
    allows when ``rate`` is None."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    t0 = time.monotonic()

    async with httpx.AsyncClient(base_url=intake_url, limits=limits, timeout=30) as client:

        async def one(k: int, number: int) -> Submitted:
            if rate:
                delay = t0 + k / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            async with gate:
                return await submit_and_accept(client, number, run=run, give_up_after=give_up_after)

        return list(await asyncio.gather(*(one(k, n) for k, n in enumerate(numbers))))
