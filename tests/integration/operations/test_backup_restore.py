"""scripts/backup.sh and scripts/restore.sh: a backup of every service database, taken while a
service runs, restores into fresh databases with the same rows and audit chains that verify
against the heads recorded at backup time; the broker definitions are saved with the
service's queues."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import uuid
from pathlib import Path

import aio_pika
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from services.alerting.tables import applications as alerting_applications
from services.allocation.tables import household_links
from services.intake.tables import applications, materials
from services.tenancy.tables import households
from shared.audit import audit_log, record
from shared.db import create_engine
from shared.migrations import upgrade
from shared.settings import REPO_ROOT, SERVICES
from shared.tables import outbox
from tests.conftest import Infra
from tests.harness import wait_for
from tests.integration.intake.conftest import application_body
from tests.services import running_service, token

pytestmark = pytest.mark.integration

BACKUP = REPO_ROOT / "scripts" / "backup.sh"
RESTORE = REPO_ROOT / "scripts" / "restore.sh"
APPLICANT = token("applicant", org="350200", sub="resident-bk")
CLERK = token("street_clerk", org="350203001", sub="clerk-bk", name="王经办")
SCAN = b"%PDF-1.4 backup scan " + bytes(range(256))


def libpq_env(infra: Infra) -> dict[str, str]:
    url = make_url(infra.database_url)
    env = {
        **os.environ,
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres",
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


async def run(*args: str | Path, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *map(str, args),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def rows(url: str, *tables: sa.Table) -> dict[str, list[tuple]]:
    """Every row of these tables, in key order."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                table.name: [
                    tuple(r)
                    for r in await conn.execute(
                        sa.select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in tables
            }
    finally:
        await engine.dispose()


