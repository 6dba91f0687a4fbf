"""Move the clock of every running service at once (development and test only).

Each service in development serves ``POST /_dev/clock``; this tool calls it on all of them so
the whole suite agrees on "now", and each one runs its sweeps at the new time before it
answers (suspensions end, stages fall overdue, lights go on). Usage::

    uv run python -m tools.dev_clock +3d          # three days later (also +2h, -30m, +90s)
    uv run python -m tools.dev_clock +1w review   # only the review service
    uv run python -m tools.dev_clock --set 2026-12-07T09:00:00+08:00   # freeze at an instant
    uv run python -m tools.dev_clock --reset      # back to real time
    uv run python -m tools.dev_clock --show       # print each service's clock, change nothing

A relative move reads each service's clock and moves it to the same target (the first
service's "now" plus the offset), so services that disagreed before agree afterwards.
Services are found at ``HOUSING_<SERVICE>_URL`` or ``http://127.0.0.1:HOUSING_<SERVICE>_PORT``
(default ports 8001 ... 8007); one that does not answer is reported and skipped. A move
backwards needs ``--`` before it (``-- -2h``), or argparse reads it as an option.
Exit status 0 when every service asked for was moved, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from shared.settings import DEFAULT_PORTS, SERVICES

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_OFFSET = re.compile(r"^([+-])(\d+(?:\.\d+)?)([smhdw])$")


def parse_offset(text: str) -> timedelta:
    """``+3d``, ``-2h``, ``+90s``, ``+1w`` as a timedelta; ValueError otherwise."""
    match = _OFFSET.match(text.strip())
    if match is None:
        raise ValueError(f"not an offset like +3d, -2h or +90s: {text!r}")
    sign, amount, unit = match.groups()
    seconds = float(amount) * _UNITS[unit]
    return timedelta(seconds=-seconds if sign == "-" else seconds)


def service_url(service: str, env: Mapping[str, str] = os.environ) -> str:
    """``HOUSING_<SERVICE>_URL``, else the local port the service listens on (``HOUSING_HOST``
    is the interface a service binds, not an address to call)."""
    prefix = f"HOUSING_{service.upper()}_"
    if url := env.get(prefix + "URL"):
        return url.rstrip("/")
    return f"http://127.0.0.1:{env.get(prefix + 'PORT') or DEFAULT_PORTS[service]}"


@dataclass
class Moved:
    service: str
    now: str | None = None
    sweeps: tuple[str, ...] = ()
    error: str | None = None


async def _post(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/_dev/clock", json=body)
    if response.status_code == 404:
        raise RuntimeError("no /_dev/clock (not running in development or test)")
    response.raise_for_status()
    return response.json()


async def move_clocks(
    clients: Mapping[str, httpx.AsyncClient],
    *,
    offset: timedelta | None = None,
    set_to: datetime | None = None,
    reset: bool = False,
    run_sweeps: bool = True,
) -> list[Moved]:
    """Move every service's clock, one after the other, each running its sweeps at the new
    time before the next is moved. ``offset`` is relative to the first service's clock."""
    results: list[Moved] = []
    target: datetime | None = None
    for service, client in clients.items():
        try:
            if offset is not None:
                current = datetime.fromisoformat(
                    (await _post(client, {"run_sweeps": False}))["now"]
                )
                if target is None:
                    target = current + offset
                body: dict[str, Any] = {
                    "advance_seconds": (target - current).total_seconds(),
                    "run_sweeps": run_sweeps,
                }
            elif set_to is not None or reset:
                body = {"set_to": set_to.isoformat() if set_to else None, "reset": reset}
                body["run_sweeps"] = run_sweeps
            else:
                body = {"run_sweeps": False}
            answer = await _post(client, body)
            results.append(Moved(service, answer["now"], tuple(answer.get("sweeps", ()))))
        except (httpx.HTTPError, RuntimeError, KeyError, ValueError) as exc:
            results.append(Moved(service, error=str(exc) or type(exc).__name__))
    return results


async def _main(args: argparse.Namespace) -> int:
    services: Sequence[str] = args.services or SERVICES
    unknown = [s for s in services if s not in DEFAULT_PORTS]
    if unknown:
        print(f"unknown service(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    clients = {
        s: httpx.AsyncClient(base_url=service_url(s), timeout=args.timeout) for s in services
    }
    try:
        results = await move_clocks(
            clients,
            offset=parse_offset(args.offset) if args.offset else None,
            set_to=datetime.fromisoformat(args.set) if args.set else None,
            reset=args.reset,
            run_sweeps=not args.no_sweeps,
        )
    finally:
        for client in clients.values():
            await client.aclose()
    for r in results:
        if r.error:
            print(f"{r.service:<13} not moved: {r.error}")
        else:
            swept = f"  swept: {', '.join(r.sweeps)}" if r.sweeps else ""
            print(f"{r.service:<13} now {r.now}{swept}")
    return 0 if all(r.error is None for r in results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.dev_clock", description="Move the clock of every running service."
    )
    parser.add_argument("offset", nargs="?", help="relative move: +3d, -2h, +30m, +90s, +1w")
    parser.add_argument("services", nargs="*", help="only these services (default: all seven)")
    parser.add_argument("--set", metavar="ISO", help="freeze every clock at this aware instant")
    parser.add_argument("--reset", action="store_true", help="back to real time")
    parser.add_argument("--show", action="store_true", help="only print each service's clock")
    parser.add_argument("--no-sweeps", action="store_true", help="do not run the sweeps")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call")
    # An offset is optional, so a service name in its place is taken as one of the services.
    args = parser.parse_args(argv)
    if args.offset and not _OFFSET.match(args.offset):
        args.services = [args.offset, *args.services]
        args.offset = None
    chosen = sum(bool(x) for x in (args.offset, args.set, args.reset, args.show))
    if chosen != 1:
        parser.error("give exactly one of an offset (+3d), --set, --reset or --show")
    if args.set:
        try:
            if datetime.fromisoformat(args.set).tzinfo is None:
                parser.error("--set needs a timezone, e.g. 2026-12-07T09:00:00+08:00")
        except ValueError:
            parser.error(f"--set: not an ISO-8601 instant: {args.set!r}")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
