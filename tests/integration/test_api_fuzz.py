"""schemathesis against every service's OpenAPI document: no 5xx, and every error is problem+json.

Each service runs in-process (real PostgreSQL and RabbitMQ, ``tests.services.running_service``);
its OpenAPI document comes from the app itself. For every operation schemathesis generates
requests that fit the schema (positive) and requests that break it (negative), sent with an
admin token, plus a few anonymous ones. Two checks run on every response: schemathesis'
``not_a_server_error`` and ``problem_json_errors`` below (RFC 9457 body for every 4xx/5xx).

Why hypothesis runs in a worker thread: the services live on the session's event loop (their
engines, broker connections and background jobs are bound to it), while hypothesis drives a
synchronous test function. The worker thread generates a case, hands the request to the event
loop with ``run_coroutine_threadsafe`` and waits for the answer; the loop stays free to run the
service's relay and consumers meanwhile. (schemathesis' own ASGI transport would start a second
event loop in a thread, where the service's connections cannot be used.)

Findings are collected rather than raised one at a time, so one run lists every broken
operation; the seed is fixed (``derandomize``) so CI sees the same requests every run.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response

from tests.conftest import Infra
from tests.services import running_service, token

pytestmark = pytest.mark.integration

SERVICES = [
    "intake",
    "verification",
    "review",
    "alerting",
    "publication",
    "credit",
    "allocation",
    "tenancy",
]

# Development-only clock and the Prometheus text endpoint are not part of the business API.
SKIPPED_PATHS = {"/_dev/clock", "/metrics"}

ADMIN = token("admin", org="350200", sub="u-fuzz")

# (identity, generation mode, examples per operation)
PASSES: list[tuple[str, GenerationMode, int]] = [
    ("admin", GenerationMode.POSITIVE, 20),
    ("admin", GenerationMode.NEGATIVE, 15),
    ("anonymous", GenerationMode.POSITIVE, 5),
]

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_json_errors(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx/5xx is an RFC 9457 problem: its media type and type/title/status members."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if (
        response.status_code < 500
        and _serves_html(case)
        and content_type.split(";")[0].strip() == "text/html"
    ):
        # publication's /public/pages/* are pages for a browser: a form error (bad query
        # number, 429) is the same page with a Chinese message, which a person can read.
        return None
    assert content_type.split(";")[0].strip() == PROBLEM_MEDIA_TYPE, (
        f"{response.status_code} with content-type {content_type!r}, not {PROBLEM_MEDIA_TYPE}"
    )
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} body is not JSON: {exc}") from None
    assert isinstance(body, dict), f"problem body is {type(body).__name__}, not an object"
    missing = [name for name in ("type", "title", "status") if name not in body]
    assert not missing, f"problem body lacks {missing}"
    assert body["status"] == response.status_code, (
        f"problem status {body['status']!r} differs from HTTP status {response.status_code}"
    )
    return None


def _free_text(definition: dict[str, Any]) -> bool:
    schema = definition.get("schema") or {}
    variants = schema.get("anyOf") or [schema]
    return any(
        v.get("type") == "string" and not ({"enum", "format", "pattern"} & v.keys())
        for v in variants
    )


def _nul_strings(
    operation: schemathesis.APIOperation,
) -> tuple[dict[str, str], dict[str, str]]:
    """Query and path parameters taking free text, each set to a value holding a NUL."""
    query = {p.name: "x\x00" for p in operation.query if _free_text(p.definition)}
    path = {p.name: "x\x00" for p in operation.path_parameters if _free_text(p.definition)}
    return query, path


def _serves_html(case: Case) -> bool:
    """The operation documents an HTML page as its success response."""
    responses = case.operation.definition.raw.get("responses", {})
    return any("text/html" in (r.get("content") or {}) for r in responses.values())


@dataclass
class Finding:
    operation: str
    identity: str
    mode: str
    title: str
    status: int
    message: str
    request: str
    body: str


@dataclass
class Report:
    findings: dict[tuple[str, str, int], Finding] = field(default_factory=dict)
    requests: int = 0
    operations: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def add(self, finding: Finding) -> None:
        # One example per operation, check and status is enough to act on.
        self.findings.setdefault((finding.operation, finding.title, finding.status), finding)


def _httpx_kwargs(case: Case, headers: dict[str, str]) -> dict[str, Any]:
    """The requests-style kwargs schemathesis serialises a case to, adapted to httpx."""
    raw = case.as_transport_kwargs(base_url="http://fuzz", headers=headers)
    kwargs: dict[str, Any] = {
        "method": raw["method"],
        "url": raw["url"],
        # Generated header values may hold any latin-1 text; httpx would encode str as ASCII.
        "headers": {k: str(v).encode("latin-1") for k, v in (raw.get("headers") or {}).items()},
        "params": raw.get("params") or None,
    }
    if raw.get("cookies"):
        cookie = "; ".join(f"{k}={v}" for k, v in raw["cookies"].items())
        kwargs["headers"]["Cookie"] = cookie.encode("latin-1")
    if "json" in raw:
        kwargs["json"] = raw["json"]
    elif "data" in raw:
        data = raw["data"]
        kwargs["content" if isinstance(data, bytes | str) else "data"] = data
    if "files" in raw:
        kwargs["files"] = raw["files"]
    return kwargs


def _fuzz_operations(
    schema: schemathesis.BaseSchema,
    send: Callable[[dict[str, Any]], httpx.Response],
    report: Report,
) -> None:
    """Runs in a worker thread: generate, send through the event loop, check, record."""
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIPPED_PATHS:
            continue
        report.operations.append(operation.label)
        for identity, mode, examples in PASSES:
            _fuzz_pass(operation, identity, mode, examples, send, report)
        query, path = _nul_strings(operation)
        if query or path:
            # Random text rarely puts a NUL into every free-text parameter at once, and
            # PostgreSQL rejects NUL in text: each such parameter gets one, deliberately.
            _fuzz_pass(operation, "admin", GenerationMode.POSITIVE, 3, send, report, query, path)


def _fuzz_pass(
    operation: schemathesis.APIOperation,
    identity: str,
    mode: GenerationMode,
    examples: int,
    send: Callable[[dict[str, Any]], httpx.Response],
    report: Report,
    query: dict[str, str] | None = None,
    path: dict[str, str] | None = None,
) -> None:
    headers = ADMIN if identity == "admin" else {}
    strategy = operation.as_strategy(generation_mode=mode, query=query, path_parameters=path)

    @given(case=strategy)
    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        kwargs = _httpx_kwargs(case, headers)
        if identity == "anonymous":
            kwargs["headers"].pop("Authorization", None)
        response = send(kwargs)
        report.requests += 1
        report.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error, problem_json_errors])
        except FailureGroup as group:
            for failure in group.exceptions:
                report.add(
                    Finding(
                        operation=operation.label,
                        identity=identity,
                        mode=mode.value,
                        title=failure.title,
                        status=response.status_code,
                        message=failure.message,
                        request=_describe(kwargs),
                        body=response.text[:500],
                    )
                )

    try:
        run()
    except Unsatisfiable:
        # Negative mode has nothing to break in an operation without parameters or body.
        if mode is not GenerationMode.NEGATIVE:
            raise


def _describe(kwargs: dict[str, Any]) -> str:
    headers = {
        k: v.decode("latin-1")
        for k, v in kwargs["headers"].items()
        if k.lower() not in {"authorization", "user-agent", "x-schemathesis-testcaseid"}
    }
    parts = [f"{kwargs['method']} {kwargs['url']}"]
    if kwargs.get("params"):
        parts.append(f"params={kwargs['params']!r}")
    if headers:
        parts.append(f"headers={headers!r}")
    for key in ("json", "content", "data"):
        if key in kwargs:
            parts.append(f"{key}={kwargs[key]!r}"[:600])
    return " ".join(parts)


def _format(report: Report) -> str:
    lines = [f"{len(report.findings)} finding(s):"]
    for f in report.findings.values():
        lines.append(
            f"- {f.operation} [{f.identity}/{f.mode}] {f.title} -> {f.status}\n"
            f"  request: {f.request}\n  response: {f.body}\n  {f.message.strip()[:300]}"
        )
    return "\n".join(lines)


@pytest.mark.parametrize("service", SERVICES)
async def test_api_answers_problem_json_and_never_5xx(infra: Infra, service: str) -> None:
    async with running_service(infra, service, system="fuzz") as svc:
        schema = schemathesis.openapi.from_dict(svc.app.openapi())
        loop = asyncio.get_running_loop()

        def send(kwargs: dict[str, Any]) -> httpx.Response:
            future = asyncio.run_coroutine_threadsafe(svc.client.request(**kwargs), loop)
            return future.result(timeout=60)

        report = Report()
        await asyncio.to_thread(_fuzz_operations, schema, send, report)

    statuses = dict(sorted(report.statuses.items()))
    print(f"{service}: {len(report.operations)} operations, {report.requests} requests {statuses}")
    assert report.operations, "no operation fuzzed"
    assert not report.findings, _format(report)
