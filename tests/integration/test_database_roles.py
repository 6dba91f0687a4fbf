"""Least privilege in the database: a service runs as an application role that owns nothing.

The services under test connect as the run's application role (``t<run>_app``, tests/conftest)
and their migrations run as its owner role (``t<run>_owner``), as in a deployment
(docs/operations.md, "Database roles"). What that role may do is proved on the connection a
running service really uses: it reads and writes rows (the event layer, the retention purge,
the audit helper), and PostgreSQL refuses it everything else: superuser settings, DDL, switching
the audit log's triggers off, changing audit rows and signatures, touching ``alembic_version``.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.audit import record
from shared.db import create_engine
from shared.inbox import purge_retained
from shared.migrations import migrate
from shared.settings import SERVICES
from shared.tables import APPEND_ONLY, inbox, outbox, platform_metadata
from tests.conftest import Infra
from tests.examples import accepted_application
from tests.harness import event_tap, publish_and_handle, wait_for
from tests.services import RunningService, running_service

pytestmark = pytest.mark.integration

DML = ["DELETE", "INSERT", "SELECT", "UPDATE"]
APPEND = ["INSERT", "SELECT"]


@pytest.fixture(scope="module")
async def review(infra: Infra) -> AsyncIterator[RunningService]:
    async with running_service(infra, "review", system="roles") as svc:
        yield svc


async def _refused(engine: AsyncEngine, statement: str) -> str:
    """The message PostgreSQL refuses ``statement`` with (in a transaction that rolls back)."""
    async with engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError) as caught:
            await conn.exec_driver_sql(statement)
        await conn.rollback()
    cause = caught.value.orig.__cause__
    assert isinstance(cause, asyncpg.InsufficientPrivilegeError), repr(cause)
    return str(cause)


async def test_a_running_service_is_no_superuser_and_owns_nothing(
    infra: Infra, review: RunningService
) -> None:
    async with review.runtime.engine.connect() as conn:
        who = (
            await conn.execute(
                sa.text(
                    "SELECT current_user, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls "
                    "FROM pg_roles WHERE rolname = current_user"
                )
            )
        ).one()
        owned = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relowner = current_user::regrole"
            )
        )
        tables_owner = set(
            (
                await conn.execute(
                    sa.text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
                )
            ).scalars()
        )
        database_owner = await conn.scalar(
            sa.text(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            )
        )
    assert tuple(who) == (infra.app_role, False, False, False, False)
    assert owned == 0
    assert tables_owner == {infra.owner_role}
    assert database_owner == infra.owner_role


async def test_the_service_role_is_refused_ddl_and_trigger_switches(review: RunningService) -> None:
    engine = review.runtime.engine
    assert await _refused(engine, "CREATE TABLE intruder (id int)") == (
        "permission denied for schema public"
    )
    for table in ("audit_log", "review_signatures"):
        assert await _refused(engine, f"ALTER TABLE {table} DISABLE TRIGGER USER") == (
            f"must be owner of table {table}"
        )
        assert await _refused(engine, f"ALTER TABLE {table} DISABLE TRIGGER ALL") == (
            f"must be owner of table {table}"
        )
    assert await _refused(engine, "DROP TABLE audit_log") == "must be owner of table audit_log"
    assert await _refused(engine, "CREATE INDEX intruder ON outbox (type)") == (
        "must be owner of table outbox"
    )
    # The superuser's way round ordinary triggers.
    assert await _refused(engine, "SET session_replication_role = replica") == (
        'permission denied to set parameter "session_replication_role"'
    )
    assert await _refused(engine, "SELECT version_num FROM alembic_version") == (
        "permission denied for table alembic_version"
    )


async def test_audit_rows_and_signatures_can_be_added_never_changed(
    review: RunningService,
) -> None:
    engine = review.runtime.engine
    async with engine.begin() as conn:
        entry = await record(
            conn,
            actor="clerk-roles",
            action="roles.checked",
            subject_type="database",
            subject_id="review",
        )
    async with engine.connect() as conn:
        stored = await conn.scalar(
            sa.text("SELECT actor FROM audit_log WHERE seq = :seq"), {"seq": entry.seq}
        )
    assert stored == "clerk-roles"
    # Refused by the missing privilege, before the append-only trigger would be reached.
    for table in ("audit_log", "review_signatures"):
        for statement in (
            f"UPDATE {table} SET id = id",
            f"DELETE FROM {table}",
            f"TRUNCATE {table}",
        ):
            assert await _refused(engine, statement) == f"permission denied for table {table}"


async def test_the_event_layer_and_the_retention_purge_work_as_the_service_role(
    infra: Infra, review: RunningService
) -> None:
    # Consumer (inbox INSERT, the handler's writes and its outbox INSERT), relay (outbox
    # UPDATE), then the purge. The tap gives review's own events a route.
    async with event_tap(infra, review, ["review.#"]) as tap:
        [envelope] = await publish_and_handle(review, accepted_application())
        await tap.wait_for("review.case_opened")
    engine = review.runtime.engine

    async def all_sent() -> int:
        async with engine.connect() as conn:
            unsent = await conn.scalar(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            )
            sent = await conn.scalar(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_not(None))
            )
        return int(sent or 0) if unsent == 0 else 0

    published = await wait_for(all_sent, what="review's events marked sent")
    async with engine.begin() as conn:
        deleted_outbox, deleted_inbox = await purge_retained(conn, timedelta(0))
    async with engine.connect() as conn:
        left = (
            await conn.scalar(sa.select(sa.func.count()).select_from(outbox)),
            await conn.scalar(
                sa.select(sa.func.count()).select_from(inbox).where(inbox.c.event_id == envelope.id)
            ),
        )
    assert left == (0, 0)
    assert deleted_outbox == published
    assert deleted_inbox >= 1


async def _catalog(url: str, sql: str, **params: str) -> list[sa.Row]:
    """Rows of a query on the catalog of the database at ``url``."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list(await conn.execute(sa.text(sql), params))
    finally:
        await engine.dispose()


