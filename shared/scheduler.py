"""Periodic jobs (clock rules, deadline sweeps, expiries) that run once per tick cluster-wide.

Each tick tries a transaction-scoped advisory lock named after the job; a replica that does not
get it skips the tick, so horizontally scaled services do not run a sweep twice at once. The
sweep itself must be idempotent anyway (it runs again on the next tick).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog

if TYPE_CHECKING:
    from shared.db import UnitOfWork
    from shared.runtime import BackgroundJob, Runtime

log = structlog.get_logger(__name__)

Sweep = Callable[["UnitOfWork"], Awaitable[None]]


def lock_key(name: str) -> int:
    return zlib.crc32(f"scheduler:{name}".encode())


async def run_once(runtime: Runtime, name: str, sweep: Sweep, *, wait: bool = False) -> bool:
    """Run one tick of the job; False when another replica holds it. ``wait`` queues behind a
    tick in progress instead (the development clock: a tick that began before the clock moved
    must not stand for one after it)."""
    async with runtime.uow() as uow:
        if wait:
            await uow.conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key(name))))
        else:
            got = await uow.conn.scalar(
                sa.select(sa.func.pg_try_advisory_xact_lock(lock_key(name)))
            )
            if not got:
                return False
        await sweep(uow)
        await uow.commit()
    return True


def periodic(name: str, interval_seconds: float, sweep: Sweep) -> BackgroundJob:
    """A background job for ``ServiceDefinition.background`` running ``sweep`` every interval."""

    async def job(runtime: Runtime) -> None:
        while True:
            try:
                await run_once(runtime, name, sweep)
            except (OSError, sa.exc.SQLAlchemyError) as exc:
                log.warning("scheduled_job_failed", job=name, error=str(exc)[:300])
            await asyncio.sleep(interval_seconds)

    job.__name__ = f"periodic:{name}"
    return job


ContextSweep = Callable[[Any, "UnitOfWork"], Awaitable[None]]


def sweep_job(name: str, interval_seconds: float, sweep: ContextSweep) -> BackgroundJob:
    """``periodic`` for a sweep of ``sweeps.py``: ``sweep(ctx, uow)`` gets the service context."""

    async def job(runtime: Runtime) -> None:
        async def tick(uow: UnitOfWork) -> None:
            await sweep(runtime.context, uow)

        await periodic(name, interval_seconds, tick)(runtime)

    async def run_now(runtime: Runtime) -> None:
        async def tick(uow: UnitOfWork) -> None:
            await sweep(runtime.context, uow)

        await run_once(runtime, name, tick, wait=True)

    job.__name__ = f"periodic:{name}"
    # One tick on demand, for ``POST /_dev/clock`` (``run_sweeps_now``).
    job.run_now = run_now  # type: ignore[attr-defined]
    job.sweep_name = name  # type: ignore[attr-defined]
    return job


async def run_sweeps_now(runtime: Runtime) -> list[str]:
    """One tick of every sweep of the service, in declaration order, each waiting for a tick in
    progress; returns their names. Development only: the clock just moved."""
    names = []
    for job in runtime.definition.background:
        run_now = getattr(job, "run_now", None)
        if run_now is not None:
            for attempt in range(1, 4):
                try:
                    await run_now(runtime)
                    break
                except sa.exc.DBAPIError as exc:
                    # A consumer's transaction and the sweep took the same rows in another
                    # order and PostgreSQL rolled the sweep back: the whole tick is undone, so
                    # it is run again (the periodic job would simply try at its next tick).
                    if attempt == 3 or not _rolled_back_by_server(exc):
                        raise
                    log.info("sweep_retried", job=job.sweep_name, sqlstate=_sqlstate(exc))
            names.append(job.sweep_name)
    return names


# deadlock_detected, serialization_failure: the server chose this transaction to undo.
_RETRYABLE_SQLSTATES = {"40P01", "40001"}


def _sqlstate(exc: sa.exc.DBAPIError) -> str | None:
    for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if code:
            return str(code)
    return None


def _rolled_back_by_server(exc: sa.exc.DBAPIError) -> bool:
    return _sqlstate(exc) in _RETRYABLE_SQLSTATES
