"""The department SDK's answer messages and the simulators' fixture records, without I/O."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime

import pytest

from services.verification.domain import subjects_for
from shared.city import HouseholdField
from shared.events.catalogue import DepartmentAnswered, VerificationRequested
from simulators.departments import Behaviour, SimulatedDepartment
from simulators.departments.fixtures import fixture_answer
from simulators.sdk import Answer, TemporaryFailure, answer_envelope, answer_event_id
from tests.examples import accepted_application

HOUSEHOLD = accepted_application().household


def request(department: str) -> VerificationRequested:
    return VerificationRequested(
        request_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        application_id=uuid.uuid4(),
        city="350200",
        department=department,
        requested_at=datetime(2026, 11, 21, 2, 0, tzinfo=UTC),
        deadline=date(2026, 11, 26),
        time_limit_working_days=3,
        subjects=subjects_for(HOUSEHOLD, department, list(HouseholdField)),
    )


def test_the_answer_id_is_derived_from_the_request() -> None:
    req = request("tax")
    assert answer_event_id("tax", req.request_id) == answer_event_id("tax", req.request_id)
    assert answer_event_id("tax", req.request_id) != answer_event_id("vehicle", req.request_id)
    a = answer_envelope("tax", req, Answer.nothing_on_record(), correlation_id="c-1")
    b = answer_envelope("tax", req, Answer.nothing_on_record(), correlation_id="c-1")
    assert a.id == b.id == answer_event_id("tax", req.request_id)
    assert (a.type, a.correlation_id, a.subject) == (
        "department.answered",
        "c-1",
        str(req.application_id),
    )
    payload = DepartmentAnswered.model_validate(a.data)
    assert payload.request_id == req.request_id and payload.no_record is True


def test_fixture_answers_are_deterministic_and_about_the_subjects() -> None:
    for department in ("public_security", "tax", "real_estate", "vehicle", "civil_affairs"):
        req = request(department)
        first = fixture_answer(department, req)
        again = fixture_answer(department, req)
        assert first == again
        refs = {s.member_ref for s in req.subjects}
        assert all(f.member_ref in refs for f in first.findings)
        assert first.no_record is (not first.findings)
        # Every fixture answer is a valid department.answered payload.
        answer_envelope(department, req, first)
    hukou = fixture_answer("public_security", request("public_security"))
    assert [f.kind for f in hukou.findings] == ["hukou", "hukou"]
    assert fixture_answer("health", request("health")).no_record is True


def test_simulated_behaviour_empty_and_failing() -> None:
    req = request("tax")
    empty = SimulatedDepartment("tax", Behaviour(latency_ms=0, empty_rate=1.0))
    answer = asyncio.run(empty(req))
    assert (answer.no_record, list(answer.findings)) == (False, [])
    failing = SimulatedDepartment("tax", Behaviour(latency_ms=0, error_rate=1.0))
    with pytest.raises(TemporaryFailure):
        asyncio.run(failing(req))


def test_simulators_answer_a_rereview_as_they_answer_admission() -> None:
    for department in ("public_security", "civil_affairs", "real_estate", "tax", "vehicle"):
        admission = request(department)
        again = admission.model_copy(update={"purpose": "re_review"})
        assert fixture_answer(department, again) == fixture_answer(department, admission)
