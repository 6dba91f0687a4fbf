"""The event catalogue: payloads survive the wire, routing is right, the AsyncAPI doc is current.

Round trips are property-based: a strategy is derived from each payload model's own field
types and constraints, so a newly registered event is covered without touching this file.
"""

from __future__ import annotations

import types
import typing
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from shared.events import REGISTRY, Envelope, EventPayload, payload_model
from shared.events import catalogue as c
from shared.events.asyncapi import build_document, generate

REPO_ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI_PATH = REPO_ROOT / "docs" / "asyncapi.yaml"
REGEN = "uv run python -m shared.events asyncapi --output docs/asyncapi.yaml"

T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
H1 = "1" * 64
H2 = "2" * 64
RESIDENT_ID = "35020319900307001X"


# -- a strategy for any payload, derived from its fields ---------------------------------------


def _constraints(metadata: typing.Iterable[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in metadata:
        for name in ("pattern", "min_length", "max_length", "ge", "gt", "le", "decimal_places"):
            value = getattr(item, name, None)
            if value is not None:
                found[name] = value
    return found


def strategy_for(annotation: Any, metadata: typing.Iterable[Any] = ()) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        merged = list(metadata)
        for item in extra:
            merged.extend(item.metadata if isinstance(item, FieldInfo) else [item])
        return strategy_for(base, merged)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([strategy_for(arg, metadata) for arg in typing.get_args(annotation)])
    if origin is Literal:
        return st.sampled_from(typing.get_args(annotation))
    limits = _constraints(metadata)
    if origin is list:
        (item,) = typing.get_args(annotation)
        low = limits.get("min_length", 0)
        return st.lists(strategy_for(item), min_size=low, max_size=max(low, 3))
    if annotation is type(None):
        return st.none()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_strategy(annotation)
    if annotation is str:
        if "pattern" in limits:
            return st.from_regex(limits["pattern"], fullmatch=True)
        low = limits.get("min_length", 0)
        return st.text(min_size=low, max_size=min(limits.get("max_length", 20), low + 20))
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(min_value=limits.get("ge", 0), max_value=limits.get("le", 10_000))
    if annotation is Decimal:
        return st.decimals(
            min_value=limits.get("ge", 0),
            max_value=Decimal("99999999.99"),
            places=limits.get("decimal_places", 2),
            allow_nan=False,
            allow_infinity=False,
        )
    if annotation is uuid.UUID:
        return st.uuids()
    if annotation is date:
        return st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
    if annotation in (datetime, AwareDatetime):
        return st.datetimes(
            min_value=datetime(2000, 1, 1),
            max_value=datetime(2100, 1, 1),
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))]),
        )
    raise NotImplementedError(f"no strategy for {annotation!r}; extend strategy_for")


def _build(model: type[BaseModel], values: dict[str, Any]) -> BaseModel | None:
    try:
        return model(**values)
    except ValidationError:
        return None  # a cross-field rule (ends after starts, ...) refused this combination


