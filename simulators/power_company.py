"""Reference power company (供电公司) answering tenancy's monthly electricity-use requests.

``python -m simulators.power_company [options]`` polls
``GET /departments/power_company/requests`` on tenancy and answers each page with one batch
``POST /departments/power_company/readings``, authenticated as ``department:power_company``
with a development token. Use is plausible household use (about 180 kWh a month); a share of
units (``--vacant-share``) uses almost nothing every month, chosen from the unit id so that the
same units stay near zero month after month and become vacancy leads. Development only: the
token is signed with the development key unless ``HOUSING_SIMULATOR_POWER_TOKEN`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import signal
from decimal import Decimal
from typing import Any

import httpx
import structlog

from shared.auth import issue_token
from shared.logging import configure_logging
from shared.settings import DEV_SIGNING_KEY

log = structlog.get_logger("simulators.power_company")

DEPARTMENT = "power_company"
PAGE = 200


def _env(name: str, default: str) -> str:
    return os.environ.get(f"HOUSING_SIMULATOR_{name}", default)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m simulators.power_company")
    p.add_argument("--tenancy-url", default=_env("TENANCY_URL", "http://localhost:8008"))
    p.add_argument("--poll-seconds", type=float, default=float(_env("POWER_POLL_SECONDS", "30")))
    p.add_argument("--vacant-share", type=float, default=float(_env("VACANT_SHARE", "0.05")))
    p.add_argument("--once", action="store_true", help="answer what is pending, then stop")
    return p.parse_args(argv)


def _headers() -> dict[str, str]:
    jwt = os.environ.get("HOUSING_SIMULATOR_POWER_TOKEN") or issue_token(
        sub="power-company-simulator",
        name="供电公司（模拟）",
        roles=[f"department:{DEPARTMENT}"],
        org="350200",
        key=DEV_SIGNING_KEY,
    )
    return {"Authorization": f"Bearer {jwt}"}


def is_vacant(unit_id: str, share: float) -> bool:
    """The same units are vacant every month: decided by the unit id, not by chance."""
    digest = hashlib.sha256(unit_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def kwh_for(unit_id: str, share: float, rng: random.Random) -> Decimal:
    if is_vacant(unit_id, share):
        use = rng.uniform(0, 4)  # a fridge left on, standby
    else:
        use = max(25.0, rng.gauss(180, 60))
    return Decimal(f"{use:.1f}")


async def answer_pending(
    client: httpx.AsyncClient,
    share: float,
    rng: random.Random,
    headers: dict[str, str] | None = None,
) -> int:
    """Answer every pending unit-month, a page per batch; the number answered."""
    headers = headers or _headers()
    answered = 0
    while True:
        r = await client.get(
            f"/departments/{DEPARTMENT}/requests", params={"limit": PAGE}, headers=headers
        )
        r.raise_for_status()
        items: list[dict[str, Any]] = r.json()["items"]
        if not items:
            return answered
        readings = [
            {"request_id": q["request_id"], "kwh": str(kwh_for(q["unit_id"], share, rng))}
            for q in items
        ]
        r = await client.post(
            f"/departments/{DEPARTMENT}/readings", json={"readings": readings}, headers=headers
        )
        r.raise_for_status()
        answered += r.json()["recorded"]


async def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    configure_logging("power_company", "INFO", json=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    rng = random.Random()
    async with httpx.AsyncClient(base_url=args.tenancy_url, timeout=30) as client:
        while not stop.is_set():
            try:
                answered = await answer_pending(client, args.vacant_share, rng)
                if answered:
                    log.info("power_readings_answered", count=answered)
            except httpx.HTTPError as exc:
                # Tenancy not up yet, or restarting: try again at the next poll.
                log.warning("power_company_poll_failed", error=type(exc).__name__)
            if args.once:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.poll_seconds)


if __name__ == "__main__":
    asyncio.run(main())
