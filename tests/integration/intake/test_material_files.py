"""Uploaded files as large objects: the download round trip for whoever may read the case,
the SHA-256 check on read, the refusal of an unrelated unit, the audit record of every
download, and migration 0007 moving files out of existing rows (real PostgreSQL)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.intake.tables import materials
from shared.audit import audit_log
from shared.db import create_engine
from shared.migrations import upgrade
from shared.problems import problem_type
from tests.conftest import Infra
from tests.integration.intake.test_workflow import (
    APPLICANT,
    CLERK,
    FAR_REVIEWER,
    OTHER_STREET_CLERK,
    new_application,
)
from tests.services import RunningService, token

pytestmark = pytest.mark.integration

SCAN = b"%PDF-1.4 \xe6\x88\xb7\xe5\x8f\xa3\xe7\xb0\xbf scan " + bytes(range(256))
DISTRICT_REVIEWER = token("district_reviewer", org="350203", sub="rev-siming")
CITY_REVIEWER = token("city_reviewer", org="350200", sub="rev-city")


async def downloads(svc: RunningService, material_id: str) -> list[tuple[str, dict]]:
    async with svc.runtime.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.details)
            .where(
                audit_log.c.action == "material.downloaded",
                audit_log.c.details["material_id"].astext == material_id,
            )
            .order_by(audit_log.c.seq)
        )
        return [(r.actor, r.details) for r in rows]


async def uploaded(intake: RunningService, content: bytes = SCAN) -> tuple[str, str]:
    app = await new_application(intake)
    response = await intake.client.post(
        f"/applications/{app['id']}/materials",
        params={"material_type": "household_register", "file_name": "户口簿 第1页.pdf"},
        content=content,
        headers={**APPLICANT, "Content-Type": "application/pdf"},
    )
    assert response.status_code == 201, response.text
    return app["id"], response.json()["id"]


async def test_staff_of_the_case_download_the_file_and_each_download_is_audited(
    intake: RunningService,
) -> None:
    app_id, material_id = await uploaded(intake)
    url = f"/applications/{app_id}/materials/{material_id}"
    for who, headers in (
        ("clerk-xg", CLERK),
        ("rev-siming", DISTRICT_REVIEWER),
        ("rev-city", CITY_REVIEWER),
        ("resident-001", APPLICANT),
    ):
        response = await intake.client.get(url, headers=headers)
        assert response.status_code == 200, (who, response.text)
        assert response.content == SCAN
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"] == (
            "attachment; filename=\"household_register.pdf\"; filename*=UTF-8''"
            "%E6%88%B7%E5%8F%A3%E7%B0%BF%20%E7%AC%AC1%E9%A1%B5.pdf"
        )
        assert response.headers["cache-control"] == "no-store"
    digest = hashlib.sha256(SCAN).hexdigest()
    detail = {"material_id": material_id, "material_type": "household_register", "sha256": digest}
    assert await downloads(intake, material_id) == [
        ("clerk-xg", detail),
        ("rev-siming", detail),
        ("rev-city", detail),
        ("resident-001", detail),
    ]
    # The bytes live in a large object; the row holds only its oid and the digest.
    async with intake.runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(materials.c.content_oid, materials.c.sha256).where(
                    materials.c.id == uuid.UUID(material_id)
                )
            )
        ).one()
    assert row.sha256 == digest and row.content_oid > 0


async def test_an_unrelated_unit_is_refused_and_unknown_ids_are_problems(
    intake: RunningService,
) -> None:
    app_id, material_id = await uploaded(intake)
    url = f"/applications/{app_id}/materials/{material_id}"
    stranger = token("applicant", org="350200", sub="resident-999")
    for headers in (OTHER_STREET_CLERK, FAR_REVIEWER, stranger):
        refused = await intake.client.get(url, headers=headers)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == problem_type("forbidden")
        assert refused.json()["detail"] == "无权查看该申请"
    assert (await intake.client.get(url)).status_code == 401
    other_app, _ = await uploaded(intake, SCAN + b"other")
    for path, field in (
        (f"/applications/{app_id}/materials/{uuid.uuid4()}", "material_id"),
        # A material of another application is not found under this one.
        (f"/applications/{other_app}/materials/{material_id}", "material_id"),
        (f"/applications/{uuid.uuid4()}/materials/{material_id}", "application_id"),
    ):
        missing = await intake.client.get(path, headers=CLERK)
        assert missing.status_code == 404, missing.text
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["field"] == field
    bad = await intake.client.get(f"/applications/{app_id}/materials/not-an-id", headers=CLERK)
    assert bad.status_code == 422 and bad.json()["field"] == "material_id"
    assert await downloads(intake, material_id) == []


async def test_a_file_that_no_longer_matches_its_sha256_is_not_handed_out(
    intake: RunningService, infra: Infra
) -> None:
    app_id, material_id = await uploaded(intake, SCAN + b"tampered later")
    # Someone with database access changes one byte of the stored file.
    engine = create_engine(infra.database("intake_intake"))
    async with engine.begin() as conn:
        oid = await conn.scalar(
            sa.select(materials.c.content_oid).where(materials.c.id == uuid.UUID(material_id))
        )
        await conn.execute(
            sa.text("SELECT lo_put(:oid, 0, '\\x25'::bytea || 'X'::bytea)"), {"oid": oid}
        )
    await engine.dispose()
    response = await intake.client.get(
        f"/applications/{app_id}/materials/{material_id}", headers=CLERK
    )
    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == problem_type("material-damaged")
    assert response.json()["material_id"] == material_id
    assert b"scan" not in response.content
    assert await downloads(intake, material_id) == []


async def test_migration_0007_moves_files_out_of_the_rows(infra: Infra) -> None:
    owner_url = infra.owner_database("lo_intake")
    await upgrade("intake", owner_url, revision="0006", app_role=infra.app_role)
    app_id, scanned, imported = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    at = datetime.now(UTC)
    engine = create_engine(owner_url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO applications (id, tracking_no, city, district, street, channel, "
                "category, status, mobile, housing_address, housing_area_m2, housing_tenure, "
                "pledge_version, pledge_signed_at, submitted_at, submitted_by, updated_at) "
                "VALUES (:id, 'LO-0001', '350200', '350203', '350203001', 'online', "
                "'low_income_family', 'submitted', '13812345678', '某路1号', 0, 'private_rental', "
                "'2026.1', :at, :at, 'resident-001', :at)"
            ),
            {"id": app_id, "at": at},
        )
        for material_id, content, sha in (
            (scanned, SCAN, hashlib.sha256(SCAN).hexdigest()),
            (imported, b"", "a" * 64),  # a historical import: no file here
        ):
            await conn.execute(
                sa.text(
                    "INSERT INTO materials (id, application_id, material_type, file_name, "
                    "content_type, sha256, size_bytes, content, uploaded_by, uploaded_at) "
                    "VALUES (:id, :app, 'hukou', 'h.pdf', 'application/pdf', :sha, :size, "
                    ":content, 'resident-001', :at)"
                ),
                {
                    "id": material_id,
                    "app": app_id,
                    "sha": sha,
                    "size": len(content),
                    "content": content,
                    "at": at,
                },
            )
    await engine.dispose()

    await upgrade("intake", owner_url, app_role=infra.app_role)
    # The running service's role reads the moved file (granted at migrate).
    engine = create_engine(infra.app_database("lo_intake"))
    async with engine.connect() as conn:
        rows = {
            r.id: r.content
            for r in await conn.execute(
                sa.select(materials.c.id, sa.func.lo_get(materials.c.content_oid).label("content"))
            )
        }
        columns = await conn.scalars(
            sa.text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'materials' AND column_name LIKE 'content%' ORDER BY 1"
            )
        )
        assert list(columns) == ["content_oid", "content_type"]
    await engine.dispose()
    assert rows == {scanned: SCAN, imported: None}
