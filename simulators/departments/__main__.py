"""Run the reference department simulators: ``python -m simulators.departments [options]``.

Broker, exchange, queue prefix and city file come from the platform's ``HOUSING_*`` settings
(``HOUSING_AMQP_URL``, ``HOUSING_VERIFICATION_EXCHANGE``, ``HOUSING_QUEUE_PREFIX``,
``HOUSING_CITY_CONFIG``); behaviour from the options or ``HOUSING_SIMULATOR_*`` variables.
The request queues are declared by the verification service: start it first (until then the
simulators retry). The process touches ``--heartbeat`` every second while every department is
connected (container health check, benchmark start).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from pathlib import Path

import structlog
import uvloop

from shared.city import city_config
from shared.logging import configure_logging
from shared.settings import settings_for
from simulators.departments import Behaviour, clients

log = structlog.get_logger("simulators.departments")


def _env(name: str, default: str) -> str:
    return os.environ.get(f"HOUSING_SIMULATOR_{name}", default)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m simulators.departments")
    p.add_argument(
        "--departments",
        default=_env("DEPARTMENTS", ""),
        help="comma-separated codes; default: every department of the city file",
    )
    p.add_argument("--latency-ms", type=float, default=float(_env("LATENCY_MS", "200")))
    p.add_argument("--jitter-ms", type=float, default=float(_env("JITTER_MS", "100")))
    p.add_argument("--error-rate", type=float, default=float(_env("ERROR_RATE", "0")))
    p.add_argument("--empty-rate", type=float, default=float(_env("EMPTY_RATE", "0")))
    p.add_argument("--heartbeat", default=_env("HEARTBEAT", "/tmp/departments-heartbeat"))  # noqa: S108
    return p.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    settings = settings_for("departments")
    configure_logging("departments", settings.log_level, json=settings.log_json)
    city = city_config(settings.city_config)
    departments = [d for d in args.departments.split(",") if d] or [
        d.code for d in city.departments
    ]
    behaviour = Behaviour(args.latency_ms, args.jitter_ms, args.error_rate, args.empty_rate)
    running = clients(
        departments,
        amqp_url=settings.amqp_url,
        exchange=settings.verification_exchange,
        queue_prefix=settings.queue_prefix,
        behaviour=behaviour,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, lambda: [c.stop() for c in running])
    log.info(
        "department_simulators_starting",
        departments=departments,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        error_rate=args.error_rate,
        empty_rate=args.empty_rate,
    )
    tasks = [asyncio.create_task(c.run(), name=c.department) for c in running]
    heartbeat = Path(args.heartbeat)
    while not all(t.done() for t in tasks):
        if all(c.connected.is_set() for c in running):
            await asyncio.to_thread(heartbeat.touch)
        await asyncio.sleep(1)
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    # uvloop: with the default loop, half the simulators' CPU was the event loop itself.
    uvloop.run(main())
