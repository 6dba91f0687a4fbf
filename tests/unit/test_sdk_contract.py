"""The department SDK package (``sdk/``) restates the platform's request and answer models so
a department needs nothing of the platform; these tests keep the two identical, schema for
schema and behaviour for behaviour, so the package cannot drift from the event catalogue."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import get_args

import housing_department_sdk as sdk
import pytest
from housing_department_sdk import models as sdk_models
from housing_department_sdk.testing import recorded_request
from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.events import catalogue
from shared.events.envelope import Envelope

MODES = ("validation", "serialization")

PAIRS: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (sdk_models.VerificationRequested, catalogue.VerificationRequested),
    (sdk_models.DepartmentAnswered, catalogue.DepartmentAnswered),
    (sdk_models.Subject, catalogue.Subject),
    (sdk_models.Envelope, Envelope),
    (sdk_models.VerificationRequestBatch, catalogue.VerificationRequestBatch),
    (sdk_models.DepartmentAnswerBatch, catalogue.DepartmentAnswerBatch),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("ours", "platform"), PAIRS, ids=lambda m: m.__name__)
def test_each_message_has_the_platforms_schema(
    ours: type[BaseModel], platform: type[BaseModel], mode: str
) -> None:
    assert ours.model_json_schema(mode=mode) == platform.model_json_schema(mode=mode)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
def test_the_findings_are_the_platforms_findings(mode: str) -> None:
    ours = TypeAdapter(sdk_models.Finding).json_schema(mode=mode)  # type: ignore[arg-type]
    theirs = TypeAdapter(catalogue.Finding).json_schema(mode=mode)  # type: ignore[arg-type]
    assert ours == theirs
    platform_kinds = [m.__name__ for m in get_args(get_args(catalogue.Finding)[0])]
    assert [m.__name__ for m in sdk_models.FINDING_MODELS] == platform_kinds
    assert {m.__name__ for m in sdk_models.FINDING_MODELS} <= set(sdk.__all__)


def test_types_versions_and_data_minimisation_are_the_platforms() -> None:
    for ours, platform in PAIRS[:2]:
        assert (ours.event_type, ours.event_version) == (  # type: ignore[attr-defined]
            platform.event_type,  # type: ignore[attr-defined]
            platform.event_version,  # type: ignore[attr-defined]
        )
    assert sdk_models.DEPARTMENT_SUBJECT_FIELDS == catalogue.DEPARTMENT_SUBJECT_FIELDS
    assert sdk_models.SUBJECT_EXTRA_FIELDS == catalogue.SUBJECT_EXTRA_FIELDS


def test_a_request_reads_and_writes_the_same_in_both() -> None:
    """Beyond the schema: the validators and the serializer (an admission request leaves
    ``purpose`` out) behave alike."""
    envelope = recorded_request("civil_affairs")
    ours = sdk_models.VerificationRequested.model_validate(envelope.data)
    theirs = catalogue.VerificationRequested.model_validate(envelope.data)
    assert ours.model_dump(mode="json") == theirs.model_dump(mode="json")
    assert "purpose" not in ours.model_dump(mode="json")
    rereview = {**envelope.data, "purpose": "re_review"}
    assert sdk_models.VerificationRequested.model_validate(rereview).purpose == "re_review"
    # An employer sent to real_estate is refused by both (data minimisation).
    leaked = {**envelope.data, "department": "real_estate"}
    leaked["subjects"] = [{**s, "employer": "某公司"} for s in envelope.data["subjects"]]
    for model in (sdk_models.VerificationRequested, catalogue.VerificationRequested):
        with pytest.raises(ValidationError, match="may not receive"):
            model.model_validate(leaked)


def test_the_recorded_request_is_one_the_platform_sends() -> None:
    for department in ("tax", "public_security", "bank"):
        envelope = recorded_request(department)
        request = catalogue.VerificationRequested.model_validate(envelope.data)
        assert request.department == department
        assert Envelope.model_validate(envelope.model_dump()).type == "verification.requested"


def test_an_sdk_answer_is_a_valid_platform_answer_with_the_derived_id() -> None:
    envelope = recorded_request("real_estate")
    request = sdk_models.VerificationRequested.model_validate(envelope.data)
    # The platform's own finding models are accepted as well as the SDK's (the simulators'
    # fixtures build those).
    found = catalogue.PropertyFinding(
        member_ref=request.subjects[0].member_ref,
        kind="property",
        area_m2=Decimal("45.20"),
        location="思明区某路1号",
    )
    answer = sdk.Answer(findings=[found], answered_by="registry-7")
    built = sdk.answer_envelope("real_estate", request, answer, causation_id=str(envelope.id))
    platform_view = Envelope.from_bytes(built.to_bytes())
    answered = catalogue.DepartmentAnswered.model_validate(platform_view.data)
    assert platform_view.id == uuid.uuid5(sdk.ANSWER_NAMESPACE, f"real_estate:{request.request_id}")
    assert answered.request_id == request.request_id
    assert [f.model_dump() for f in answered.findings] == [found.model_dump()]
    assert (answered.answered_by, answered.no_record) == ("registry-7", False)
    # A no-record answer with findings breaks the contract in both.
    for model in (sdk_models.DepartmentAnswered, catalogue.DepartmentAnswered):
        with pytest.raises(ValidationError, match="no_record=true"):
            model.model_validate({**answered.model_dump(), "no_record": True})


def test_money_travels_as_a_decimal_string() -> None:
    finding = sdk.IncomeFinding(
        member_ref="a" * 64, kind="income", monthly_amount=Decimal("6200.5"), source="wages"
    )
    assert finding.model_dump(mode="json")["monthly_amount"] == "6200.5"
