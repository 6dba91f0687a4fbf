"""Every service's migrations, run on an empty database, build exactly what ``tables.py`` says.

Revisions are frozen DDL (they never call ``create_all`` on today's tables), so nothing but this
test keeps the two in step: a column added to ``tables.py`` without a revision, or a revision
that drifts from the tables, shows up here as a named difference. Downgrade to base must leave
nothing behind, and upgrading again must work (a revision that cannot be re-applied after its
own downgrade would strand an operator mid-rollback).
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared.db import create_engine
from shared.migrations import alembic_config, upgrade
from shared.settings import SERVICES
from shared.tables import platform_metadata
from tests.conftest import Infra

pytestmark = pytest.mark.integration


async def _differences(url: str, metadata: sa.MetaData) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:

            def compare(sync_conn: sa.Connection) -> list[Any]:
                context = MigrationContext.configure(
                    sync_conn, opts={"compare_type": True, "compare_server_default": True}
                )
                return list(compare_metadata(context, [platform_metadata, metadata]))

            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


async def _tables_and_triggers(url: str) -> tuple[set[str], set[str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            tables = set(
                (
                    await conn.execute(
                        sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    )
                ).scalars()
            )
            triggers = set(
                (
                    await conn.execute(
                        sa.text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
                    )
                ).scalars()
            )
        return tables, triggers
    finally:
        await engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_upgrade_head_on_an_empty_database_matches_the_tables(
    infra: Infra, service: str
) -> None:
    # As a deployment migrates: the owner role, no superuser.
    url = infra.owner_database(f"migrations_{service}")
    await upgrade(service, url, app_role=infra.app_role)
    metadata = importlib.import_module(f"services.{service}.tables").metadata

    assert await _differences(url, metadata) == []
    tables, triggers = await _tables_and_triggers(url)
    expected = {t.name for t in (*platform_metadata.sorted_tables, *metadata.sorted_tables)}
    assert tables == expected | {"alembic_version"}
    # The audit log's append-only guards come with the platform tables in every service.
    assert {"audit_log_no_update", "audit_log_no_delete", "audit_log_no_truncate"} <= triggers

    cfg = alembic_config(service, url)
    await asyncio.to_thread(command.downgrade, cfg, "base")
    tables, triggers = await _tables_and_triggers(url)
    assert (tables, triggers) == ({"alembic_version"}, set())

    await upgrade(service, url, app_role=infra.app_role)
    assert await _differences(url, metadata) == []
