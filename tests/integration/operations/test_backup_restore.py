"""scripts/backup.sh and scripts/restore.sh: a backup of every service database, taken while a
service runs, restores into fresh databases with the same rows and audit chains that verify
against the heads recorded at backup time; the broker definitions are saved with the
service's queues."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from services.intake.tables import applications, materials
from shared.audit import audit_log, record
from shared.db import create_engine
from shared.migrations import upgrade
from shared.settings import REPO_ROOT, SERVICES
from shared.tables import outbox
from tests.conftest import Infra
from tests.integration.intake.conftest import application_body
from tests.services import running_service, token

pytestmark = pytest.mark.integration

BACKUP = REPO_ROOT / "scripts" / "backup.sh"
RESTORE = REPO_ROOT / "scripts" / "restore.sh"
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


async def snapshot(url: str) -> dict[str, list[tuple]]:
    """What must survive: the applications, the audit log, the outbox's events (not its
    delivery attempts, which the running relay keeps counting after the backup)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                "applications": [
                    tuple(r)
                    for r in await conn.execute(sa.select(applications).order_by(applications.c.id))
                ],
                "audit_log": [
                    tuple(r) for r in await conn.execute(sa.select(audit_log).order_by("seq"))
                ],
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


def test_backup_covers_every_service() -> None:
    listed = re.search(r"^ALL_SERVICES=\(([^)]*)\)", BACKUP.read_text(), re.MULTILINE)
    assert listed is not None
    assert tuple(listed.group(1).split()) == SERVICES


async def test_backup_of_a_running_service_restores_into_fresh_databases(
    infra: Infra, tmp_path: Path
) -> None:
    env = libpq_env(infra)
    source_prefix = f"t{infra.run_id}_bk_"
    restored_prefix = f"t{infra.run_id}_rs_"
    with_broker = infra.container_exec is None and shutil.which("rabbitmqctl") is not None
    out = tmp_path / "backup"

    # credit: migrated, with audit entries written by the audit helper.
    # Every other service database: migrated (their schemas, triggers and audit tables must
    # dump and restore too); credit also gets audit entries written by the audit helper.
    for name in SERVICES:
        if name != "intake":
            await upgrade(name, infra.owner_database(f"bk_{name}"), app_role=infra.app_role)
    credit_url = infra.database("bk_credit")
    engine = create_engine(credit_url)
    async with engine.begin() as conn:
        for n in range(3):
            await record(
                conn,
                actor="officer-1",
                action="record.drafted",
                subject_type="record",
                subject_id=f"r-{n}",
                details={"n": n},
            )
    await engine.dispose()

    async with running_service(infra, "intake", system="bk") as intake:
        portal = token("portal", org="350200", sub="portal-web")
        for _ in range(3):
            response = await intake.client.post(
                "/applications", json=application_body(), headers=portal
            )
            assert response.status_code == 201, response.text
        # An uploaded scan: a large object outside the row, which the dump must carry.
        uploaded = await intake.client.post(
            f"/applications/{response.json()['id']}/materials",
            params={"material_type": "id_card", "file_name": "身份证.pdf"},
            content=SCAN,
            headers={**portal, "Content-Type": "application/pdf"},
        )
        assert uploaded.status_code == 201, uploaded.text
        async with intake.runtime.engine.begin() as conn:
            await record(
                conn,
                actor="clerk-1",
                action="application.read",
                subject_type="application",
                subject_id="backup-test",
            )
        intake_url = intake.runtime.settings.database_url
        # Taken while the service runs (its relay and consumer are live).
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
        queue = intake.runtime.queue_spec.name
        events = intake.runtime.settings.events_exchange

    before = {"intake": await snapshot(intake_url)}
    assert len(before["intake"]["applications"]) == 3
    assert len(before["intake"]["audit_log"]) >= 1
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
    assert manifest["credit"][3].startswith("3:")
    assert manifest["review"][3] == "-"  # an empty chain has no head

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
        actions = (await conn.scalars(sa.select(audit_log.c.subject_id).order_by("seq"))).all()
    await engine.dispose()
    assert actions == ["r-0", "r-1", "r-2"]

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
