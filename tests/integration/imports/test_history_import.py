"""Historical import (R1-R5 can happen): a migrating city's cases are loaded through intake's
and review's import endpoints and light the event rules in alerting for real."""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.alerting.tables import alerts
from services.intake.tables import applications, legacy_imports, members
from services.review.tables import legacy_signatures
from shared.legacy import legacy_application_id
from shared.tables import outbox
from tests.examples import resident_id
from tests.harness import wait_for
from tests.integration.imports.conftest import System
from tests.services import RunningService, token

STEWARD = token("data_steward", org="350200", sub="steward-1", name="数据管理员")
STREET = "350203001"
SHA = "ab" * 32
T0 = datetime(2023, 3, 6, 9, 0, tzinfo=UTC)  # a Monday, years before "now"

_serials = itertools.count(500)


def _rid() -> str:
    n = next(_serials)
    born = date(1960, 1, 1) + timedelta(days=n * 3)
    return resident_id(birth=f"{born:%Y%m%d}", serial=f"{n % 1000:03d}")


def case_no() -> str:
    return f"XM-OLD-{uuid.uuid4().hex[:10]}"


def history(no: str, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "legacy_case_no": no,
        "category": "low_income_family",
        "street": STREET,
        "channel": "window",
        "mobile": "13812345678",
        "members": [
            {
                "name": "王大海",
                "resident_id": _rid(),
                "relationship": "applicant",
                "marital_status": "unmarried",
                "hukou_division": "350203",
                "declared_monthly_income": "2100.00",
                "declared_financial_assets": "5000.00",
                "declared_vehicle_count": 0,
                "declared_vehicle_value": "0",
            }
        ],
        "housing": {"address": "厦门市思明区旧案路1号", "area_m2": "0", "tenure": "private_rental"},
        "pledge": {"version": "paper-2019", "signed_at": T0.isoformat()},
        "submitted_at": T0.isoformat(),
        "accepted_at": (T0 + timedelta(days=1)).isoformat(),
        "accepted_by": "old-clerk-7",
        "receipt_no": f"OLD-{no[-10:]}",
        "materials": [
            {
                "material_type": m,
                "file_name": f"{m}.pdf",
                "size_bytes": 1024,
                "sha256": SHA,
                "uploaded_at": T0.isoformat(),
            }
            for m in (
                "id_card",
                "household_register",
                "application_form",
                "economic_verification_authorisation",
            )
        ],
    }
    row.update(changes)
    return row


async def post_json(svc: RunningService, path: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    r = await svc.client.post(path, json={"rows": rows}, headers=STEWARD)
    assert r.status_code == 200, r.text
    return r.json()


async def lights(system: System, application_id: uuid.UUID) -> list[str]:
    async with system.alerting.runtime.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(alerts.c.rule_id).where(alerts.c.application_id == application_id)
        )
    return sorted(r.rule_id for r in rows)


async def lit(system: System, application_id: uuid.UUID, *rules: str) -> list[str]:
    async def probe() -> list[str] | None:
        got = await lights(system, application_id)
        return got if set(rules) <= set(got) else None

    return await wait_for(probe, what=f"{rules} on {application_id}")


async def test_required_materials_of_the_demo_city_are_what_the_builder_uploads(
    system: System,
) -> None:
    # The other tests rely on a complete history lighting nothing: check the premise.
    no = case_no()
    report = await post_json(system.intake, "/imports/applications", [history(no)])
    assert report["imported"] == 1, report
    app_id = legacy_application_id(no)
    async with system.intake.runtime.engine.connect() as conn:
        complete = await conn.scalar(
            sa.select(applications.c.materials_complete).where(applications.c.id == app_id)
        )
    assert complete is True