async def snapshot(url: str) -> dict[str, list[tuple]]:
    """What must survive of intake: the applications, the audit log, the outbox's events (not
    their delivery attempts, which the running relay keeps counting after the backup)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                **await rows(url, applications, audit_log),
                "outbox": [
                    tuple(r)
                    for r in await conn.execute(
                        sa.select(outbox.c.seq, outbox.c.id, outbox.c.type, outbox.c.body).order_by(
                            "seq"
                        )
                    )
                ],
            }
    finally:
        await engine.dispose()


async def audit_rows(url: str) -> list[tuple]:
    return (await rows(url, audit_log))["audit_log"]


def test_backup_covers_every_service() -> None:
    listed = re.search(r"^ALL_SERVICES=\(([^)]*)\)", BACKUP.read_text(), re.MULTILINE)
    assert listed is not None
    assert tuple(listed.group(1).split()) == SERVICES


async def test_backup_of_a_running_suite_restores_into_fresh_databases(
    infra: Infra, tmp_path: Path
) -> None:
    env = libpq_env(infra)
    source_prefix = f"t{infra.run_id}_bk_"
    restored_prefix = f"t{infra.run_id}_rs_"
    with_broker = infra.container_exec is None and shutil.which("rabbitmqctl") is not None
    out = tmp_path / "backup"

    # The whole suite runs, each service on its own database, all on one broker world, and
    # three applications cross it: intake's events reach alerting, allocation and tenancy
    # (among others), which keep their own rows of them.
    async with contextlib.AsyncExitStack() as stack:
        suite = {
            name: await stack.enter_async_context(
                # Two connections each at most: eight services share the server's slots.
                running_service(infra, name, system="bk", db_pool_size=1, consumer_workers=1)
            )
            for name in SERVICES
        }
        intake = suite["intake"]
        ids = []
        for _ in range(3):
            response = await intake.client.post(
                "/applications", json=application_body(), headers=APPLICANT
            )
            assert response.status_code == 201, response.text
            ids.append(uuid.UUID(response.json()["id"]))
        # An uploaded scan: a large object outside the row, which the dump must carry.
        uploaded = await intake.client.post(
            f"/applications/{ids[-1]}/materials",
            params={"material_type": "id_card", "file_name": "身份证.pdf"},
            content=SCAN,
            headers={**APPLICANT, "Content-Type": "application/pdf"},
        )
        assert uploaded.status_code == 201, uploaded.text
        # A clerk reads an application in full: intake audits it.
        read = await intake.client.get(f"/applications/{ids[0]}", headers=CLERK)
        assert read.status_code == 200, read.text
        # And three entries through the audit module in credit's chain.
        async with suite["credit"].runtime.engine.begin() as conn:
            for n in range(3):
                entry = {"action": "record.drafted", "subject_type": "record"}
                await record(conn, actor="officer-1", subject_id=f"r-{n}", **entry)
        readers = {
            "alerting": (alerting_applications, alerting_applications.c.application_id),
            "allocation": (household_links, household_links.c.application_id),
            "tenancy": (households, households.c.application_id),
        }

        async def consumed() -> bool:
            for name, (_, column) in readers.items():
                async with suite[name].runtime.engine.connect() as conn:
                    seen = set(await conn.scalars(sa.select(column).where(column.in_(ids))))
                if seen != set(ids):
                    return False
            return True

        await wait_for(consumed, timeout=60, what="the applications reached the consumers")
        urls = {name: svc.runtime.settings.database_url for name, svc in suite.items()}
        chains_before = {name: await audit_rows(url) for name, url in urls.items()}
        read_models = {name: await rows(urls[name], table) for name, (table, _) in readers.items()}
        # Taken while every service runs (relays, consumers and sweeps live).
        code, stdout, stderr = await run(
            BACKUP,
            "--out",
            out,
            "--prefix",
            source_prefix,
            *([] if with_broker else ["--no-broker"]),
            env=env,
        )
        assert code == 0, stderr
        chains_after = {name: await audit_rows(url) for name, url in urls.items()}
        assert {
            name: await rows(urls[name], table) for name, (table, _) in readers.items()
        } == read_models
        queue = intake.runtime.queue_spec.name
        events = intake.runtime.settings.events_exchange
        intake_url = urls["intake"]

    before = {"intake": await snapshot(intake_url)}
    assert len(before["intake"]["applications"]) == 3
    action = list(audit_log.c.keys()).index("action")
    assert "personal_data.read" in {r[action] for r in before["intake"]["audit_log"]}
    assert "backup complete" in stdout

    files = sorted(p.name for p in out.iterdir())
    expected = ["MANIFEST", "SHA256SUMS", *(f"{name}.dump" for name in SERVICES)]
    if with_broker:
        expected.append("rabbitmq-definitions.json")
    assert files == sorted(expected)
    manifest = {
        line.split("\t")[0]: line.split("\t")
        for line in (out / "MANIFEST").read_text().splitlines()
        if not line.startswith("#")
    }
    intake_head = manifest["intake"][3]
    assert re.fullmatch(r"\d+:[0-9a-f]{64}", intake_head)
    assert manifest["credit"][1] == f"{source_prefix}credit"
    assert int(manifest["credit"][3].split(":")[0]) >= 3

    if with_broker:
        definitions = json.loads((out / "rabbitmq-definitions.json").read_text())
        queues = {q["name"]: q for q in definitions["queues"]}
        assert queues[queue]["arguments"]["x-queue-type"] == "quorum"
        assert f"{queue}.dead" in queues
        assert events in {e["name"] for e in definitions["exchanges"]}

    code, stdout, stderr = await run(
        RESTORE, out, "--prefix", restored_prefix, "--owner", infra.owner_role, env=env
    )
    assert code == 0, stdout + stderr
    assert f"restoring as the owner role {infra.owner_role}" in stdout
    for name in SERVICES:
        assert f"restored {name} ({source_prefix}{name}) -> {restored_prefix}{name}" in stdout
        assert f"audit chain of {restored_prefix}{name} verified" in stdout
        # The restored chain holds what was written before the backup and nothing the suite
        # wrote after it: it lies between the two readings.
        restored = await audit_rows(infra.database(f"rs_{name}"))
        assert restored[: len(chains_before[name])] == chains_before[name], name
        assert chains_after[name][: len(restored)] == restored, name
    for name, (table, _) in readers.items():
        assert await rows(infra.database(f"rs_{name}"), table) == read_models[name], name

    restored_intake = infra.database("rs_intake")
    assert await snapshot(restored_intake) == before["intake"]
    # Owned by the owner role, as migrated; no grants until the next migrate makes them.
    engine = create_engine(restored_intake)
    async with engine.connect() as conn:
        owners = (
            await conn.execute(
                sa.text(
                    "SELECT (SELECT pg_get_userbyid(datdba) FROM pg_database "
                    "WHERE datname = current_database()), array_agg(DISTINCT tableowner), "
                    "has_table_privilege(:app, 'audit_log', 'SELECT') "
                    "FROM pg_tables WHERE schemaname = 'public'"
                ),
                {"app": infra.app_role},
            )
        ).one()
    await engine.dispose()
    assert tuple(owners) == (infra.owner_role, [infra.owner_role], False)
    # The scan came back as a large object of the owner role, and the next migrate lets the
    # service's role read it.
    await upgrade("intake", infra.owner_database("rs_intake"), app_role=infra.app_role)
    engine = create_engine(infra.app_database("rs_intake"))
    async with engine.connect() as conn:
        scans = (
            await conn.execute(
                sa.select(sa.func.lo_get(materials.c.content_oid), materials.c.sha256)
            )
        ).all()
    await engine.dispose()
    assert scans == [(SCAN, hashlib.sha256(SCAN).hexdigest())]
    engine = create_engine(infra.database("rs_credit"))
    async with engine.connect() as conn:
        drafted = (
            await conn.scalars(
                sa.select(audit_log.c.subject_id)
                .where(audit_log.c.action == "record.drafted")
                .order_by("seq")
            )
        ).all()
    await engine.dispose()
    assert drafted == ["r-0", "r-1", "r-2"]

    # The restored chain verifies on its own, and against the head recorded at backup time.
    code, stdout, stderr = await run(
        sys.executable,
        "-m",
        "shared.audit",
        "verify",
        "--database-url",
        restored_intake,
        "--anchor",
        intake_head,
        env=env,
    )
    assert code == 0, stdout + stderr

    if with_broker:
        await restore_broker_definitions(infra, out, tmp_path / "broker-only", queue, env)

    # A second restore under the same names touches nothing.
    code, _, stderr = await run(RESTORE, out, "--prefix", restored_prefix, env=env)
    assert code == 1
    assert f"database {restored_prefix}intake exists: refusing to restore over it" in stderr
    # One service under a name of its own choosing.
    code, stdout, stderr = await run(
        RESTORE, out, f"credit=t{infra.run_id}_rs_credit_again", env=env
    )
    assert code == 0, stdout + stderr
    assert f"restored credit ({source_prefix}credit) -> t{infra.run_id}_rs_credit_again" in stdout
    assert "intake" not in stdout

    # A damaged backup is refused before anything is written.
    with (out / "intake.dump").open("r+b") as dump:
        dump.seek(100)
        dump.write(b"\x00\x00\x00\x00")
    code, _, stderr = await run(RESTORE, out, "--prefix", f"t{infra.run_id}_rs2_", env=env)
    assert code == 1
    assert "checksums" in stderr


async def restore_broker_definitions(
    infra: Infra, backup: Path, broker_only: Path, queue: str, env: dict[str, str]
) -> None:
    """``restore.sh --broker`` brings back the suite's exchanges, queues and bindings (which
    the suite deleted when it stopped), so that an event routes to its queue again.

    The broker is shared with other test runs, so the definitions restored are this run's
    only (its queues, exchanges and their bindings; no users, vhosts or policies): a backup
    of the whole broker imported here would bring back what other runs deleted since."""
    mine = f"{infra.prefix}."
    full = json.loads((backup / "rabbitmq-definitions.json").read_text())
    ours = {
        "queues": [q for q in full["queues"] if q["name"].startswith(mine)],
        "exchanges": [e for e in full["exchanges"] if e["name"].startswith(mine)],
        "bindings": [b for b in full["bindings"] if b["destination"].startswith(mine)],
    }
    binding = next(
        b for b in ours["bindings"] if b["destination"] == queue and "#" not in b["routing_key"]
    )
    broker_only.mkdir()
    (broker_only / "rabbitmq-definitions.json").write_text(json.dumps(ours))
    manifest = [
        line
        for line in (backup / "MANIFEST").read_text().splitlines()
        if line.startswith(("#", "created_at", "postgres", "pg_dump", "broker"))
    ]
    (broker_only / "MANIFEST").write_text("\n".join(manifest) + "\n")
    (broker_only / "SHA256SUMS").write_text(
        "".join(
            f"{hashlib.sha256((broker_only / f).read_bytes()).hexdigest()}  {f}\n"
            for f in ("MANIFEST", "rabbitmq-definitions.json")
        )
    )
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
            await channel.declare_queue(queue, passive=True)
        code, stdout, stderr = await run(RESTORE, broker_only, "--broker", env=env)
        assert code == 0, stdout + stderr
        assert "imported broker definitions" in stdout
        channel = await connection.channel(publisher_confirms=True)
        try:
            restored = await channel.declare_queue(queue, passive=True)
            assert restored.declaration_result.message_count == 0
            exchange = await channel.get_exchange(binding["source"], ensure=True)
            await exchange.publish(
                aio_pika.Message(b"{}", message_id=str(uuid.uuid4())),
                routing_key=binding["routing_key"],
                mandatory=True,
            )

            async def routed() -> bool:
                again = await channel.declare_queue(queue, passive=True)
                return again.declaration_result.message_count == 1

            await wait_for(routed, timeout=10, what="the event routed to the restored queue")
        finally:
            for q in ours["queues"]:
                await channel.queue_delete(q["name"])
    finally:
        await connection.close()
