"""Alembic per service: each service has its own database and ``services/<name>/migrations``.

Every service shares one Alembic environment (``shared/alembic_env``: ``env.py`` and the
revision template) and keeps only its revisions. Revisions are frozen DDL: they never call
``create_all`` on today's tables, so a later ``add_column`` revision cannot break a fresh
install. The platform tables (outbox, inbox, idempotency keys, audit log) are created by each
service's first revision through ``create_platform_tables``; the service's own tables follow in
its own revisions. ``tests/integration/test_migrations.py`` upgrades an empty database to head
and compares it with ``tables.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import sqlalchemy as sa
import structlog
from alembic import command, context
from alembic.config import Config
from alembic.operations import Operations
from sqlalchemy.dialects import postgresql
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
    """One environment for all (``shared/alembic_env``), the service's own revisions."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "alembic_env"))
    cfg.set_main_option(
        "version_locations", str(REPO_ROOT / "services" / service / "migrations" / "versions")
    )
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["service"] = service
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


def create_platform_tables(op: Operations) -> None:
    """Called from every service's first revision: outbox, inbox, idempotency keys, the audit
    log and its guards, as frozen DDL (a later change to them is a new platform step that every
    service's next revision calls, never an edit here)."""
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("actor_roles", sa.Text(), server_default="", nullable=False),
        sa.Column("actor_org", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("subject_type", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("prev_hash", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
        sa.UniqueConstraint("prev_hash"),
    )
    op.create_index("audit_log_actor", "audit_log", ["actor", "seq"], unique=False)
    op.create_index(
        "audit_log_subject", "audit_log", ["subject_type", "subject_id", "seq"], unique=False
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_index("idempotency_keys_created_at", "idempotency_keys", ["created_at"], unique=False)
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("exchange", sa.Text(), nullable=False),
        sa.Column("routing_key", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    op.create_index(
        "outbox_pending",
        "outbox",
        ["next_attempt_at", "seq"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    for statement in audit.AUDIT_DDL:
        op.execute(statement)


def drop_platform_tables(op: Operations) -> None:
    for statement in audit.AUDIT_DOWNGRADE_DDL:
        op.execute(statement)
    op.drop_index(
        "outbox_pending", table_name="outbox", postgresql_where=sa.text("sent_at IS NULL")
    )
    op.drop_table("outbox")
    op.drop_table("inbox")
    op.drop_index("idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("audit_log_subject", table_name="audit_log")
    op.drop_index("audit_log_actor", table_name="audit_log")
    op.drop_table("audit_log")


def add_retention_indexes(op: Operations) -> None:
    """Platform step 2 (every service's revision after its tables): indexes the retention purge
    deletes by (published outbox rows, handled inbox ids)."""
    op.create_index(
        "outbox_sent",
        "outbox",
        ["sent_at"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NOT NULL"),
    )
    op.create_index("inbox_handled_at", "inbox", ["handled_at"], unique=False)


def drop_retention_indexes(op: Operations) -> None:
    op.drop_index("inbox_handled_at", table_name="inbox")
    op.drop_index("outbox_sent", table_name="outbox")


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
