"""The bank department on the real database and broker: its request carries name and ID only,
the asset ceiling is checked against the balances it reports (not the declaration, which stays
a cross-check), its answer contract is enforced over HTTP and AMQP, and the simulator answers
for it."""

from __future__ import annotations

import uuid

import pytest

from shared.events.catalogue import VerificationRequested
from simulators.departments.fixtures import fixture_answer
from simulators.sdk import answer_envelope
from tests.harness import emitted, publish
from tests.integration.verification.helpers import (
    accepted,
    answer_http,
    requests_of,
    wait_completed,
    wait_for_case,
)
from tests.services import RunningService

pytestmark = pytest.mark.integration

BANK = "银行业金融机构（存款、理财、证券）"


def balance(ref: str, amount: str, asset_type: str = "deposit") -> dict[str, object]:
    return {
        "member_ref": ref,
        "kind": "financial_asset",
        "asset_type": asset_type,
        "institution": "中国建设银行厦门分行",
        "amount": amount,
        "as_of": "2026-10-31",
    }


async def started(svc: RunningService, category: str = "low_income_family"):
    event = accepted(category)
    await publish(svc, event)
    await wait_for_case(svc.runtime, event.application_id)
    return event, {r.department: r for r in await requests_of(svc.runtime, event.application_id)}


async def answer_rest(svc: RunningService, requests: dict, skip: str = "bank") -> None:
    for dept, request in requests.items():
        if dept != skip:
            response = await answer_http(svc.client, dept, request.request_id)
            assert response.status_code == 201, response.text


async def test_the_asset_ceiling_is_checked_against_the_banks_balances(
    svc: RunningService,
) -> None:
    # low_income_family: ceiling 300000; declared 2 x 20000, within it.
    event, requests = await started(svc)
    assert "bank" in requests
    subjects = requests["bank"].subjects
    assert [(s["relationship"], s["hukou_division"], s["employer"]) for s in subjects] == [
        (None, None, None)
    ] * 2
    applicant, spouse = (m.member_id_hash for m in event.household.members)

    # Wrong contract first: a bank may report balances only, and nobody else may report them.
    wrong = await answer_http(
        svc.client,
        "bank",
        requests["bank"].request_id,
        {
            "no_record": False,
            "findings": [
                {
                    "member_ref": applicant,
                    "kind": "income",
                    "monthly_amount": "1.00",
                    "source": "wages",
                }
            ],
        },
    )
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["field"] == "findings"
    assert wrong.json()["detail"] == "部门 bank 不得反馈以下类型的结果：income。"
    from_tax = await answer_http(
        svc.client,
        "tax",
        requests["tax"].request_id,
        {"no_record": False, "findings": [balance(applicant, "1.00")]},
    )
    assert from_tax.status_code == 422, from_tax.text
    assert from_tax.json()["detail"] == "部门 tax 不得反馈以下类型的结果：financial_asset。"
    negative = await answer_http(
        svc.client,
        "bank",
        requests["bank"].request_id,
        {"no_record": False, "findings": [balance(applicant, "-5.00")]},
    )
    assert negative.status_code == 422, negative.text

    ok = await answer_http(
        svc.client,
        "bank",
        requests["bank"].request_id,
        {
            "no_record": False,
            "findings": [
                balance(applicant, "250000.00"),
                balance(applicant, "30000.00", "wealth_management"),
                balance(spouse, "20000.01", "securities"),
            ],
        },
    )
    assert ok.status_code == 201, ok.text
    await answer_rest(svc, requests)
    await wait_completed(svc.runtime, event.application_id)
    [completed] = await emitted(svc, "verification.completed", event.application_id)
    assert completed["recommendation"] == "ineligible"
    assert completed["profile"]["financial_assets"] == "300000.01"
    assert (
        f"家庭金融资产：核实值300000.01元，超过上限300000.00元，不符合（来源：{BANK}）。"
        in completed["reasons"]
    )
    assets = [d for d in completed["discrepancies"] if d["field"] == "financial_assets"]
    assert assets == [
        {
            "member_id_hash": applicant,
            "field": "financial_assets",
            "declared": "20000.00",
            "verified": "280000.00",
            "department": "bank",
        },
        {
            "member_id_hash": spouse,
            "field": "financial_assets",
            "declared": "20000.00",
            "verified": "20000.01",
            "department": "bank",
        },
    ]


async def test_a_silent_bank_leaves_the_ceiling_to_a_person(svc: RunningService) -> None:
    event, requests = await started(svc)
    await answer_rest(svc, requests)
    # Every other department answered; the case waits for the bank.
    assert await emitted(svc, "verification.completed", event.application_id) == []
    rows = {r.department: r.status for r in await requests_of(svc.runtime, event.application_id)}
    assert rows["bank"] == "pending"


async def test_the_bank_simulator_answers_within_the_contract(svc: RunningService) -> None:
    event, requests = await started(svc)
    row = requests["bank"]
    request = VerificationRequested(
        request_id=row.request_id,
        case_id=row.case_id,
        application_id=event.application_id,
        city="350200",
        department="bank",
        requested_at=row.requested_at,
        deadline=row.deadline,
        time_limit_working_days=5,
        subjects=row.subjects,
    )
    answer = fixture_answer("bank", request)
    envelope = answer_envelope("bank", request, answer)
    data = envelope.data
    assert data["findings"], "the fixture gives most people a deposit"
    assert {f["kind"] for f in data["findings"]} == {"financial_asset"}
    body = {"no_record": data["no_record"], "findings": data["findings"]}
    response = await answer_http(svc.client, "bank", row.request_id, body)
    assert response.status_code == 201, response.text
    await answer_rest(svc, requests)
    await wait_completed(svc.runtime, event.application_id)
    [completed] = await emitted(svc, "verification.completed", event.application_id)
    total = sum(float(f["amount"]) for f in data["findings"])
    assert completed["profile"]["financial_assets"] == f"{total:.2f}"
    assert uuid.UUID(completed["case_id"])