async def _privileges(url: str, role: str) -> dict[str, list[str]]:
    """Relation -> the privileges ``role`` holds on it, in ``public``."""
    rows = await _catalog(
        url,
        "SELECT c.relname, array_agg(a.privilege_type ORDER BY a.privilege_type) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "CROSS JOIN LATERAL aclexplode(c.relacl) a "
        "WHERE n.nspname = 'public' AND a.grantee = CAST(:role AS regrole) "
        "GROUP BY c.relname",
        role=role,
    )
    return {name: list(privileges) for name, privileges in rows}


async def _relations(url: str, kinds: str) -> set[str]:
    """Names of the relations in ``public`` of the kinds given (``pg_class.relkind``)."""
    rows = await _catalog(
        url,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND strpos(:kinds, c.relkind::text) > 0",
        kinds=kinds,
    )
    return {name for (name,) in rows}


@pytest.mark.parametrize("service", SERVICES)
async def test_migrate_as_owner_grants_exactly_what_the_tables_need(
    infra: Infra, service: str
) -> None:
    settings = infra.settings(
        service,
        database_url=infra.app_database(f"grants_{service}"),
        migration_database_url=infra.owner_database(f"grants_{service}"),
    )
    metadata = importlib.import_module(f"services.{service}.tables").metadata
    tables = [*platform_metadata.sorted_tables, *metadata.sorted_tables]
    expected = {t.name: APPEND if t.info.get(APPEND_ONLY) else DML for t in tables}
    superuser = infra.database(f"grants_{service}")

    await migrate(settings)
    assert await _relations(superuser, "rp") == {*expected, "alembic_version"}
    sequences = await _relations(superuser, "S")
    expected |= {name: ["USAGE"] for name in sequences}
    assert await _privileges(superuser, infra.app_role) == expected
    assert ("audit_log" in expected, expected["audit_log"]) == (True, APPEND)

    # Again (nothing to migrate): the same grants, not more.
    await migrate(settings)
    assert await _privileges(superuser, infra.app_role) == expected
