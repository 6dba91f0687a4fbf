"""Run the reference department simulators: ``python -m simulators.departments [options]``.

Broker, exchange, queue prefix and city file come from the platform's ``HOUSING_*`` settings
(``HOUSING_AMQP_URL``, ``HOUSING_VERIFICATION_EXCHANGE``, ``HOUSING_QUEUE_PREFIX``,
``HOUSING_CITY_CONFIG``); behaviour from the options or ``HOUSING_SIMULATOR_*`` variables.
The request queues are declared by the verification service: start it first (until then the
simulators retry). The process touches ``--heartbeat`` every second while every department is
connected (container health check, benchmark start).

Which departments are simulated: ``--departments`` or ``HOUSING_SIMULATED_DEPARTMENTS`` —
unset or ``all`` every department of the city file, ``none`` none, or a comma-separated list of
codes (``tax,civil_affairs``). The others are left to a real department system or a tester
consuming their queues; with ``none`` the process stays up doing nothing, so the run command
(honcho stops everything when one process exits) keeps running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog
import uvloop

from shared.city import city_config
from shared.logging import configure_logging
from shared.settings import settings_for
from simulators.departments import Behaviour, clients

log = structlog.get_logger("simulators.departments")


SELECTION_ENV_VAR = "HOUSING_SIMULATED_DEPARTMENTS"


def _env(name: str, default: str) -> str:
    return os.environ.get(f"HOUSING_SIMULATOR_{name}", default)


def simulated(selection: str, city_departments: Sequence[str]) -> list[str]:
    """The departments to simulate for ``selection`` (``all``/empty, ``none`` or a list of
    codes). An unknown code is refused rather than ignored: a typo would leave a department's
    queue without anyone answering it and stall every case at its deadline."""
    value = selection.strip().lower()
    if value in ("", "all"):
        return list(city_departments)
    if value == "none":
        return []
    chosen = list(dict.fromkeys(c.strip() for c in value.split(",") if c.strip()))
    unknown = [c for c in chosen if c not in city_departments]
    if unknown or not chosen:
        raise ValueError(
            f"{SELECTION_ENV_VAR}: unknown department(s) {', '.join(unknown) or repr(selection)}; "
            f"the city file has {', '.join(city_departments)} (or say all / none)"
        )
    return chosen


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m simulators.departments")
    p.add_argument(
        "--departments",
        # HOUSING_SIMULATOR_DEPARTMENTS is the name it had before it was documented.
        default=os.environ.get(SELECTION_ENV_VAR, _env("DEPARTMENTS", "all")),
        help=f"comma-separated codes, all or none (default: ${SELECTION_ENV_VAR} or all)",
    )
    p.add_argument("--latency-ms", type=float, default=float(_env("LATENCY_MS", "200")))
    p.add_argument("--jitter-ms", type=float, default=float(_env("JITTER_MS", "100")))
    p.add_argument("--error-rate", type=float, default=float(_env("ERROR_RATE", "0")))
    p.add_argument("--empty-rate", type=float, default=float(_env("EMPTY_RATE", "0")))
    p.add_argument("--heartbeat", default=_env("HEARTBEAT", "/tmp/departments-heartbeat"))  # noqa: S108
    return p.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    settings = settings_for("departments")
    city = city_config(settings.city_config)
    try:
        departments = simulated(args.departments, [d.code for d in city.departments])
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging("departments", settings.log_level, json=settings.log_json)
    behaviour = Behaviour(args.latency_ms, args.jitter_ms, args.error_rate, args.empty_rate)
    running = clients(
        departments,
        amqp_url=settings.amqp_url,
        exchange=settings.verification_exchange,
        queue_prefix=settings.queue_prefix,
        behaviour=behaviour,
    )
    stopped = asyncio.Event()

    def stop() -> None:
        stopped.set()
        for c in running:
            c.stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop)
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

    def running_on() -> bool:
        # With no department simulated there is no task: the process waits for its signal.
        return not all(t.done() for t in tasks) if tasks else not stopped.is_set()

    while running_on():
        if all(c.connected.is_set() for c in running):
            await asyncio.to_thread(heartbeat.touch)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), 1)
    await asyncio.gather(*tasks)
    return 0


if __name__ == "__main__":
    # uvloop: with the default loop, half the simulators' CPU was the event loop itself.
    sys.exit(uvloop.run(main()))
