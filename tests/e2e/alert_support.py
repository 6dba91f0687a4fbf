"""Helpers for the end-to-end alert scenarios: a department that answers one application
empty, the portal and street steps up to a verified case, what a supervisor sees in alerting,
and a barrier that alerting has heard everything said about an application."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared.amqp.topology import topic_matches
from shared.events.catalogue import VerificationRequested
from shared.tables import inbox, outbox
from simulators.sdk import Answer
from tests.e2e.journey_support import MATERIALS, HonestDepartment, application_body, eventually
from tests.services import RunningService, token

PDF = b"%PDF-1.4 alert scenario material "
SUPERVISOR = token("supervisor", org="350200", sub="supervisor-alerts")


class SometimesEmptyDepartment(HonestDepartment):
    """An honest department, except for the applications in ``empty_for``: for those it sends
    an answer with neither findings nor "nothing on record" (the empty answer of rule R6)."""

    def __init__(self, department: str) -> None:
        super().__init__(department)
        self.empty_for: set[uuid.UUID] = set()

    async def __call__(self, request: VerificationRequested) -> Answer:
        if request.application_id in self.empty_for:
            self.requests.append(request)
            return Answer(findings=(), no_record=False, answered_by=f"e2e:{self.department}")
        return await super().__call__(request)

    def request_for(self, application_id: uuid.UUID) -> VerificationRequested:
        [request] = [r for r in self.requests if r.application_id == application_id]
        return request


async def accepted_application(
    intake: Any, applicant_id: str, spouse_id: str, *, street: str, category: str, key: str
) -> tuple[uuid.UUID, str]:
    """Apply online with every material, then the street clerk accepts: (id, tracking no)."""
    portal = token("applicant", org="350200", sub=f"resident-{key}", name="张三丰")
    clerk = token("street_clerk", org=street, sub=f"clerk-{key}", name="王经办")
    created = await intake.post(
        "/applications",
        json=application_body(applicant_id, spouse_id, category=category, street=street),
        headers={**portal, "Idempotency-Key": f"{key}-apply"},
    )
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    for code in MATERIALS:
        uploaded = await intake.post(
            f"/applications/{app_id}/materials",
            params={"material_type": code, "file_name": f"{code}.pdf"},
            content=PDF + code.encode(),
            headers={**portal, "Content-Type": "application/pdf"},
        )
        assert uploaded.status_code == 201, uploaded.text
    accepted = await intake.post(
        f"/applications/{app_id}/accept",
        json={},
        headers={**clerk, "Idempotency-Key": f"{key}-accept"},
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["materials_complete"] is True
    return uuid.UUID(app_id), created.json()["tracking_no"]


async def verified_case(review: Any, application_id: uuid.UUID, street: str) -> dict[str, Any]:
    """The review case of the application, once the verification result reached it."""
    clerk = token("street_clerk", org=street, sub="clerk-alerts-reader")

    async def task() -> dict[str, Any] | None:
        items = (await review.get("/tasks", headers=clerk)).json()["items"]
        return next((t for t in items if t["application_id"] == str(application_id)), None)

    case_id = (await eventually(task, 20, "the street clerk's review task"))["case_id"]

    async def verified() -> dict[str, Any] | None:
        view = (await review.get(f"/cases/{case_id}", headers=clerk)).json()
        return view if view.get("verification") else None

    return await eventually(verified, 20, "the verification result on the case")


async def alerts_of(alerting: Any, application_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every alert of the application, open or cleared, as the city supervisor lists them."""
    listed = await alerting.get(
        "/alerts",
        params={"status": "all", "application_id": str(application_id)},
        headers=SUPERVISOR,
    )
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total"] == len(body["items"]), body
    return sorted(body["items"], key=lambda a: (a["raised_at"], a["rule_id"]))


async def tickets_of(alerting: Any, application_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every ticket of the application with its alerts and history (GET /tickets/{id})."""
    listed = await alerting.get(
        "/tickets",
        params={"status": "all", "application_id": str(application_id)},
        headers=SUPERVISOR,
    )
    assert listed.status_code == 200, listed.text
    out = []
    for item in listed.json()["items"]:
        detail = await alerting.get(f"/tickets/{item['ticket_id']}", headers=SUPERVISOR)
        assert detail.status_code == 200, detail.text
        out.append(detail.json())
    return sorted(out, key=lambda t: t["opened_at"])


async def alerting_caught_up(
    services: dict[str, RunningService], application_id: uuid.UUID
) -> None:
    """Wait until alerting has handled every event any service has published so far about the
    application that its queue is bound to receive (since issue 20 it binds only the types it
    handles; the rest go elsewhere or to the unrouted queue): only then does "no other alert"
    mean something. A barrier that reads the outboxes and alerting's inbox, nothing else."""
    alerting = services["alerting"].runtime
    bound = [b.routing_key for b in alerting.queue_spec.bindings if b.exchange == "events"]
    ids: set[uuid.UUID] = set()
    for svc in services.values():
        exchange = svc.runtime.settings.events_exchange
        async with svc.runtime.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(outbox.c.id, outbox.c.routing_key).where(
                    outbox.c.subject == str(application_id), outbox.c.exchange == exchange
                )
            )
            ids.update(
                row.id for row in rows if any(topic_matches(k, row.routing_key) for k in bound)
            )
    assert ids, "no event about the application that alerting is bound to receive"

    async def all_handled() -> bool:
        async with alerting.engine.connect() as conn:
            handled = await conn.scalar(
                sa.select(sa.func.count()).select_from(inbox).where(inbox.c.event_id.in_(ids))
            )
        return handled == len(ids)

    await eventually(all_handled, 20, "alerting handling every event of the application")