def model_strategy(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    fields = {
        name: strategy_for(info.annotation, info.metadata)
        for name, info in model.model_fields.items()
    }
    built = st.fixed_dictionaries(fields).map(lambda values: _build(model, values))
    return built.filter(lambda payload: payload is not None)


@st.composite
def verification_requests(
    draw: st.DrawFn, department: str | None = None
) -> c.VerificationRequested:
    """Subjects carry only the extras their department may receive, so draw them that way."""
    department = department or draw(st.sampled_from([*c.DEPARTMENTS, "housing_fund_center"]))
    allowed = c.DEPARTMENT_SUBJECT_FIELDS.get(department, frozenset())
    subject_fields = {
        name: strategy_for(info.annotation, info.metadata)
        if name not in c.SUBJECT_EXTRA_FIELDS or name in allowed
        else st.none()
        for name, info in c.Subject.model_fields.items()
    }
    subjects = draw(st.lists(st.builds(c.Subject, **subject_fields), min_size=1, max_size=3))
    other = {
        name: strategy_for(info.annotation, info.metadata)
        for name, info in c.VerificationRequested.model_fields.items()
        if name not in ("department", "subjects")
    }
    values = draw(st.fixed_dictionaries(other))
    return c.VerificationRequested(department=department, subjects=subjects, **values)


@st.composite
def households(draw: st.DrawFn) -> c.Household:
    """Exactly one applicant, the others anything else."""
    member = {
        name: strategy_for(info.annotation, info.metadata)
        for name, info in c.HouseholdMember.model_fields.items()
        if name != "relationship"
    }
    others = st.sampled_from(["spouse", "child", "parent", "other"])
    applicant = draw(st.builds(c.HouseholdMember, relationship=st.just("applicant"), **member))
    rest = draw(st.lists(st.builds(c.HouseholdMember, relationship=others, **member), max_size=3))
    return c.Household(
        members=[applicant, *rest],
        declared_housing_area_m2=draw(strategy_for(c.Area)),
        housing_tenure=draw(strategy_for(c.Household.model_fields["housing_tenure"].annotation)),
    )


def payload_strategy(cls: type[EventPayload]) -> st.SearchStrategy[Any]:
    if cls is c.VerificationRequested:
        return verification_requests()
    if cls is c.VerificationRequestBatch:
        return st.sampled_from(c.DEPARTMENTS).flatmap(
            lambda d: st.lists(verification_requests(d), min_size=1, max_size=3).map(
                lambda items: c.VerificationRequestBatch(department=d, items=items)
            )
        )
    if cls is c.DepartmentAnswerBatch:
        return st.lists(model_strategy(c.DepartmentAnswered), min_size=1, max_size=3).map(
            lambda items: c.DepartmentAnswerBatch(
                department=items[0].department,
                items=[i.model_copy(update={"department": items[0].department}) for i in items],
            )
        )
    if cls is c.ApplicationAccepted:
        fields = {
            name: strategy_for(info.annotation, info.metadata)
            for name, info in cls.model_fields.items()
            if name != "household"
        }
        return st.builds(cls, household=households(), **fields)
    return model_strategy(cls)


def through_the_wire(payload: EventPayload) -> EventPayload:
    envelope = Envelope(
        id=uuid.uuid4(),
        type=payload.event_type,
        version=payload.event_version,
        occurred_at=T0,
        producer="test",
        correlation_id=str(uuid.uuid4()),
        subject="subject",
        data=payload.model_dump(mode="json"),
    )
    received = Envelope.from_bytes(envelope.to_bytes())
    model = payload_model(received.type, received.version)
    assert model is type(payload)
    return model.model_validate(received.data)


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(REGISTRY), ids=lambda k: f"{k[0]}.v{k[1]}")
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_payload_round_trips_through_an_envelope(
    key: tuple[str, int], data: st.DataObject
) -> None:
    payload = data.draw(payload_strategy(REGISTRY[key]))
    assert through_the_wire(payload) == payload


