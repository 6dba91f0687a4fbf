"""Run services in-process for integration tests: real database, real broker, real HTTP app.

``async with running_service(infra, "intake", system="s1") as svc`` migrates a database of its
own, starts the app's lifespan (relay, consumer, background jobs) and gives an httpx client.
Services started with the same ``system`` share exchanges, so they talk to each other; another
``system`` is a separate world (own databases, exchanges and queues).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from shared.app import create_app
from shared.auth import issue_token
from shared.db import create_engine
from shared.events.catalogue import DEPARTMENTS
from shared.migrations import ensure_database, grant_application_privileges, migrate
from shared.runtime import Runtime, ServiceDefinition
from shared.settings import DEV_SIGNING_KEY
from shared.tables import platform_metadata
from tests.conftest import Infra


@dataclass
class RunningService:
    name: str
    app: FastAPI
    client: httpx.AsyncClient
    # The impersonating test tools' broker login (tests/conftest.py): what tests.harness
    # publishes with when it poses as another service.
    tools_url: str

    @property
    def runtime(self) -> Runtime:
        return self.app.state.runtime


def token(
    role: str | Iterable[str], org: str = "350200", sub: str = "u-test", name: str = "测试用户"
) -> dict[str, str]:
    """Authorization header for a development token."""
    roles = [role] if isinstance(role, str) else list(role)
    jwt = issue_token(sub=sub, name=name, roles=roles, org=org, key=DEV_SIGNING_KEY)
    return {"Authorization": f"Bearer {jwt}"}


@asynccontextmanager
async def running_service(
    infra: Infra,
    name: str,
    *,
    system: str = "s",
    definition: ServiceDefinition | None = None,
    **overrides: object,
) -> AsyncIterator[RunningService]:
    prefix = f"{infra.prefix}.{system}"
    # As a deployment runs it: migrated by the owner role, serving as the application role.
    settings = infra.settings(
        name,
        database_url=infra.app_database(f"{system}_{name}"),
        migration_database_url=infra.owner_database(f"{system}_{name}"),
        events_exchange=f"{prefix}.events",
        verification_exchange=f"{prefix}.verification",
        queue_prefix=prefix,
        **overrides,
    )
    if definition is None:
        await migrate(settings)
        definition = service_bootstrap(name).definition()
    else:  # a test-only service: no migrations of its own, create its tables directly
        await create_tables(
            settings.migration_database_url,
            settings.database_role,
            [platform_metadata, definition.metadata],
        )
    app = create_app(definition, settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:
                yield RunningService(name, app, client, infra.tools_url)
    finally:
        await _delete_queues(infra.amqp_url, app.state.runtime)


async def create_tables(owner_url: str, app_role: str, metadata: list[sa.MetaData]) -> None:
    """Tables of a test-only service, without migrations: created as the owner role, then the
    application role granted what ``migrate`` would grant it."""
    await ensure_database(owner_url)
    engine = create_engine(owner_url)
    async with engine.begin() as conn:
        for md in metadata:
            await conn.run_sync(md.create_all)
        await conn.run_sync(grant_application_privileges, app_role, metadata)
    await engine.dispose()


def service_bootstrap(name: str) -> Any:
    """The service's composition root (``bootstrap.py``; ``service.py`` before the move)."""
    try:
        return importlib.import_module(f"services.{name}.bootstrap")
    except ModuleNotFoundError as exc:
        if exc.name != f"services.{name}.bootstrap":
            raise
        return importlib.import_module(f"services.{name}.service")


async def _delete_queues(amqp_url: str, runtime: Runtime) -> None:
    """Remove the service's queues as soon as it stops.

    Each quorum queue is a small replicated log on the broker; a long test run that left
    hundreds of them behind until the end weighed on the single test broker.
    """
    spec = runtime.queue_spec
    names = [spec.name, spec.dead_letter_queue]
    names += [spec.retry_queue(i) for i in range(len(spec.retry_delays_ms))]
    if runtime.settings.service == "verification":
        dept = f"{runtime.settings.queue_prefix}.dept."
        names += [f"{dept}{d}{suffix}" for d in DEPARTMENTS for suffix in ("", ".dead")]
    connection = await aio_pika.connect(amqp_url, timeout=30)
    try:
        channel = await connection.channel()
        for queue in names:
            await channel.queue_delete(queue)
    finally:
        await connection.close()
