"""The OpenAPI document every service publishes: clean operation ids, the problem responses of
each operation, and an example for every request and response body.

FastAPI derives the document from the routes; what it cannot know is added here once for all
services, so an endpoint only names what is particular to it (``problem_responses(...)`` in its
decorator, for example intake's duplicate application and ban). Derived per operation:

* 422 (``validation``) when it takes parameters or a body; 401 and 403 when it needs a token;
  413 when it takes a body (the request-size limit applies to every request); 409
  (``conflict``: the ``Idempotency-Key`` was used for a different request) when it runs through
  the idempotency helper; 5XX always. 429 and 503 carry ``Retry-After``.
* An example for each JSON request and success response: the model's own example when it has
  one (``json_schema_extra={"examples": [...]}``), otherwise one assembled from the examples,
  defaults and constraints of its fields. ``tests/unit/test_openapi_contract.py`` validates
  every example against its schema and model, so a wrong field example fails there.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from shared.examples import NoExample, example_of
from shared.problems import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_SCHEMA,
    Conflict,
    Forbidden,
    PayloadTooLarge,
    Problem,
    ServiceUnavailable,
    Unauthorized,
    ValidationProblem,
    problem_example,
)

__all__ = ["install_contract", "operation_id"]

_WRITE_METHODS = frozenset({"post", "put", "patch"})
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 0, "examples": [30]},
}


def operation_id(service: str):
    """``<service>_<function>``, e.g. ``intake_submit_application``: stable, readable and
    unique across the platform (FastAPI's default appends the path and method)."""

    def generate(route: APIRoute) -> str:
        return f"{service}_{route.name}"

    return generate


# --------------------------------------------------------------------------- examples


def _with_example(media: dict[str, Any], components: Mapping[str, Any]) -> None:
    if "example" in media or "examples" in media or "schema" not in media:
        return
    try:
        media["example"] = example_of(media["schema"], components)
    except NoExample:
        # Served without an example rather than failing the document; the contract test lists
        # every operation left like this.
        return


# --------------------------------------------------------------------------- problems


def _problem_response(description: str, problems: Iterable[type[Problem]]) -> dict[str, Any]:
    examples = {
        p.type.rsplit("#", 1)[-1]: {"summary": p.title, "value": problem_example(p)}
        for p in problems
    }
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA, "examples": examples}},
    }
    return response


def _merge(responses: dict[str, Any], status: str, addition: Mapping[str, Any]) -> None:
    existing = responses.get(status)
    if existing is None or PROBLEM_MEDIA_TYPE not in existing.get("content", {}):
        responses[status] = copy.deepcopy(dict(addition))
        existing = responses[status]
    else:
        target = existing["content"][PROBLEM_MEDIA_TYPE]
        target.setdefault("examples", {})
        for slug, example in addition["content"][PROBLEM_MEDIA_TYPE]["examples"].items():
            target["examples"].setdefault(slug, example)
    if status in ("429", "503"):
        existing.setdefault("headers", {})["Retry-After"] = _RETRY_AFTER


def _derived_problems(operation: Mapping[str, Any], method: str) -> dict[str, dict[str, Any]]:
    derived: dict[str, dict[str, Any]] = {}
    has_body = "requestBody" in operation
    if operation.get("parameters") or has_body:
        derived["422"] = _problem_response(
            "A field or parameter is invalid; `field` and `errors` name it.", [ValidationProblem]
        )
    if operation.get("security"):
        derived["401"] = _problem_response("No valid token.", [Unauthorized])
        derived["403"] = _problem_response("The token's role or unit may not do this.", [Forbidden])
    if has_body or method in _WRITE_METHODS:
        derived["413"] = _problem_response(
            "The request body is larger than the service accepts.", [PayloadTooLarge]
        )
    header_names = {
        p.get("name") for p in operation.get("parameters", []) if p.get("in") == "header"
    }
    if "Idempotency-Key" in header_names:
        derived["409"] = _problem_response(
            "Conflicts with the current state, or the Idempotency-Key was used for a different "
            "request.",
            [Conflict],
        )
    derived["503"] = _problem_response(
        "The database or broker is unreachable; retry after `Retry-After`.", [ServiceUnavailable]
    )
    return derived


def _complete(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    for ops in schema.get("paths", {}).values():
        for method, operation in ops.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status, addition in _derived_problems(operation, method).items():
                _merge(responses, status, addition)
            for status, response in responses.items():
                if status.startswith("4") or status.startswith("5"):
                    media = response.get("content", {}).get(PROBLEM_MEDIA_TYPE)
                    if media is not None:
                        media["schema"] = PROBLEM_SCHEMA
                    if status in ("429", "503"):
                        response.setdefault("headers", {})["Retry-After"] = _RETRY_AFTER
                    continue
                for media in response.get("content", {}).values():
                    _with_example(media, components)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _with_example(media, components)
    return schema


def install_contract(app: FastAPI) -> None:
    """Replace ``app.openapi`` with FastAPI's document completed as described above."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = _complete(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