def test_registry_holds_the_catalogue_of_design_section_2() -> None:
    expected = {
        "application.submitted", "application.accepted", "application.supplement_requested",
        "application.withdrawn", "application.refused", "application.materials_uploaded",
        "application.supplement_received", "application.supplement_overdue",
        "verification.started", "verification.requested", "department.answered",
        "verification.requested_batch", "department.answered_batch",
        "verification.answer_empty", "verification.answer_late",
        "verification.department_overdue", "verification.completed",
        "verification.parameters_changed",
        "review.case_opened", "review.stage_started", "review.opinion_signed",
        "review.stage_completed", "review.stage_suspended", "review.stage_resumed",
        "review.stage_overdue", "review.suspension_refused", "review.decided",
        "application.qualified", "application.rejected",
        "review.publicity_requested",
        "publicity.opened", "publicity.closed", "objection.filed", "objection.concluded",
        "alert.raised", "alert.cleared", "ticket.opened", "ticket.escalated", "ticket.closed",
        "ticket.feedback_reported",
        "complaint.agency_referred",
        "credit.ban_imposed", "credit.ban_lifted", "credit.record_created", "credit.notice_step",
        "credit.agency_blacklisted", "credit.case_exposed",
        "allocation.waiting_entered", "allocation.entry_suspended", "allocation.round_drawn",
        "allocation.unit_allocated", "allocation.contract_signed", "tenancy.unit_vacated",
        "allocation.order_overridden", "allocation.subsidy_chosen", "allocation.contract_overdue",
        "allocation.confirmation_requested", "allocation.pool_frozen",
        "allocation.commitment_published",
        "allocation.contract_issued", "allocation.need_confirmed", "allocation.units_changed",
        "tenancy.lease_opened", "tenancy.rent_band_changed", "tenancy.arrears_step",
        "tenancy.credit_referred", "tenancy.visit_due", "tenancy.visit_recorded",
        "tenancy.violation_opened", "tenancy.rectification_overdue", "tenancy.violation_closed",
        "tenancy.recovery_noticed", "tenancy.court_referred", "tenancy.subsidy_opened",
        "tenancy.subsidy_ended",
        "tenancy.rereview_requested", "verification.rereview_completed",
        "tenancy.rereview_due", "tenancy.rereview_concluded",
        "audit.checkpointed",
    }  # fmt: skip
    assert {event_type for event_type, _ in REGISTRY} == expected
    assert all(cls.summary and cls.__doc__ for cls in REGISTRY.values())


def test_unknown_type_or_version_has_no_model() -> None:
    assert payload_model("application.accepted", 1) is c.ApplicationAccepted
    assert payload_model("application.accepted", 2) is None
    assert payload_model("no.such_event") is None


# -- verification exchange and data minimisation -----------------------------------------------


def _subject(**extra: Any) -> c.Subject:
    return c.Subject(member_ref=H1, name="张三", resident_id=RESIDENT_ID, **extra)


def _request(department: str, *subjects: c.Subject) -> c.VerificationRequested:
    return c.VerificationRequested(
        request_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        application_id=uuid.uuid4(),
        city="350200",
        department=department,
        requested_at=T0,
        deadline=date(2026, 3, 9),
        time_limit_working_days=5,
        subjects=list(subjects) or [_subject()],
    )


def test_department_request_goes_to_its_department_on_the_verification_exchange() -> None:
    request = _request("real_estate")
    assert request.exchange == "verification"
    assert request.routing_key() == "request.real_estate"
    assert c.VerificationRequested.routing_key_template == "request.{department}"


def test_department_answer_is_routed_as_response_of_that_department() -> None:
    answer = c.DepartmentAnswered(
        request_id=uuid.uuid4(), department="vehicle", answered_at=T0, no_record=True
    )
    assert (answer.exchange, answer.routing_key()) == ("verification", "response.vehicle")


DEPARTMENT_ROUTED = (
    c.VerificationRequested,
    c.DepartmentAnswered,
    c.VerificationRequestBatch,
    c.DepartmentAnswerBatch,
)


def test_batches_travel_the_routes_of_their_items() -> None:
    request = _request("real_estate")
    batch = c.VerificationRequestBatch(department="real_estate", items=[request, request])
    assert (batch.exchange, batch.routing_key()) == ("verification", "request.real_estate")
    answer = c.DepartmentAnswered(
        request_id=uuid.uuid4(), department="vehicle", answered_at=T0, no_record=True
    )
    answers = c.DepartmentAnswerBatch(department="vehicle", items=[answer])
    assert (answers.exchange, answers.routing_key()) == ("verification", "response.vehicle")
    with pytest.raises(ValidationError, match="every item"):
        c.VerificationRequestBatch(department="tax", items=[request])
    with pytest.raises(ValidationError, match="every item"):
        c.DepartmentAnswerBatch(department="tax", items=[answer])


def test_domain_events_are_routed_by_their_type_on_the_events_exchange() -> None:
    for (event_type, _), cls in REGISTRY.items():
        if cls not in DEPARTMENT_ROUTED:
            assert cls.exchange == "events", event_type