async def test_empty_receipt_lights_r1_and_empty_material_lights_r2(system: System) -> None:
    no_receipt, empty_material, clean = case_no(), case_no(), case_no()
    rows = [history(no_receipt, receipt_no=None), history(empty_material), history(clean)]
    rows[1]["materials"][2] = {**rows[1]["materials"][2], "size_bytes": 0, "sha256": None}
    report = await post_json(system.intake, "/imports/applications", rows)
    assert [r["outcome"] for r in report["report"]] == ["imported"] * 3
    assert await lit(system, legacy_application_id(no_receipt), "R1") == ["R1"]
    # The empty application form is no form: the materials are incomplete too (Y1).
    assert await lit(system, legacy_application_id(empty_material), "R2", "Y1") == ["R2", "Y1"]
    # A complete history heard after the others lights nothing.
    assert await lights(system, legacy_application_id(clean)) == []
    # Imported histories start no platform clock and open no review case.
    async with system.review.runtime.engine.connect() as conn:
        from services.review.tables import cases

        opened = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(cases)
            .where(cases.c.application_id == legacy_application_id(clean))
        )
    assert opened == 0


def sig(no: str, stage: str, level: str, unit: str, role: str, at: datetime) -> dict[str, Any]:
    return {
        "legacy_case_no": no,
        "stage": stage,
        "level": level,
        "unit": unit,
        "role": role,
        "signer": f"old-{role}",
        "signed_at": at.isoformat(),
        "opinion": "经核查户籍、收入、住房情况符合低收入家庭申请条件，同意上报。",
    }


async def test_signatures_out_of_order_light_r3_r4_r5(system: System) -> None:
    street_no, district_no, city_no, city_leader_no, ok_no = (case_no() for _ in range(5))
    for no in (street_no, district_no, city_no, city_leader_no, ok_no):
        assert (await post_json(system.intake, "/imports/applications", [history(no)]))[
            "imported"
        ] == 1
    t = T0 + timedelta(days=3)
    h = timedelta(hours=1)
    rows = [
        # street: handler signed after the reviewer (R3)
        sig(street_no, "street_initial", "street", STREET, "reviewer", t),
        sig(street_no, "street_initial", "street", STREET, "handler", t + h),
        # district: handler after reviewer (R4)
        sig(district_no, "district_review", "district", "350203", "handler", t + 2 * h),
        sig(district_no, "district_review", "district", "350203", "reviewer", t + h),
        # city: handler after reviewer (R5)
        sig(city_no, "city_review", "city", "350200", "reviewer", t),
        sig(city_no, "city_review", "city", "350200", "handler", t + h),
        # city: reviewer after the leader (R5)
        sig(city_leader_no, "city_review", "city", "350200", "handler", t),
        sig(city_leader_no, "city_review", "city", "350200", "leader", t + h),
        sig(city_leader_no, "city_review", "city", "350200", "reviewer", t + 2 * h),
        # in order: nothing
        sig(ok_no, "street_initial", "street", STREET, "handler", t),
        sig(ok_no, "street_initial", "street", STREET, "reviewer", t + h),
    ]
    report = await post_json(system.review, "/imports/signatures", rows)
    assert report["imported"] == len(rows) and report["rejected"] == 0, report
    assert await lit(system, legacy_application_id(street_no), "R3") == ["R3"]
    assert await lit(system, legacy_application_id(district_no), "R4") == ["R4"]
    assert await lit(system, legacy_application_id(city_no), "R5") == ["R5"]
    assert await lit(system, legacy_application_id(city_leader_no), "R5") == ["R5"]
    assert await lights(system, legacy_application_id(ok_no)) == []


async def _counts(system: System) -> tuple[int, int, int, int]:
    async with system.intake.runtime.engine.connect() as conn:
        apps = await conn.scalar(sa.select(sa.func.count()).select_from(applications))
        imports = await conn.scalar(sa.select(sa.func.count()).select_from(legacy_imports))
        events = await conn.scalar(sa.select(sa.func.count()).select_from(outbox))
    async with system.review.runtime.engine.connect() as conn:
        sigs = await conn.scalar(sa.select(sa.func.count()).select_from(legacy_signatures))
    return int(apps or 0), int(imports or 0), int(events or 0), int(sigs or 0)


