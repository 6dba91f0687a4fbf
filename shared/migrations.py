"""Alembic per service: each service has its own database and ``services/<name>/migrations``.

Every service shares one Alembic environment (``shared/alembic_env``: ``env.py`` and the
revision template) and keeps only its revisions. Revisions are frozen DDL: they never call
``create_all`` on today's tables, so a later ``add_column`` revision cannot break a fresh
install. The platform tables (outbox, inbox, idempotency keys, audit log) are created by each
service's first revision through ``create_platform_tables``; the service's own tables follow in
its own revisions. ``tests/integration/test_migrations.py`` upgrades an empty database to head
and compares it with ``tables.py``.

Migrations run as the database's owner role; the services connect as an application role that
owns nothing. At the end of every migration run, in the migration's own transaction,
:func:`grant_application_privileges` gives that role exactly the row privileges today's code
needs (docs/operations.md, "Database roles").
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
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
from shared.audit import checkpoint  # noqa: F401  (registers audit_checkpoints likewise)
from shared.settings import REPO_ROOT, ServiceSettings
from shared.tables import APPEND_ONLY, platform_metadata

log = structlog.get_logger(__name__)


def alembic_config(service: str, database_url: str, app_role: str | None = None) -> Config:
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
    cfg.attributes["app_role"] = app_role
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


async def upgrade(
    service: str, database_url: str, revision: str = "head", *, app_role: str | None = None
) -> None:
    """Migrate as the role of ``database_url`` (the owner), then grant ``app_role`` its
    privileges (none granted without one, or when it is the owner itself)."""
    await ensure_database(database_url)
    cfg = alembic_config(service, database_url, app_role)
    # Alembic's env runs its own event loop; keep it off ours.
    await asyncio.to_thread(command.upgrade, cfg, revision)
    log.info("migrated", service=service, revision=revision, app_role=app_role)


async def migrate(settings: ServiceSettings) -> None:
    """The ``migrate`` command: the service's database to head, as the migration role."""
    await upgrade(
        settings.service, settings.migration_database_url, app_role=settings.database_role
    )


def grant_application_privileges(
    connection: sa.Connection, app_role: str, metadata: Iterable[sa.MetaData]
) -> None:
    """Give ``app_role`` what the services need on the tables of ``public``, nothing else.

    Rows only: SELECT, INSERT, UPDATE and DELETE on every table, except SELECT and INSERT on
    the tables whose ``info`` says ``append_only`` (the audit log, review's signatures: a
    trigger refuses their change anyway, now the privilege is missing too); USAGE on the
    sequences. No TRUNCATE, REFERENCES or TRIGGER, no CREATE on the schema and no access to
    ``alembic_version``; SELECT on the large objects the owner holds (intake's files after a
    migration or a restore). Everything is revoked first, so the grants follow today's code (a
    table that became append-only loses UPDATE at the next run). Runs as the owner of the
    tables (only an owner or a superuser may grant on them); a no-op when ``app_role`` is that
    role itself, as in a single-account development setup.
    """
    owner = connection.execute(sa.text("SELECT current_user")).scalar_one()
    if app_role == owner:
        log.warning("no application role: the service connects as the owner", role=owner)
        return
    role = connection.dialect.identifier_preparer.quote(app_role)
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
        f"REVOKE CREATE ON SCHEMA public FROM {role}",
        # PostgreSQL < 15 lets every role create in public; 15 no longer does (a no-op there).
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]
    present = set(sa.inspect(connection).get_table_names(schema="public"))
    if "alembic_version" in present:
        statements.append(f"REVOKE ALL ON alembic_version FROM {role}")
    append_only = sorted(
        {
            table.name
            for md in metadata
            for table in md.tables.values()
            if table.info.get(APPEND_ONLY) and table.name in present
        }
    )
    statements += [f"REVOKE UPDATE, DELETE ON {name} FROM {role}" for name in append_only]
    # Large objects (intake's uploaded files) carry their own privileges, and there is no
    # "ALL LARGE OBJECTS": those this role owns (written by a migration, or by a restore) are
    # granted one by one, read-only. Those the running service wrote are the app role's own.
    large_objects = connection.execute(
        sa.text(
            "SELECT oid FROM pg_largeobject_metadata WHERE lomowner = "
            "(SELECT oid FROM pg_roles WHERE rolname = current_user) ORDER BY oid"
        )
    ).scalars()
    oids = [str(int(oid)) for oid in large_objects]
    for start in range(0, len(oids), 1000):
        statements.append(
            f"GRANT SELECT ON LARGE OBJECT {', '.join(oids[start : start + 1000])} TO {role}"
        )
    for statement in statements:
        connection.exec_driver_sql(statement)
    log.info("granted", app_role=app_role, append_only=append_only, large_objects=len(oids))


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


def add_audit_checkpoints(op: Operations) -> None:
    """Platform step 3: the checkpoints of the audit chain this service signed
    (``shared.audit.checkpoint.audit_checkpoints``)."""
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("head_hash", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )


def drop_audit_checkpoints(op: Operations) -> None:
    op.drop_table("audit_checkpoints")


def run_env(target_metadata: sa.MetaData) -> None:
    """The body of every service's ``migrations/env.py`` (online mode, async engine)."""
    cfg = context.config
    url = cfg.attributes.get("database_url") or cfg.get_main_option("sqlalchemy.url")
    app_role = cfg.attributes.get("app_role")

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
            # In the migration's transaction: a new table is never visible without its grants.
            if app_role:
                grant_application_privileges(
                    connection, app_role, [platform_metadata, target_metadata]
                )

    async def main() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(main())
