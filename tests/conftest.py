"""Test infrastructure: real PostgreSQL and RabbitMQ, isolated per test run.

A Docker engine that answers gets testcontainers; otherwise the local services named by
``TEST_DATABASE_URL`` / ``TEST_AMQP_URL`` (defaults match a machine running both locally).
Every run gets its own databases (``t<run>_<name>``) and its own exchange and queue names
(prefix ``t<run>``), and removes them at the end. It also gets its own pair of database roles,
as a deployment has (docs/operations.md, "Database roles"): ``t<run>_owner`` migrates and owns
the tables, ``t<run>_app`` is what the services under test connect as (no superuser, owns
nothing). ``Infra.database`` stays the superuser's URL, for tests that set up or tamper.

On the broker each service logs in as its own account (``housing_<service>``, the development
accounts of deploy/rabbitmq/service_users.sh, created here when missing), so RabbitMQ checks
the ``user_id`` of everything the services publish, as in a deployment. Test tools that pose
as a producer (``tests.harness.publish``, the fault injectors) use the run's own
``t<run>_tools`` user, which has RabbitMQ's ``impersonator`` tag and may stamp any account;
``Infra.amqp_url`` (guest) stamps none and so counts as a stranger to every consumer.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aio_pika
import asyncpg
import pytest
from sqlalchemy.engine import make_url

from shared.settings import SERVICES, ServiceSettings, settings_for

# Services default to production mode (which refuses the development keys); the tests are a
# test installation. A test of the default itself removes the variable.
os.environ.setdefault("HOUSING_ENVIRONMENT", "test")

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
# The services' broker accounts in tests: the development default of broker_user_template.
ACCOUNT_TEMPLATE = "housing_{service}"


def rabbitmqctl() -> list[str]:
    """``rabbitmqctl`` aimed at the node under test: ``TEST_RABBITMQ_NODE`` names it when
    the tests run against a node of their own (``TEST_AMQP_URL`` on another port), so a
    forced close never hits the broker other test runs share."""
    node = os.environ.get("TEST_RABBITMQ_NODE")
    return ["rabbitmqctl", "-n", node] if node else ["rabbitmqctl"]


def _docker_engine_answers() -> bool:
    if os.environ.get("TEST_DATABASE_URL") or os.environ.get("TEST_AMQP_URL"):
        return False
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@dataclass
class Infra:
    database_url: str  # a superuser's, any database on the server; tests derive their own names
    amqp_url: str
    run_id: str
    container_exec: Callable[[list[str]], None] | None = None
    # Of both run roles; a server with trust authentication (these machines) ignores it.
    role_password: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def owner_role(self) -> str:
        return f"t{self.run_id}_owner"

    @property
    def app_role(self) -> str:
        return f"t{self.run_id}_app"

    def database(self, name: str, *, role: str | None = None) -> str:
        """The URL of the run's database ``name``: as the superuser, or as ``role``."""
        url = make_url(self.database_url).set(database=f"t{self.run_id}_{name}")
        if role is not None:
            url = url.set(username=role, password=self.role_password)
        return url.render_as_string(hide_password=False)

    def owner_database(self, name: str) -> str:
        return self.database(name, role=self.owner_role)

    def app_database(self, name: str) -> str:
        return self.database(name, role=self.app_role)

    @property
    def prefix(self) -> str:
        return f"t{self.run_id}"

    def rabbitmqctl(self, *args: str) -> str:
        """Run ``rabbitmqctl`` on the broker under test; what it printed."""
        cmd = [*rabbitmqctl(), *args]
        if self.container_exec is not None:
            self.container_exec(cmd)
            return ""
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout

    def close_broker_connections(self) -> None:
        """Force-close every client connection on the broker, as an outage would."""
        self.rabbitmqctl("close_all_connections", "test: forced close")

    def broker_url(self, user: str, password: str) -> str:
        """``amqp_url`` logging in as ``user`` instead."""
        rest = self.amqp_url.split("@", 1)[1]
        return f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{rest}"

    def account_url(self, service: str) -> str:
        """How ``service`` logs in: its development account (the password is its name)."""
        account = ACCOUNT_TEMPLATE.format(service=service)
        return self.broker_url(account, account)

    @property
    def tools_user(self) -> str:
        return f"t{self.run_id}_tools"

    @property
    def tools_url(self) -> str:
        """The impersonating test tools' login (see the module docstring)."""
        return self.broker_url(self.tools_user, self.role_password)

    def create_broker_users(self) -> None:
        existing = set(self.rabbitmqctl("-q", "list_users", "--no-table-headers").split())
        for service in SERVICES:
            account = ACCOUNT_TEMPLATE.format(service=service)
            if account not in existing:
                self.rabbitmqctl("add_user", account, account)
                self.rabbitmqctl("set_permissions", "-p", "/", account, ".*", ".*", ".*")
        self.rabbitmqctl("add_user", self.tools_user, self.role_password)
        self.rabbitmqctl("set_user_tags", self.tools_user, "impersonator")
        self.rabbitmqctl("set_permissions", "-p", "/", self.tools_user, ".*", ".*", ".*")

    def settings(self, service: str, **overrides: object) -> ServiceSettings:
        values: dict[str, object] = {
            "environment": "test",
            "database_url": self.app_database(service),
            "migration_database_url": self.owner_database(service),
            # A test-only service (an event-layer probe) has no account: it logs in as guest,
            # and its made-up event types have no producer to check.
            "amqp_url": self.account_url(service) if service in SERVICES else self.amqp_url,
            "events_exchange": f"{self.prefix}.events",
            "verification_exchange": f"{self.prefix}.verification",
            "queue_prefix": self.prefix,
            "retry_delays_ms": [100, 300],
            "outbox_poll_seconds": 0.2,
            # Signed once at start (an empty chain: nothing); a test signs when it means to,
            # so no checkpoint event turns up in the middle of another test's counts.
            "audit_checkpoint_seconds": 3600.0,
            "log_json": True,
        }
        values.update(overrides)
        return settings_for(service, **values)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    run_id = secrets.token_hex(4)
    if _docker_engine_answers():
        from testcontainers.postgres import PostgresContainer
        from testcontainers.rabbitmq import RabbitMqContainer

        with (
            PostgresContainer("postgres:15", driver="asyncpg") as pg,
            RabbitMqContainer("rabbitmq:3.13") as mq,
        ):
            params = mq.get_connection_params()
            amqp = f"amqp://guest:guest@{params.host}:{params.port}/"

            def container_exec(cmd: list[str]) -> None:
                mq.exec(cmd)

            infra = Infra(pg.get_connection_url(), amqp, run_id, container_exec)
            _in_thread(_create_roles(infra))
            infra.create_broker_users()
            yield infra
        return
    infra = Infra(
        os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE_URL),
        os.environ.get("TEST_AMQP_URL", DEFAULT_AMQP_URL),
        run_id,
    )
    _in_thread(_create_roles(infra))
    infra.create_broker_users()
    yield infra
    _cleanup_local(infra)