@pytest.mark.parametrize(
    ("department", "extra"),
    [
        ("real_estate", {"employer": "某公司"}),
        ("tax", {"hukou_division": "350203"}),
        ("public_security", {"relationship": "spouse"}),
        ("a_city_specific_department", {"employer": "某公司"}),
    ],
)
def test_a_department_request_refuses_fields_the_department_does_not_need(
    department: str, extra: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError, match="may not receive"):
        _request(department, _subject(**extra))


def test_a_department_request_carries_the_fields_that_department_needs() -> None:
    request = _request("tax", _subject(employer="厦门某某有限公司"))
    assert request.subjects[0].employer == "厦门某某有限公司"
    assert set(c.DEPARTMENT_SUBJECT_FIELDS) == set(c.DEPARTMENTS)


def test_routing_keys_cannot_be_hijacked_by_a_department_code() -> None:
    for bad in ("real_estate.#", "*", "Real_Estate", "tax.x"):
        with pytest.raises(ValidationError):
            _request(bad)


def test_findings_are_a_union_discriminated_by_kind() -> None:
    answer = c.DepartmentAnswered.model_validate(
        {
            "request_id": str(uuid.uuid4()),
            "department": "real_estate",
            "answered_at": "2026-03-03T02:00:00Z",
            "no_record": False,
            "findings": [
                {"kind": "property", "member_ref": H1, "area_m2": "86.50", "location": "思明区"},
                {"kind": "vehicle", "member_ref": H2, "plate_masked": "闽D***12", "value": 80000},
                {"kind": "marriage", "member_ref": H1, "status": "married"},
            ],
        }
    )
    kinds = [type(f) for f in answer.findings]
    assert kinds == [c.PropertyFinding, c.VehicleFinding, c.MarriageFinding]
    assert answer.findings[0].area_m2 == Decimal("86.50")
    with pytest.raises(ValidationError):
        c.DepartmentAnswered.model_validate(
            {**answer.model_dump(mode="json"), "findings": [{"kind": "lottery", "member_ref": H1}]}
        )


def test_no_record_answer_cannot_carry_findings_but_an_empty_answer_is_accepted() -> None:
    finding = c.MarriageFinding(kind="marriage", member_ref=H1, status="unmarried")
    with pytest.raises(ValidationError, match="no_record"):
        c.DepartmentAnswered(
            request_id=uuid.uuid4(),
            department="civil_affairs",
            answered_at=T0,
            no_record=True,
            findings=[finding],
        )
    # Neither findings nor "no record": accepted here so verification can raise R6 on it.
    empty = c.DepartmentAnswered(
        request_id=uuid.uuid4(), department="civil_affairs", answered_at=T0, no_record=False
    )
    assert empty.findings == []


# -- personal data --------------------------------------------------------------------------------

PERSONAL_FIELDS = {"resident_id", "name"}


