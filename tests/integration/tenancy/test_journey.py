"""Arrears that age into early recovery and a credit record; a sublet found on a home visit
that goes through rectification, early recovery, court referral, inspection and move-out."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from services.tenancy import sweeps
from shared.clock import today_shanghai
from tests.harness import emitted
from tests.integration.tenancy.conftest import (
    OFFICER,
    bills,
    credit_records,
    on_day,
    open_lease,
    post,
    run,
)
from tests.services import RunningService

# The smallest valid PNG: a 1×1 transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


async def _steps(svc: RunningService, lease_id: str) -> list[tuple[str, int]]:
    return [
        (e["step"], e["arrears_months"])
        for e in await emitted(svc, "tenancy.arrears_step", lease_id)
    ]


async def test_arrears_age_into_recovery_and_a_credit_record(
    tenancy: RunningService, credit: RunningService
) -> None:
    lease = await open_lease(tenancy, starts_on=date(2026, 1, 1))
    assert lease["rent_band"] == "other"
    for month in ("2026-01", "2026-02", "2026-03"):
        assert (await post(tenancy, f"/billing/{month}")).status_code == 200

    with on_day(date(2026, 1, 26)):  # January's bill is a day overdue
        await run(tenancy, sweeps.arrears)
        await run(tenancy, sweeps.arrears)
    assert await _steps(tenancy, lease["id"]) == [("reminder", 1)]

    with on_day(date(2026, 2, 26)):
        await run(tenancy, sweeps.arrears)
    assert await _steps(tenancy, lease["id"]) == [("reminder", 1), ("reminder", 2), ("notice", 2)]
    state = (await tenancy.client.get(f"/leases/{lease['id']}", headers=OFFICER)).json()
    assert (state["arrears_months"], state["arrears_step"]) == (2, "notice")
    assert await emitted(tenancy, "tenancy.recovery_noticed", lease["id"]) == []

    with on_day(date(2026, 3, 26)):  # past the contract's limit of two months
        await run(tenancy, sweeps.arrears)
        await run(tenancy, sweeps.arrears)
    assert (await _steps(tenancy, lease["id"]))[-1] == ("reminder", 3)
    [notice] = await emitted(tenancy, "tenancy.recovery_noticed", lease["id"])
    assert (notice["kind"], notice["clause"], notice["move_out_by"]) == (
        "early_recovery",
        "rent_arrears_two_months",
        "2026-04-25",
    )
    [referral] = await emitted(tenancy, "tenancy.credit_referred", lease["id"])
    assert referral["kind"] == "tenancy_rent_arrears"
    assert referral["id_hash"] == lease["tenant_id_hash"]
    assert referral["subject_name_masked"] == "张*丰"

    [record] = await credit_records(credit, lease["tenant_id_hash"])
    assert (record["category"], record["kind"], record["stage"]) == (
        "tenancy",
        "tenancy_rent_arrears",
        "pending_approval",
    )
    assert record["origin"] == "inspection" and record["recorded_by"] == "system:tenancy"
    assert record["application_id"] == lease["application_id"]


async def test_a_sublet_found_on_a_visit_ends_in_recovery_and_the_unit_vacated(
    tenancy: RunningService, credit: RunningService
) -> None:
    lease = await open_lease(tenancy, starts_on=date(2026, 1, 1))
    lease_id = lease["id"]

    # N6: the yearly visit falls due on 2027-01-01; announced once inside the window.
    with on_day(date(2026, 12, 5)):
        await run(tenancy, sweeps.visit_reminders)
        await run(tenancy, sweeps.visit_reminders)
    [due] = await emitted(tenancy, "tenancy.visit_due", lease_id)
    assert due["due_on"] == "2027-01-01"
    r = await tenancy.client.get("/visits/due?by=2027-01-01&limit=200", headers=OFFICER)
    assert lease_id in [v["lease_id"] for v in r.json()["items"]]

    visit = {
        "visited_on": "2026-06-10",
        "visitors": ["officer-a", "网格员李*"],
        "finding": "sublet",
        "note": "现住户自称向承租人租住",
    }
    future = {**visit, "visited_on": (today_shanghai() + timedelta(days=1)).isoformat()}
    r = await post(tenancy, f"/leases/{lease_id}/visits", future)
    assert r.status_code == 422 and r.json()["field"] == "visited_on"
    r = await post(tenancy, f"/leases/{lease_id}/visits", visit)
    assert r.status_code == 201, r.text
    recorded = r.json()
    assert recorded["next_visit_due"] == "2027-06-10" and recorded["violation_id"]
    violation_id = recorded["violation_id"]

    photos = f"/visits/{recorded['id']}/photos?file_name=door.png"
    png = {**OFFICER, "Content-Type": "image/png"}
    r = await tenancy.client.post(photos, headers=png, content=PNG)
    assert r.status_code == 201, r.text
    assert (await tenancy.client.post(photos, headers=png, content=PNG)).status_code == 200
    text = {**OFFICER, "Content-Type": "text/plain"}
    assert (await tenancy.client.post(photos, headers=text, content=b"x")).status_code == 415
    big = b"\x89PNG" + bytes(tenancy.runtime.context.settings.max_photo_bytes)
    assert (await tenancy.client.post(photos, headers=png, content=big)).status_code == 413
    shown = (await tenancy.client.get(f"/visits/{recorded['id']}", headers=OFFICER)).json()
    assert (shown["photos"], shown["finding"]) == (1, "sublet")

    [opened] = await emitted(tenancy, "tenancy.violation_opened", lease_id)
    assert (opened["clause"], opened["deadline"]) == ("sublet", "2026-06-25")
    [record] = await credit_records(credit, lease["tenant_id_hash"])
    assert (record["kind"], record["severity"]) == ("tenancy_sublet", "serious")

    # Not escalated while the rectification deadline runs.
    with on_day(date(2026, 6, 25)):
        r = await post(tenancy, f"/violations/{violation_id}/escalate", {"note": "拒不整改"})
    assert r.status_code == 409 and "整改期限 2026-06-25" in r.json()["detail"]
    await run(tenancy, sweeps.rectification_deadlines)
    await run(tenancy, sweeps.rectification_deadlines)
    [overdue] = await emitted(tenancy, "tenancy.rectification_overdue", lease_id)
    assert overdue["violation_id"] == violation_id
    r = await post(
        tenancy, f"/violations/{violation_id}/escalate", {"note": "逾期未整改，依合同收回"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "escalated"
    exit_id = r.json()["exit_id"]
    [closed] = await emitted(tenancy, "tenancy.violation_closed", lease_id)
    assert closed["outcome"] == "escalated"
    again = {"kind": "voluntary", "reason": "承租人申请退租"}
    assert (await post(tenancy, f"/leases/{lease_id}/exits", again)).status_code == 409

    case = (await tenancy.client.get(f"/exits/{exit_id}", headers=OFFICER)).json()
    assert (case["status"], case["clause"], case["violation_id"]) == (
        "notice_issued",
        "sublet",
        violation_id,
    )
    move_out_by = date.fromisoformat(case["move_out_by"])
    assert move_out_by == today_shanghai() + timedelta(days=30)
    assert (await post(tenancy, f"/exits/{exit_id}/court-referral")).status_code == 409

    with on_day(move_out_by + timedelta(days=1)):  # still there after the deadline
        r = await post(tenancy, f"/exits/{exit_id}/court-referral")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "court_referred"
        assert r.json()["court_referral_no"].startswith("FY-")
        [court] = await emitted(tenancy, "tenancy.court_referred", lease_id)
        assert court["move_out_by"] == move_out_by.isoformat()

        day = today_shanghai().isoformat()
        assert (
            await post(tenancy, f"/exits/{exit_id}/move-out", {"vacated_on": day})
        ).status_code == 409
        damages = [
            {"item": "门锁损坏", "amount": "300.00"},
            {"item": "墙面污损", "amount": "120.50"},
        ]
        r = await post(
            tenancy, f"/exits/{exit_id}/inspection", {"inspected_on": day, "damages": damages}
        )
        assert r.status_code == 200, r.text
        unpaid = sum(
            (
                Decimal(b["amount"]) - Decimal(b["paid_amount"])
                for b in await bills(tenancy, lease_id)
            ),
            Decimal("0.00"),
        )
        settled = r.json()
        assert (settled["deposit"], settled["damages_total"]) == ("950.00", "420.50")
        assert Decimal(settled["arrears_total"]) == unpaid
        assert Decimal(settled["settlement"]) == Decimal("529.50") - unpaid

        r = await post(tenancy, f"/exits/{exit_id}/move-out", {"vacated_on": day})
        assert r.status_code == 200 and r.json()["status"] == "vacated", r.text
    [vacated] = await emitted(tenancy, "tenancy.unit_vacated", lease["unit_id"])
    assert vacated == {"unit_id": lease["unit_id"], "vacated_on": day, "recovered": True}
    state = (await tenancy.client.get(f"/leases/{lease_id}", headers=OFFICER)).json()
    assert (state["status"], state["ended_on"]) == ("ended", day)
    assert (await post(tenancy, f"/leases/{lease_id}/visits", visit)).status_code == 409

    public = await tenancy.client.get("/public/exits?limit=200")
    assert public.status_code == 200
    [mine] = [e for e in public.json()["items"] if e["exit_no"] == case["exit_no"]]
    assert mine == {
        "exit_no": case["exit_no"],
        "tenant": "张*丰",
        "district": "350206",
        "kind": "提前收回",
        "clause": "sublet",
        "vacated_on": day,
    }
    assert lease["household_reference"] not in public.text


async def test_a_rectified_finding_closes_and_only_sublet_lent_vacant_go_to_credit(
    tenancy: RunningService, credit: RunningService
) -> None:
    lease = await open_lease(tenancy, starts_on=date(2026, 2, 1))
    lease_id = lease["id"]
    damaged = {"visited_on": "2026-05-04", "visitors": ["officer-a"], "finding": "damaged"}
    r = await post(tenancy, f"/leases/{lease_id}/visits", damaged)
    assert r.status_code == 201, r.text
    violation_id = r.json()["violation_id"]
    r = await post(
        tenancy, f"/violations/{violation_id}/rectified", {"note": "已修复，现场复查合格"}
    )
    assert r.status_code == 200 and r.json()["status"] == "rectified", r.text
    assert (
        await post(tenancy, f"/violations/{violation_id}/rectified", {"note": "再次"})
    ).status_code == 409
    [closed] = await emitted(tenancy, "tenancy.violation_closed", lease_id)
    assert closed["outcome"] == "rectified"
    assert await emitted(tenancy, "tenancy.credit_referred", lease_id) == []

    normal = {"visited_on": "2026-06-01", "visitors": ["officer-a"], "finding": "occupied_normally"}
    r = await post(tenancy, f"/leases/{lease_id}/visits", normal)
    assert r.status_code == 201 and r.json()["violation_id"] is None
    lent = {"visited_on": "2026-07-01", "visitors": ["officer-a"], "finding": "lent"}
    assert (await post(tenancy, f"/leases/{lease_id}/visits", lent)).status_code == 201
    [referral] = await emitted(tenancy, "tenancy.credit_referred", lease_id)
    assert referral["kind"] == "tenancy_lending"
    [record] = await credit_records(credit, lease["tenant_id_hash"])
    assert (record["kind"], record["stage"]) == ("tenancy_lending", "pending_approval")
    state = (await tenancy.client.get(f"/leases/{lease_id}", headers=OFFICER)).json()
    assert state["next_visit_due"] == "2027-07-01"