def _in_thread(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` in a thread of its own: the session's event loop must not be disturbed."""
    import asyncio

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work).result()


async def _admin(infra: Infra) -> asyncpg.Connection:
    admin = make_url(infra.database_url).set(drivername="postgresql", database="postgres")
    return await asyncpg.connect(admin.render_as_string(hide_password=False))


async def _create_roles(infra: Infra) -> None:
    # The run's own names: nothing another run (or make run's housing_owner / housing_app)
    # connects as is created, altered or dropped here.
    conn = await _admin(infra)
    try:
        password = infra.role_password
        await conn.execute(
            f'CREATE ROLE "{infra.owner_role}" LOGIN NOSUPERUSER CREATEDB NOCREATEROLE '
            f"NOREPLICATION NOBYPASSRLS PASSWORD '{password}'"
        )
        await conn.execute(
            f'CREATE ROLE "{infra.app_role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE '
            f"NOREPLICATION NOBYPASSRLS NOINHERIT PASSWORD '{password}'"
        )
    finally:
        await conn.close()


def _cleanup_local(infra: Infra) -> None:
    async def drop_databases() -> None:
        conn = await _admin(infra)
        try:
            names = await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", f"t{infra.run_id}_%"
            )
            for row in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
            # Their objects and grants went with the databases.
            await conn.execute(f'DROP ROLE IF EXISTS "{infra.app_role}"')
            await conn.execute(f'DROP ROLE IF EXISTS "{infra.owner_role}"')
        finally:
            await conn.close()

    async def drop_broker_objects() -> None:
        connection = await aio_pika.connect(infra.amqp_url, timeout=30)
        try:
            channel = await connection.channel()
            for name in _list_broker_objects("queues", infra.prefix):
                await channel.queue_delete(name)
            for name in _list_broker_objects("exchanges", infra.prefix):
                await channel.exchange_delete(name)
        finally:
            await connection.close()

    _in_thread(drop_databases())
    _in_thread(drop_broker_objects())
    with contextlib.suppress(subprocess.CalledProcessError):
        infra.rabbitmqctl("-q", "delete_user", infra.tools_user)


def _list_broker_objects(kind: str, prefix: str) -> list[str]:
    done = subprocess.run(
        [*rabbitmqctl(), "-q", f"list_{kind}", "name"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return [
        line.strip() for line in done.stdout.splitlines() if line.strip().startswith(f"{prefix}.")
    ]


@pytest.fixture
async def broker_connection(infra: Infra) -> AsyncIterator[aio_pika.abc.AbstractConnection]:
    connection = await aio_pika.connect(infra.amqp_url, timeout=30)
    yield connection
    await connection.close()