def _field_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for arg in _flatten(info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                names |= {f"{name}.{n}" for n in _field_names(arg)}
    return names


def _flatten(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    return [annotation] if not args else [a for arg in args for a in _flatten(arg)]


def test_only_acceptance_and_department_requests_carry_names_and_resident_ids() -> None:
    carriers = {
        cls.event_type
        for cls in REGISTRY.values()
        if any(n.rsplit(".", 1)[-1] == "resident_id" for n in _field_names(cls))
    }
    requests = {"verification.requested", "verification.requested_batch"}
    assert carriers == {"application.accepted", *requests}
    # Person names likewise (business and agency names are public and named otherwise).
    named = {
        cls.event_type
        for cls in REGISTRY.values()
        if any(n.endswith("members.name") or n.endswith("subjects.name") for n in _field_names(cls))
    }
    assert named == {"application.accepted", *requests}


def test_submitted_application_refuses_a_raw_resident_id_as_a_hash() -> None:
    with pytest.raises(ValidationError):
        c.ApplicationSubmitted(
            application_id=uuid.uuid4(),
            tracking_no="XM2026-000001",
            city="350200",
            district="350203",
            street="350203001",
            channel="online",
            category="low_income",
            member_count=1,
            submitted_at=T0,
            member_id_hashes=[RESIDENT_ID],
            applicant_name_masked="张*三",
            applicant_id_masked="3502**********001X",
            pledge_version="v2026",
            pledge_signed_at=T0,
        )


# -- cross-field rules ----------------------------------------------------------------------------


def test_household_has_exactly_one_applicant() -> None:
    member = {
        "member_id_hash": H1,
        "name": "张三",
        "resident_id": RESIDENT_ID,
        "declared_monthly_income": "1800.00",
        "declared_financial_assets": "0",
        "declared_vehicle_count": 0,
        "declared_vehicle_value": "0",
        "hukou_division": "350203",
    }
    with pytest.raises(ValidationError, match="exactly one"):
        c.Household(
            members=[{**member, "relationship": "spouse"}],
            declared_housing_area_m2="0",
            housing_tenure="private_rental",
        )
    ok = c.Household(
        members=[{**member, "relationship": "applicant"}, {**member, "relationship": "child"}],
        declared_housing_area_m2="0",
        housing_tenure="private_rental",
    )
    assert [m.relationship for m in ok.members] == ["applicant", "child"]


def test_money_keeps_two_places_and_travels_as_a_string() -> None:
    finding = c.IncomeFinding(
        kind="income", member_ref=H1, monthly_amount=Decimal("3500.10"), source="wages"
    )
    assert finding.model_dump(mode="json")["monthly_amount"] == "3500.10"
    with pytest.raises(ValidationError):
        c.IncomeFinding(kind="income", member_ref=H1, monthly_amount="1.005", source="wages")


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError):
        c.AlertCleared(
            alert_id=uuid.uuid4(),
            rule_id="R8",
            colour="red",
            unit="350203001",
            raised_at=datetime(2026, 3, 2, 9, 0),
            cleared_at=T0,
        )


def test_closing_publicity_early_needs_who_and_why() -> None:
    base = {
        "notice_id": uuid.uuid4(),
        "kind": "qualification",
        "application_ids": [uuid.uuid4()],
        "opened_at": T0,
        "closed_at": T0 + timedelta(days=3),
        "closed_early": True,
    }
    with pytest.raises(ValidationError, match="override_by"):
        c.PublicityClosed(**base)
    closed = c.PublicityClosed(**base, override_by="city-leader-1", reason="公示信息有误，撤回重发")
    assert closed.closed_early is True


def test_ban_ends_after_it_starts_and_early_lifting_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match="ends_on"):
        c.CreditBanImposed(
            record_id=uuid.uuid4(),
            id_hash=H1,
            subject_kind="family",
            severity="general",
            starts_on=date(2026, 1, 1),
            ends_on=date(2026, 1, 1),
        )
    with pytest.raises(ValidationError, match="reason"):
        c.CreditBanLifted(
            record_id=uuid.uuid4(), id_hash=H1, lifted_on=date(2026, 6, 1), early=True
        )
    assert c.BAN_YEARS == {"general": 1, "serious": 3, "severe": 5}


@pytest.mark.parametrize(
    ("approved", "by", "at", "ok"),
    [(True, "leader-1", T0, True), (False, None, None, True), (True, None, None, False),
     (False, "leader-1", T0, False), (True, "leader-1", None, False)],
)  # fmt: skip
def test_parameter_change_approval_is_all_or_nothing(
    approved: bool, by: str | None, at: datetime | None, ok: bool
) -> None:
    def make() -> c.VerificationParametersChanged:
        return c.VerificationParametersChanged(
            parameter_set_id=uuid.uuid4(),
            city="350200",
            category="low_income",
            version=3,
            changes=[c.ParameterChange(name="per_capita_income_max", old="2000", new="2200")],
            proposed_by="city-clerk-1",
            proposed_at=T0,
            approved=approved,
            approved_by=by,
            approved_at=at,
            effective_from=date(2026, 4, 1),
        )

    if ok:
        assert make().approved is approved
    else:
        with pytest.raises(ValidationError, match="approved"):
            make()