async def test_the_same_files_twice_change_nothing(system: System) -> None:
    no = case_no()
    rows = [history(no, receipt_no=None)]
    first = await post_json(system.intake, "/imports/applications", rows)
    assert first["imported"] == 1
    signatures = [
        sig(no, "street_initial", "street", STREET, "reviewer", T0 + timedelta(days=2)),
        sig(no, "street_initial", "street", STREET, "handler", T0 + timedelta(days=3)),
    ]
    assert (await post_json(system.review, "/imports/signatures", signatures))["imported"] == 2
    await lit(system, legacy_application_id(no), "R1", "R3")
    before = await _counts(system)
    again = await post_json(system.intake, "/imports/applications", rows)
    assert again["imported"] == 0 and again["unchanged"] == 1
    assert again["report"][0]["application_id"] == str(legacy_application_id(no))
    again_sigs = await post_json(system.review, "/imports/signatures", signatures)
    assert again_sigs["unchanged"] == 2 and again_sigs["imported"] == 0
    # Audit rows are the only thing a repeated import adds (outbox counts events only).
    assert await _counts(system) == before
    assert await lights(system, legacy_application_id(no)) == ["R1", "R3"]


async def test_a_bad_row_is_named_and_stores_nothing_csv(system: System) -> None:
    good, bad = case_no(), case_no()
    good_row, bad_row = history(good), history(bad)
    bad_rid = "350203199001011234"  # wrong check digit
    bad_row["members"][0]["resident_id"] = bad_rid
    bad_row["materials"][0]["material_type"] = "no_such_material"
    columns = [
        "legacy_case_no",
        "category",
        "street",
        "mobile",
        "submitted_at",
        "accepted_at",
        "receipt_no",
        "pledge.version",
        "pledge.signed_at",
        "housing.address",
        "housing.area_m2",
        "housing.tenure",
        *(
            f"members.0.{k}"
            for k in (
                "name",
                "resident_id",
                "relationship",
                "marital_status",
                "hukou_division",
                "declared_monthly_income",
                "declared_financial_assets",
                "declared_vehicle_count",
                "declared_vehicle_value",
            )
        ),
        *(
            f"materials.{i}.{k}"
            for i in range(4)
            for k in ("material_type", "file_name", "size_bytes", "sha256", "uploaded_at")
        ),
    ]

    def flat(row: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for col in columns:
            node: Any = row
            for part in col.split("."):
                node = node[int(part)] if isinstance(node, list) else node.get(part)
            out[col] = "" if node is None else node
        return out

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerow(flat(good_row))
    writer.writerow(flat(bad_row))
    before_members = await _member_count(system)
    r = await system.intake.client.post(
        "/imports/applications",
        content=buf.getvalue().encode(),
        headers={**STEWARD, "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["imported"], report["rejected"]) == (1, 1)
    bad_out = report["report"][1]
    assert bad_out["row"] == 2 and bad_out["outcome"] == "rejected"
    assert bad_out["legacy_case_no"] == bad
    assert [e["field"] for e in bad_out["errors"]] == ["members.0.resident_id"]
    assert bad_rid not in r.text and bad_rid[:14] not in r.text
    assert await _member_count(system) == before_members + 1
    async with system.intake.runtime.engine.connect() as conn:
        stored = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(applications)
            .where(applications.c.id == legacy_application_id(bad))
        )
    assert stored == 0
    # Once the ID is right, the unknown material is the row's remaining fault.
    bad_row["members"][0]["resident_id"] = _rid()
    again = await post_json(system.intake, "/imports/applications", [bad_row])
    assert again["report"][0]["errors"] == [
        {"field": "materials.0.material_type", "detail": "未知的材料类型"}
    ]


async def _member_count(system: System) -> int:
    async with system.intake.runtime.engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(members)) or 0)


async def test_only_the_data_steward_imports(system: System) -> None:
    r = await system.intake.client.post(
        "/imports/applications",
        json={"rows": [history(case_no())]},
        headers=token("street_clerk", org=STREET),
    )
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await system.review.client.post(
        "/imports/signatures",
        content=b"not json",
        headers={**STEWARD, "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["field"] == "body"
