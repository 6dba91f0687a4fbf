"""The annual re-review (年度复核) between tenancy and verification on the real broker and
database: the campaign requests every active lease through the outbox; verification's
answers (published here as verification would) change the band from the next bill, lead a
failing household through graded exit to the recovery notice, leave a null verdict to an
officer; a household that does not cooperate is a violation; N5 goes before the deadline."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from services.tenancy import sweeps
from shared.events.catalogue import VerificationRereviewCompleted
from tests.harness import emitted, publish_and_handle
from tests.integration.tenancy.conftest import OFFICER, bills, on_day, open_lease, post, run
from tests.services import RunningService


def _completed(
    lease: dict[str, Any],
    campaign: int,
    *,
    found: bool = True,
    meets: bool | None = True,
    band: str | None = None,
) -> VerificationRereviewCompleted:
    return VerificationRereviewCompleted(
        lease_id=uuid.UUID(lease["id"]),
        application_id=uuid.UUID(lease["application_id"]),
        campaign=campaign,
        case_id=uuid.uuid4() if found else None,
        household_found=found,
        completed_at=datetime(campaign, 3, 1, 2, tzinfo=UTC),
        income_band=band if found else None,  # type: ignore[arg-type]
        meets_continuation=meets if found else None,
    )


async def _rereview(svc: RunningService, year: int, lease_id: str) -> dict[str, Any]:
    r = await svc.client.get(f"/rereviews/{year}?limit=200", headers=OFFICER)
    assert r.status_code == 200, r.text
    [row] = [x for x in r.json()["items"] if x["lease_id"] == lease_id]
    return row


async def _requests(svc: RunningService, lease_id: str) -> list[dict[str, Any]]:
    return await emitted(svc, "tenancy.rereview_requested", lease_id)


async def test_an_income_rise_changes_the_band_from_the_next_bill(
    tenancy: RunningService,
) -> None:
    lease = await open_lease(tenancy, starts_on=date(2025, 6, 1), assistance="low_income")
    assert lease["rent_band"] == "low_income"
    with on_day(date(2026, 3, 10)):
        assert (await post(tenancy, "/billing/2026-03")).status_code == 200
        r = await post(tenancy, "/campaigns/2026")
        assert r.status_code == 200, r.text
        assert r.json()["deadline"] == "2026-05-09" and r.json()["requested"] >= 1
        # Recorded again: the same leases, nothing requested twice.
        again = await post(tenancy, "/campaigns/2026")
        assert again.json() == r.json()
    [request] = await _requests(tenancy, lease["id"])
    assert request == {
        "lease_id": lease["id"],
        "application_id": lease["application_id"],
        "household_reference": lease["household_reference"],
        "campaign": 2026,
        "deadline": "2026-05-09",
        "requested_at": request["requested_at"],
    }
    assert (await _rereview(tenancy, 2026, lease["id"]))["status"] == "requested"

    with on_day(date(2026, 3, 20)):
        verdict = _completed(lease, 2026, band="other")
        await publish_and_handle(tenancy, verdict, producer="verification")
        # The same verdict redelivered as a new message changes nothing more.
        await publish_and_handle(tenancy, verdict, producer="verification")
        assert (await post(tenancy, "/billing/2026-04")).status_code == 200
    march, april = await bills(tenancy, lease["id"])
    assert (march["rent_band"], march["amount"]) == ("low_income", "237.50")
    assert (april["rent_band"], april["factor"], april["amount"]) == ("other", "1.00", "475.00")
    [changed] = await emitted(tenancy, "tenancy.rent_band_changed", lease["id"])
    assert (changed["from_band"], changed["to_band"], changed["effective_month"]) == (
        "low_income",
        "other",
        "2026-04-01",
    )
    row = await _rereview(tenancy, 2026, lease["id"])
    assert (row["status"], row["rent_band"], row["income_band"]) == (
        "band_changed",
        "other",
        "other",
    )
    [concluded] = await emitted(tenancy, "tenancy.rereview_concluded", lease["id"])
    assert concluded["outcome"] == "band_changed"

    r = await tenancy.client.get("/public/rereviews/2026?limit=200")
    assert r.status_code == 200, r.text
    published = r.json()["items"]
    assert {
        "tenant": "张*丰",
        "district": "350206",
        "outcome": "调整租金档",
        "rent_band": "other",
    } in (published)
    assert lease["household_reference"] not in r.text and "3502**" not in r.text


async def test_a_failing_household_goes_through_graded_exit_to_the_recovery_notice(
    tenancy: RunningService,
) -> None:
    lease = await open_lease(tenancy, starts_on=date(2025, 5, 1))
    assert lease["rent_band"] == "other"
    with on_day(date(2029, 3, 5)):
        assert (await post(tenancy, "/billing/2029-03")).status_code == 200
        assert (await post(tenancy, "/campaigns/2029")).status_code == 200
        await publish_and_handle(
            tenancy, _completed(lease, 2029, meets=False, band="other"), producer="verification"
        )
        assert (await post(tenancy, "/billing/2029-04")).status_code == 200
    row = await _rereview(tenancy, 2029, lease["id"])
    # Market rent from the next unbilled month for the six transition months, then the notice.
    assert (row["status"], row["rent_band"], row["exit_on"]) == (
        "graded_exit",
        "market",
        "2029-10-01",
    )
    april = (await bills(tenancy, lease["id"]))[-1]
    assert (april["month"], april["factor"], april["amount"]) == ("2029-04-01", "1.50", "712.50")

    with on_day(date(2029, 9, 30)):
        await run(tenancy, sweeps.graded_exits)
    assert await emitted(tenancy, "tenancy.recovery_noticed", lease["id"]) == []
    with on_day(date(2029, 10, 1)):
        await run(tenancy, sweeps.graded_exits)
        await run(tenancy, sweeps.graded_exits)
    [notice] = await emitted(tenancy, "tenancy.recovery_noticed", lease["id"])
    assert (notice["kind"], notice["clause"], notice["move_out_by"]) == (
        "early_recovery",
        "income_exceeded",
        "2029-10-31",
    )
    row = await _rereview(tenancy, 2029, lease["id"])
    assert (row["status"], row["exit_id"]) == ("exit_noticed", notice["exit_id"])

    # The existing exit procedure: inspection, move-out, the unit back to allocation.
    exit_id = notice["exit_id"]
    with on_day(date(2029, 10, 20)):
        r = await post(tenancy, f"/exits/{exit_id}/inspection", {"inspected_on": "2029-10-20"})
        assert r.status_code == 200, r.text
        r = await post(tenancy, f"/exits/{exit_id}/move-out", {"vacated_on": "2029-10-20"})
        assert r.status_code == 200 and r.json()["status"] == "vacated", r.text
    [vacated] = await emitted(tenancy, "tenancy.unit_vacated", lease["unit_id"])
    assert (vacated["vacated_on"], vacated["recovered"]) == ("2029-10-20", True)


async def test_non_cooperation_is_a_violation_and_a_null_verdict_awaits_an_officer(
    tenancy: RunningService,
) -> None:
    absent = await open_lease(tenancy, starts_on=date(2026, 2, 1))
    silent = await open_lease(tenancy, starts_on=date(2026, 2, 1))
    unsure = await open_lease(tenancy, starts_on=date(2026, 2, 1))
    with on_day(date(2028, 1, 5)):
        r = await post(tenancy, "/campaigns/2028")
        assert r.status_code == 200 and r.json()["deadline"] == "2028-03-05", r.text
        # Verification holds no household for the first: it did not cooperate.
        await publish_and_handle(
            tenancy, _completed(absent, 2028, found=False), producer="verification"
        )
        await publish_and_handle(
            tenancy, _completed(unsure, 2028, meets=None, band=None), producer="verification"
        )
    [opened] = await emitted(tenancy, "tenancy.violation_opened", absent["id"])
    assert (opened["finding"], opened["clause"], opened["deadline"]) == (
        "rereview_not_cooperated",
        "failed_annual_review",
        "2028-01-20",
    )
    r = await tenancy.client.get(f"/violations?lease_id={absent['id']}", headers=OFFICER)
    [violation] = r.json()["items"]
    assert (violation["visit_id"], violation["status"]) == (None, "open")
    assert (await _rereview(tenancy, 2028, absent["id"]))["violation_id"] == violation["id"]
    pending = await tenancy.client.get("/rereviews/2028?status=officer_decides", headers=OFFICER)
    assert [x["lease_id"] for x in pending.json()["items"]] == [unsure["id"]]
    assert (await bills(tenancy, unsure["id"])) == [] and (
        await emitted(tenancy, "tenancy.rent_band_changed", unsure["id"])
    ) == []
    # The officer decides on the lease: the re-review is concluded with that decision.
    with on_day(date(2028, 1, 10)):
        r = await post(
            tenancy,
            f"/leases/{unsure['id']}/rent-band",
            {"rent_band": "low_income", "reason": "复核部门数据不全，经入户核实为低收入家庭"},
        )
        assert r.status_code == 200, r.text
    pending = await tenancy.client.get("/rereviews/2028?status=officer_decides", headers=OFFICER)
    assert pending.json()["items"] == []
    row = await _rereview(tenancy, 2028, unsure["id"])
    assert (row["status"], row["rent_band"]) == ("band_changed", "low_income")

    # N5: fourteen days before the deadline, once; nothing for the concluded ones.
    with on_day(date(2028, 2, 19)):
        await run(tenancy, sweeps.rereview_reminders)
    assert await emitted(tenancy, "tenancy.rereview_due", silent["id"]) == []
    with on_day(date(2028, 2, 20)):
        await run(tenancy, sweeps.rereview_reminders)
        await run(tenancy, sweeps.rereview_reminders)
    [due] = await emitted(tenancy, "tenancy.rereview_due", silent["id"])
    assert (due["campaign"], due["deadline"]) == (2028, "2028-03-05")
    assert await emitted(tenancy, "tenancy.rereview_due", absent["id"]) == []

    with on_day(date(2028, 3, 5)):
        await run(tenancy, sweeps.rereview_deadlines)
    assert await emitted(tenancy, "tenancy.violation_opened", silent["id"]) == []
    with on_day(date(2028, 3, 6)):
        await run(tenancy, sweeps.rereview_deadlines)
        await run(tenancy, sweeps.rereview_deadlines)
        # A verdict after the deadline finds the re-review already closed.
        await publish_and_handle(tenancy, _completed(silent, 2028), producer="verification")
    [late] = await emitted(tenancy, "tenancy.violation_opened", silent["id"])
    assert (late["finding"], late["deadline"]) == ("rereview_not_cooperated", "2028-03-21")
    row = await _rereview(tenancy, 2028, silent["id"])
    assert (row["status"], row["household_found"]) == ("not_cooperated", None)
    r = await tenancy.client.get("/statistics?year=2028", headers=OFFICER)
    figures = r.json()["rereviews"]
    assert (figures["requested"], figures["officer_decides"]) == (0, 0)
    assert figures["band_changed"] >= 1
    # Leases of the other modules share this database: ours are among them.
    assert figures["not_cooperated"] >= 2
