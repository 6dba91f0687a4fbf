"""The OpenAPI contract of every service, read from each app's own ``openapi()`` (no I/O):
operation ids, examples that validate, problem responses, the Idempotency-Key header, and the
``/problems`` page every problem ``type`` points to."""

from __future__ import annotations

import importlib
import re
from functools import cache
from typing import Any

import jsonschema_rs
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from shared.app import create_app
from shared.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, known_problem_types
from shared.service_names import SERVICES
from shared.settings import settings_for

WRITES = ("post", "put", "patch")


@cache
def app_of(name: str) -> FastAPI:
    definition = importlib.import_module(f"services.{name}.bootstrap").definition()
    return create_app(definition, settings_for(name, environment="test"))


@cache
def document(name: str) -> dict[str, Any]:
    return app_of(name).openapi()


def operations(name: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, ops in document(name)["paths"].items()
        for method, op in ops.items()
    ]


def route_of(name: str, operation_id: str) -> APIRoute:
    """The route behind an operation (by function name: the id is ``<service>_<function>``)."""
    function = operation_id.removeprefix(f"{name}_")
    return next(r for r in _api_routes(app_of(name).routes) if r.name == function)


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # FastAPI's included router, resolved lazily
            found += _api_routes(route.original_router.routes)
    return found


def validate(name: str, schema: dict[str, Any], value: Any) -> list[str]:
    root = {**schema, "components": document(name).get("components", {})}
    validator = jsonschema_rs.validator_for(root)
    return [
        f"{'.'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(value)
    ]


@pytest.mark.parametrize("name", SERVICES)
def test_operation_ids_are_clean_and_unique(name: str) -> None:
    ids = [op["operationId"] for _, _, op in operations(name)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    unclean = [i for i in ids if re.search(r"_(get|post|put|patch|delete)$", i)]
    assert unclean == []
    assert all(i.startswith(f"{name}_") for i in ids)
    assert "intake_submit_application" in ids or name != "intake"


def test_operation_ids_are_unique_across_the_platform() -> None:
    ids = [op["operationId"] for n in SERVICES for _, _, op in operations(n)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", SERVICES)
def test_every_write_has_request_and_response_examples_that_validate(name: str) -> None:
    failures: list[str] = []
    for method, path, op in operations(name):
        if method not in WRITES:
            continue
        where = f"{method.upper()} {path}"
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            if "example" not in body:
                failures.append(f"{where}: request without example")
            else:
                failures += [
                    f"{where} request {e}" for e in validate(name, body["schema"], body["example"])
                ]
                model = _body_model(route_of(name, op["operationId"]))
                if model is not None:
                    try:
                        model.model_validate(body["example"])
                    except ValueError as exc:
                        failures.append(
                            f"{where}: request example refused by {model.__name__}: {exc}"
                        )
        for status, response in op["responses"].items():
            media = response.get("content", {}).get("application/json")
            if not status.startswith("2") or media is None or not media.get("schema"):
                continue
            if "example" not in media:
                failures.append(f"{where}: {status} response without example")
            else:
                failures += [
                    f"{where} {status} {e}"
                    for e in validate(name, media["schema"], media["example"])
                ]
    assert failures == []


def _body_model(route: APIRoute) -> type[BaseModel] | None:
    field = route.body_field
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


@pytest.mark.parametrize("name", SERVICES)
def test_every_operation_documents_its_problems(name: str) -> None:
    missing: list[str] = []
    for method, path, op in operations(name):
        responses = op["responses"]
        wanted = {"5XX", "503"}
        if op.get("parameters") or "requestBody" in op:
            wanted.add("422")
        if op.get("security"):
            wanted |= {"401", "403"}
        if method in WRITES:
            wanted.add("413")
        if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", [])):
            wanted.add("409")
        for status in sorted(wanted - set(responses)):
            missing.append(f"{method.upper()} {path}: {status}")
        for status, response in responses.items():
            if status[0] in "45":
                content = response["content"]
                assert list(content) == [PROBLEM_MEDIA_TYPE], (path, status)
                assert content[PROBLEM_MEDIA_TYPE]["schema"]["required"] == [
                    "type",
                    "title",
                    "status",
                ]
                for example in content[PROBLEM_MEDIA_TYPE].get("examples", {}).values():
                    assert example["value"]["status"] == int(status), (path, status)
            if status in ("429", "503"):
                assert "Retry-After" in response["headers"], (path, status)
    assert missing == []


@pytest.mark.parametrize("name", SERVICES)
def test_idempotency_key_is_declared_wherever_the_helper_runs(name: str) -> None:
    from shared.idempotency import get_idempotency

    undeclared = []
    for method, path, op in operations(name):
        route = route_of(name, op["operationId"])
        uses = any(d.call is get_idempotency for d in _dependencies(route.dependant))
        declared = any(
            p["name"] == "Idempotency-Key" and p["in"] == "header" and not p["required"]
            for p in op.get("parameters", [])
        )
        if uses != declared:
            undeclared.append(f"{method.upper()} {path}: helper={uses} declared={declared}")
    assert undeclared == []
    if name == "intake":
        assert any(
            p["name"] == "Idempotency-Key"
            for p in document(name)["paths"]["/applications"]["post"]["parameters"]
        )


def _dependencies(dependant: Any) -> list[Any]:
    found = list(dependant.dependencies)
    for dep in dependant.dependencies:
        found += _dependencies(dep)
    return found


def test_domain_problems_are_documented_where_they_happen() -> None:
    submit = document("intake")["paths"]["/applications"]["post"]["responses"]
    assert set(submit["409"]["content"][PROBLEM_MEDIA_TYPE]["examples"]) >= {
        "duplicate-application",
        "conflict",
    }
    assert "integrity-ban" in submit["403"]["content"][PROBLEM_MEDIA_TYPE]["examples"]
    objection = document("publication")["paths"]["/public/objections"]["post"]["responses"]
    assert objection["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"


@pytest.mark.parametrize("name", SERVICES)
def test_every_problem_type_resolves_to_its_anchor_on_the_problems_page(name: str) -> None:
    app = app_of(name)
    # Only routes: the page needs neither database nor broker, so no lifespan is started.
    client = TestClient(app)
    types = known_problem_types()
    page = client.get("/problems")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for slug, entries in types.items():
        uri = PROBLEM_BASE + slug
        target, _, anchor = uri.partition("#")
        assert target == "/problems"
        if entries:
            assert f'id="{anchor}"' in page.text, slug
    # The service's own types are among them: intake's ban and duplicate, allocation's lottery.
    own = {
        "intake": "integrity-ban",
        "allocation": "lottery-refused",
        "tenancy": "lease-not-active",
    }
    if name in own:
        assert f'id="{own[name]}"' in page.text
    assert 'id="validation"' in page.text and 'id="too-many-requests"' in page.text
