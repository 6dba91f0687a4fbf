"""From a signed contract to its first bills, a withholding file (twice), a payment channel,
a re-review's band change; and a subsidy that stops the day eligibility ends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from shared.events.catalogue import AllocationSubsidyChosen
from tests.harness import emitted, publish_and_handle
from tests.integration.tenancy.conftest import CHANNEL, OFFICER, bills, open_lease, post
from tests.services import RunningService


def _ref() -> str:
    return f"WH{uuid.uuid4().hex[:16].upper()}"


async def test_contract_to_first_bills_and_a_withholding_file(tenancy: RunningService) -> None:
    lease = await open_lease(tenancy, starts_on=date(2026, 3, 16), assistance="low_income")
    assert lease["rent_band"] == "low_income" and lease["status"] == "active"
    assert lease["deposit"] == "950.00" and lease["next_visit_due"] == "2027-03-16"
    [opened] = await emitted(tenancy, "tenancy.lease_opened", lease["id"])
    assert opened["lease_no"] == lease["lease_no"] and opened["rent_band"] == "low_income"

    for month in ("2026-03", "2026-04"):
        r = await post(tenancy, f"/billing/{month}")
        assert r.status_code == 200 and r.json()["billed"] >= 1, r.text
    assert (await post(tenancy, "/billing/2026-04")).json()["billed"] == 0
    march, april = await bills(tenancy, lease["id"])
    # 475.00 × 50 %, March prorated to the 16 days from the 16th.
    assert (march["month"], march["days"], march["amount"]) == ("2026-03-01", 16, "122.58")
    assert (april["amount"], april["factor"], april["due_on"]) == ("237.50", "0.50", "2026-04-25")

    refs = [_ref() for _ in range(4)]
    no = lease["lease_no"]
    text = (
        "transaction_ref,lease_no,amount,paid_on\n"
        f"{refs[0]},{no},122.58,2026-04-01\n"
        f"{refs[1]},{no},100.00,2026-04-01\n"
        f"{refs[2]},ZL-20260101-DEADBEEF,50.00,2026-04-01\n"
        f"{refs[3]},{no},12.345,2026-04-01\n"
    ).encode()
    url = "/withholding-imports?file_name=bank-202604.csv"
    r = await tenancy.client.post(url, headers=OFFICER, content=text)
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["rows"], report["applied"], report["duplicates"]) == (4, 2, 0)
    assert [(u["row"], u["field"], u["reference"]) for u in report["unmatched"]] == [
        (4, "lease_no", refs[2]),
        (5, "amount", refs[3]),
    ]
    march, april = await bills(tenancy, lease["id"])
    assert march["paid_amount"] == "122.58" and march["paid_at"] is not None
    assert april["paid_amount"] == "100.00" and april["paid_at"] is None

    # The same file again: every readable row is a duplicate; nothing changes.
    before = (await bills(tenancy, lease["id"]), await _payments(tenancy, lease["id"]))
    r = await tenancy.client.post(url, headers=OFFICER, content=text)
    assert r.status_code == 201, r.text
    again = r.json()
    assert (again["rows"], again["applied"], again["duplicates"]) == (4, 0, 3)
    assert [u["row"] for u in again["unmatched"]] == [5]
    assert (await bills(tenancy, lease["id"]), await _payments(tenancy, lease["id"])) == before
    unmatched = await tenancy.client.get("/payments?status=unmatched", headers=OFFICER)
    assert refs[2] in [p["reference"] for p in unmatched.json()["items"]]

    # A payment channel pays the rest of April and 10 yuan more (prepaid for May).
    body = {"transaction_ref": _ref(), "lease_no": no, "amount": "147.50", "paid_on": "2026-04-20"}
    r = await post(tenancy, "/payments", body, headers=CHANNEL)
    assert r.status_code == 201 and r.json()["status"] == "applied", r.text
    r = await post(tenancy, "/payments", body, headers=CHANNEL)
    assert r.status_code == 200 and r.json()["duplicate"] is True
    assert (await post(tenancy, "/payments", body)).status_code == 403  # an officer is no channel
    state = (await tenancy.client.get(f"/leases/{lease['id']}", headers=OFFICER)).json()
    assert state["prepaid"] == "10.00"
    assert (await post(tenancy, "/billing/2026-05")).status_code == 200
    may = (await bills(tenancy, lease["id"]))[2]
    assert (may["amount"], may["paid_amount"], may["paid_at"]) == ("237.50", "10.00", None)

    # A re-review result: the band changes from the next month not yet billed.
    r = await post(
        tenancy, f"/leases/{lease['id']}/rent-band", {"rent_band": "nope", "reason": "复核"}
    )
    assert r.status_code == 422 and r.json()["field"] == "rent_band"
    r = await post(
        tenancy,
        f"/leases/{lease['id']}/rent-band",
        {"rent_band": "other", "reason": "年度复核家庭收入超过低收入标准"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "lease_id": lease["id"],
        "from_band": "low_income",
        "to_band": "other",
        "effective_month": "2026-06-01",
    }
    assert (await post(tenancy, "/billing/2026-06")).status_code == 200
    june = (await bills(tenancy, lease["id"]))[3]
    assert (june["rent_band"], june["factor"], june["amount"]) == ("other", "1.00", "475.00")
    [changed] = await emitted(tenancy, "tenancy.rent_band_changed", lease["id"])
    assert changed["effective_month"] == "2026-06-01"


async def _payments(svc: RunningService, lease_id: str) -> list[dict[str, object]]:
    r = await svc.client.get(f"/payments?lease_id={lease_id}", headers=OFFICER)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_bad_withholding_file_and_bad_requests_name_the_field(
    tenancy: RunningService,
) -> None:
    r = await tenancy.client.post(
        "/withholding-imports?file_name=x.csv", headers=OFFICER, content=b"ref,amount\n1,2\n"
    )
    assert r.status_code == 422 and r.json()["field"] == "header"
    r = await tenancy.client.post(
        "/withholding-imports?file_name=x.csv", headers=OFFICER, content=b"\xff\xfe"
    )
    assert r.status_code == 422 and r.json()["field"] == "body"
    assert (await post(tenancy, "/billing/2026-13")).status_code == 422
    r = await tenancy.client.get(f"/leases/{uuid.uuid4()}", headers=OFFICER)
    assert r.status_code == 404


async def test_subsidy_stops_the_day_eligibility_ends(tenancy: RunningService) -> None:
    reference = f"XM-{uuid.uuid4().hex[:10].upper()}"
    chosen = AllocationSubsidyChosen(
        round_id=uuid.uuid4(),
        household_reference=reference,
        member_count=3,
        income_band="low_income",
        monthly_amount=Decimal("600.00"),
        chosen_at=datetime(2026, 3, 10, 2, 0, tzinfo=UTC),
    )
    await publish_and_handle(tenancy, chosen, producer="allocation", subject=reference)
    [account] = (
        await tenancy.client.get(f"/subsidies?household_reference={reference}", headers=OFFICER)
    ).json()
    assert (account["starts_on"], account["status"], account["payments"]) == (
        "2026-03-10",
        "active",
        [],
    )
    for month in ("2026-03", "2026-04", "2026-05"):
        assert (await post(tenancy, f"/subsidy-payments/{month}")).status_code == 200
    url = f"/subsidies/{account['id']}"
    payments = (await tenancy.client.get(url, headers=OFFICER)).json()["payments"]
    assert [(p["month"], p["days"], p["amount"], p["pay_on"]) for p in payments] == [
        ("2026-03-01", 22, "425.81", "2026-03-10"),
        ("2026-04-01", 30, "600.00", "2026-04-10"),
        ("2026-05-01", 31, "600.00", "2026-05-10"),
    ]

    r = await post(
        tenancy, f"{url}/end", {"ends_on": "2026-05-16", "reason": "年度复核不再符合条件"}
    )
    assert r.status_code == 200, r.text
    assert (await post(tenancy, "/subsidy-payments/2026-06")).status_code == 200
    state = (await tenancy.client.get(url, headers=OFFICER)).json()
    assert (state["status"], state["ends_on"]) == ("ended", "2026-05-16")
    assert [(p["month"], p["days"], p["amount"], p["status"]) for p in state["payments"]] == [
        ("2026-03-01", 22, "425.81", "scheduled"),
        ("2026-04-01", 30, "600.00", "scheduled"),
        ("2026-05-01", 15, "290.32", "scheduled"),
    ]
    [ended] = await emitted(tenancy, "tenancy.subsidy_ended", account["id"])
    assert ended["ends_on"] == "2026-05-16"
    r = await post(tenancy, f"{url}/end", {"ends_on": "2026-05-20", "reason": "重复"})
    assert r.status_code == 409


async def test_the_same_file_twice_at_once_pays_each_row_once(tenancy: RunningService) -> None:
    lease = await open_lease(tenancy, starts_on=date(2026, 4, 1))
    assert (await post(tenancy, "/billing/2026-04")).status_code == 200
    [april] = await bills(tenancy, lease["id"])
    assert april["amount"] == "475.00"
    ref = _ref()
    text = (
        "transaction_ref,lease_no,amount,paid_on\n"
        f"{ref},{lease['lease_no']},200.00,2026-04-20\n"
        f"{ref},{lease['lease_no']},200.00,2026-04-20\n"  # the bank repeated a row
    ).encode()

    async def send() -> dict[str, object]:
        r = await tenancy.client.post(
            "/withholding-imports?file_name=dup.csv", headers=OFFICER, content=text
        )
        assert r.status_code == 201, r.text
        return r.json()

    first, second = await asyncio.gather(send(), send())
    assert sorted([first["applied"], second["applied"]]) == [0, 1]
    assert first["duplicates"] + second["duplicates"] == 3
    [april] = await bills(tenancy, lease["id"])
    assert (april["paid_amount"], april["paid_at"]) == ("200.00", None)
    assert [p["reference"] for p in await _payments(tenancy, lease["id"])] == [ref]


async def test_the_re_review_campaign_lists_its_leases_once(tenancy: RunningService) -> None:
    covered = await open_lease(tenancy, starts_on=date(2026, 2, 1))
    later = await open_lease(tenancy, starts_on=date(2027, 1, 5))
    r = await post(tenancy, "/campaigns/2027")
    assert r.status_code == 200, r.text
    first = r.json()
    ids = [item["lease_id"] for item in first["leases"]]
    assert covered["id"] in ids and later["id"] not in ids
    assert first["year"] == 2027
    newcomer = await open_lease(tenancy, starts_on=date(2026, 6, 1))
    again = (await post(tenancy, "/campaigns/2027")).json()
    assert again == first and newcomer["id"] not in str(again)
    assert (await post(tenancy, "/campaigns/1999")).status_code == 422
