"""The online application's draft (网上申请草稿: save and resume) on real PostgreSQL: each
applicant reaches only their own, the row holds ciphertext only, a bad field is a 422 naming
it, and submitting deletes the draft."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from services.intake.settings import DEV_DRAFT_KEY
from services.intake.tables import portal_drafts
from shared.problems import problem_type
from shared.sealing import JsonSealer, new_key
from tests.integration.intake.conftest import application_body, new_resident_id
from tests.services import RunningService, token

pytestmark = pytest.mark.integration

LI = token("applicant", org="350200", sub="draft-li-ming", name="李明")
WANG = token("applicant", org="350200", sub="draft-wang-fang", name="王芳")
CLERK = token("street_clerk", org="350203001", sub="draft-clerk")


def draft_body(resident_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "step": 1,
        "category": "low_income_family",
        "street": "350203001",
        "mobile": "13912345678",
        "members": [
            {
                "name": "李明",
                "resident_id": resident_id,
                "relationship": "applicant",
                "marital_status": "married",
                "hukou_division": "350203",
                "residence_permit": False,
                "employer": "厦门某某有限公司",
                "declared_monthly_income": "3200.50",
                "declared_financial_assets": "",
                "declared_vehicle_count": 0,
                "declared_vehicle_value": "",
            }
        ],
        "housing": {"address": "", "area_m2": "", "tenure": "none"},
    }
    body.update(changes)
    return body


async def stored_row(svc: RunningService, account: str) -> Any:
    async with svc.runtime.engine.connect() as conn:
        return (
            await conn.execute(sa.select(portal_drafts).where(portal_drafts.c.account == account))
        ).first()


async def test_a_draft_is_saved_resumed_and_seen_by_its_owner_only(
    intake: RunningService,
) -> None:
    resident_id = new_resident_id()
    body = draft_body(resident_id)
    saved = await intake.client.put("/portal/draft", json=body, headers=LI)
    assert saved.status_code == 200, saved.text
    answer = saved.json()
    assert {k: answer[k] for k in body} == body
    assert answer["saved_at"] == answer["created_at"]

    resumed = await intake.client.get("/portal/draft", headers=LI)
    assert resumed.status_code == 200
    assert resumed.json() == answer

    # Another applicant reaches no draft at all: the key is the caller's own account.
    other = await intake.client.get("/portal/draft", headers=WANG)
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["detail"] == "没有保存的申请草稿"
    # Staff have no portal drafts: the role is refused before any lookup.
    assert (await intake.client.get("/portal/draft", headers=CLERK)).status_code == 403
    # A second applicant's save and discard leave the first one's draft as it was.
    assert (
        await intake.client.put("/portal/draft", json=draft_body(new_resident_id()), headers=WANG)
    ).status_code == 200
    assert (await intake.client.delete("/portal/draft", headers=WANG)).status_code == 204
    assert (await intake.client.get("/portal/draft", headers=WANG)).status_code == 404
    assert (await intake.client.get("/portal/draft", headers=LI)).json() == answer

    # A later save replaces the draft and keeps when it was started.
    later = await intake.client.put(
        "/portal/draft", json={**body, "step": 2, "mobile": "13812345678"}, headers=LI
    )
    assert later.status_code == 200
    assert later.json()["step"] == 2 and later.json()["mobile"] == "13812345678"
    assert later.json()["created_at"] == answer["created_at"]
    assert later.json()["saved_at"] > answer["saved_at"]


async def test_the_draft_is_encrypted_at_rest(intake: RunningService) -> None:
    resident_id = new_resident_id()
    account = "draft-at-rest"
    saved = await intake.client.put(
        "/portal/draft",
        json=draft_body(resident_id),
        headers=token("applicant", org="350200", sub=account),
    )
    assert saved.status_code == 200, saved.text
    row = await stored_row(intake, account)
    assert row is not None
    for plain in (resident_id, "李明", "13912345678", "3200.50", "厦门某某有限公司"):
        assert plain not in row.payload
    # What is stored is the sealed JSON of the draft, and only the configured key opens it.
    opened = JsonSealer([DEV_DRAFT_KEY]).open(row.payload)
    assert opened is not None
    assert opened["members"][0]["resident_id"] == resident_id
    assert JsonSealer([new_key()]).open(row.payload) is None


@pytest.mark.parametrize(
    ("change", "field", "detail"),
    [
        ({"step": 9}, "step", "数值超出范围"),
        (
            {"members": [{"declared_monthly_income": "五千"}]},
            "members.0.declared_monthly_income",
            "请填写金额（元），最多两位小数",
        ),
        ({"street": "3502"}, "street", "格式不正确"),
        (
            {"housing": {"area_m2": "12.345"}},
            "housing.area_m2",
            "请填写面积（平方米），最多两位小数",
        ),
        ({"nickname": "x"}, "nickname", "不允许的字段"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field(
    intake: RunningService, change: dict[str, Any], field: str, detail: str
) -> None:
    account = f"draft-bad-{field}"
    answer = await intake.client.put(
        "/portal/draft",
        json=draft_body(new_resident_id(), **change),
        headers=token("applicant", org="350200", sub=account),
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == problem_type("validation")
    assert problem["field"] == field
    assert problem["errors"] == [{"field": field, "detail": detail}]
    # Nothing was stored, and no value typed is echoed.
    assert await stored_row(intake, account) is None


async def test_submitting_deletes_the_applicants_draft(intake: RunningService) -> None:
    account = "draft-submitter"
    applicant = token("applicant", org="350200", sub=account)
    resident_id = new_resident_id()
    assert (
        await intake.client.put("/portal/draft", json=draft_body(resident_id), headers=applicant)
    ).status_code == 200
    keeper = token("applicant", org="350200", sub="draft-keeper")
    assert (
        await intake.client.put("/portal/draft", json=draft_body(new_resident_id()), headers=keeper)
    ).status_code == 200

    submitted = await intake.client.post(
        "/applications",
        json=application_body(resident_id, new_resident_id()),
        headers={**applicant, "Idempotency-Key": "draft-submit-1"},
    )
    assert submitted.status_code == 201, submitted.text
    assert await stored_row(intake, account) is None
    assert (await intake.client.get("/portal/draft", headers=applicant)).status_code == 404
    # Only the submitter's draft went.
    assert (await intake.client.get("/portal/draft", headers=keeper)).status_code == 200

    mine = await intake.client.get("/portal/applications", headers=applicant)
    assert mine.status_code == 200
    page = mine.json()
    assert page["total"] == 1
    assert [a["tracking_no"] for a in page["items"]] == [submitted.json()["tracking_no"]]
    assert page["items"][0]["applicant_name_masked"] == "张*丰"
    assert (await intake.client.get("/portal/applications", headers=keeper)).json()["total"] == 0