# -- the AsyncAPI document ------------------------------------------------------------------------


def test_committed_asyncapi_document_is_current() -> None:
    assert ASYNCAPI_PATH.exists(), f"docs/asyncapi.yaml is missing; run `{REGEN}`"
    assert ASYNCAPI_PATH.read_text(encoding="utf-8") == generate(), (
        f"docs/asyncapi.yaml is out of date with the event catalogue; run `{REGEN}`"
    )


def test_generation_is_deterministic() -> None:
    assert generate() == generate()


def test_asyncapi_document_describes_every_event() -> None:
    doc = yaml.safe_load(ASYNCAPI_PATH.read_text(encoding="utf-8"))
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "公租房 platform events"
    schemas = doc["components"]["schemas"]
    messages = doc["components"]["messages"]
    assert "Envelope" in schemas
    for (event_type, version), cls in REGISTRY.items():
        assert cls.__name__ in schemas, event_type
        (message,) = [m for m in messages.values() if m["title"] == f"{event_type} v{version}"]
        data_ref = message["payload"]["allOf"][1]["properties"]["data"]["$ref"]
        assert data_ref == f"#/components/schemas/{cls.__name__}"
        assert message["payload"]["allOf"][1]["properties"]["type"] == {"const": event_type}
    # Every $ref resolves inside the document.
    for ref in _refs(doc):
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_verification_channels_and_department_operations() -> None:
    doc = build_document()
    requests = doc["channels"]["verificationRequest"]
    responses = doc["channels"]["verificationResponse"]
    assert requests["address"] == "request.{department}"
    assert responses["address"] == "response.{department}"
    assert requests["bindings"]["amqp"]["exchange"]["name"] == "housing.verification"
    assert "department" in requests["parameters"]
    ops = doc["operations"]
    assert ops["receiveVerificationRequest"]["action"] == "receive"
    assert ops["sendVerificationResponse"]["action"] == "send"
    assert doc["channels"]["applicationAccepted"]["address"] == "application.accepted"
    assert doc["channels"]["applicationAccepted"]["bindings"]["amqp"]["exchange"]["name"] == (
        "housing.events"
    )
    # AsyncAPI wants the discriminator as a property name, not OpenAPI's object.
    finding_unions = [
        prop
        for prop in _walk(doc["components"]["schemas"])
        if isinstance(prop, dict) and "discriminator" in prop
    ]
    assert finding_unions and all(p["discriminator"] == "kind" for p in finding_unions)


def _walk(node: Any) -> typing.Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_a_refusal_reads_as_a_rejection_at_the_intake_stage() -> None:
    from shared.events.catalogue import ApplicationRefused

    refused = ApplicationRefused(
        application_id=uuid.UUID(int=7),
        tracking_no="XM2026-000007",
        city="350200",
        district="350203",
        street="350203001",
        category="low_income_family",
        reasons=["申请人户籍不在本市"],
        refused_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        refused_by="clerk-xg",
    )
    rejection = refused.as_rejection()
    assert (rejection.case_id, rejection.stage, rejection.rejected_by) == (
        None,
        "intake",
        "clerk-xg",
    )
    assert rejection.rejected_at == refused.refused_at
    assert rejection.reasons == refused.reasons


def test_catalogue_never_rebinds_a_module_level_name() -> None:
    # Payload models resolve their annotations by name in the module: a second ``Finding = ...``
    # further down silently changed what a department's answer may contain.
    import ast

    import shared.events.catalogue as catalogue_module

    tree = ast.parse(Path(catalogue_module.__file__).read_text(encoding="utf-8"))
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
        elif isinstance(node, ast.ClassDef | ast.FunctionDef):
            names.append(node.name)
    assert sorted({n for n in names if names.count(n) > 1}) == []
