"""Alembic per service: each service has its own database and ``services/<name>/migrations``.

The platform tables (outbox, inbox, audit log) are created by each service's first migration
through ``create_platform_tables``; the service's own tables follow in its own revisions.
"""

from __future__ import annotations

import asyncio

import asyncpg
import sqlalchemy as sa
import structlog
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from shared import (
    audit,  # importing it registers audit_log on platform_metadata
    idempotency,  # noqa: F401  (registers idempotency_keys likewise)
)
from shared.settings import REPO_ROOT
from shared.tables import platform_metadata

log = structlog.get_logger(__name__)


def alembic_config(service: str, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(REPO_ROOT / "services" / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["database_url"] = database_url
    return cfg


async def ensure_database(database_url: str) -> bool:
    """Create the service's database if it does not exist; True when it was created."""
    url = make_url(database_url)
    admin = url.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", url.database)
        if exists:
            return False
        try:
            await conn.execute(f'CREATE DATABASE "{url.database}"')
        except asyncpg.DuplicateDatabaseError:
            return False  # created by a concurrent starter
        return True
    finally:
        await conn.close()


async def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    await ensure_database(database_url)
    # Alembic's env runs its own event loop; keep it off ours.
    await asyncio.to_thread(command.upgrade, alembic_config(service, database_url), revision)
    log.info("migrated", service=service, revision=revision)


def create_platform_tables(op: object) -> None:
    """Called from a service's first revision: outbox, inbox, audit log and its guards."""
    bind = op.get_bind()  # type: ignore[attr-defined]
    platform_metadata.create_all(bind)
    for statement in audit.AUDIT_DDL:
        bind.execute(sa.text(statement))


def drop_platform_tables(op: object) -> None:
    bind = op.get_bind()  # type: ignore[attr-defined]
    for statement in audit.AUDIT_DOWNGRADE_DDL:
        bind.execute(sa.text(statement))
    platform_metadata.drop_all(bind)


def run_env(target_metadata: sa.MetaData) -> None:
    """The body of every service's ``migrations/env.py`` (online mode, async engine)."""
    cfg = context.config
    url = cfg.attributes.get("database_url") or cfg.get_main_option("sqlalchemy.url")

    def do_run(connection: sa.Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=[platform_metadata, target_metadata],
            # Serialise concurrent starters (several replicas) on one database.
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(7204301)"))
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(main())
