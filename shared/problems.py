"""The platform's exception hierarchy and its one mapping to RFC 9457 problem responses.

Domain and API code raise a ``Problem`` subclass; ``install_problem_handlers`` turns it, request
validation failures, Starlette HTTP errors and anything unexpected into
``application/problem+json`` bodies with a stable ``type``. Every text that leaves here passes
through ``shared.pii.scrub``: a detail must never carry a full ID or mobile number, even when a
caller put one there by mistake.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.pii import scrub, scrub_value

__all__ = [
    "PROBLEM_BASE",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_RESPONSES",
    "PROBLEM_SCHEMA",
    "Conflict",
    "Forbidden",
    "Gone",
    "NotFound",
    "PreconditionFailed",
    "Problem",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "ValidationProblem",
    "install_problem_handlers",
    "known_problem_types",
    "problem_example",
    "problem_response",
    "problem_responses",
    "problem_type",
]

log = structlog.get_logger(__name__)

# A relative reference (RFC 9457 §3.1.1 allows it): it resolves against the service that
# answered, and every service serves ``/problems`` with one anchor per type, so the URI opens
# its explanation on an intranet that reaches no outside host (``shared.docs``).
PROBLEM_BASE = "/problems#"
PROBLEM_MEDIA_TYPE = "application/problem+json"

_RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance"})

_SLUGS: list[str] = []


def problem_type(slug: str) -> str:
    """The stable ``type`` URI for a slug; services use it for their own subclasses. Every slug
    named here is listed on the ``/problems`` page."""
    if slug not in _SLUGS:
        _SLUGS.append(slug)
    return PROBLEM_BASE + slug


class Problem(Exception):
    """An error with a meaning for the client. Subclasses fix ``status``, ``type``, ``title``.

    ``extra`` members are added to the JSON body (for example ``ban_ends_on``); they cannot
    replace the standard members.
    """

    # Plain class attributes rather than ClassVar: the HTTP mapping below sets them per instance.
    status: int = 500
    type: str = problem_type("internal")
    title: str = "服务器内部错误"

    def __init__(
        self,
        detail: str | None = None,
        field: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.detail = detail if detail is not None else self.title
        self.field = field
        self.extra = dict(extra or {})
        super().__init__(self.detail)

    def headers(self) -> dict[str, str]:
        """Response headers this problem needs (authentication challenge, Retry-After)."""
        return {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem+json members, scrubbed of personal data."""
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": scrub(self.detail),
        }
        if instance is not None:
            body["instance"] = instance
        if self.field is not None:
            body["field"] = self.field
        for key, value in self.extra.items():
            if key not in _RESERVED_MEMBERS:
                body[key] = scrub_value(jsonable_encoder(value))
        return body

    def __str__(self) -> str:
        return f"{self.title}: {self.detail}"


class ValidationProblem(Problem):
    status = 422
    type = problem_type("validation")
    title = "请求内容不符合要求"


class Unauthorized(Problem):
    """401; ``bearer_error`` becomes the RFC 6750 ``error`` attribute of the challenge."""

    status = 401
    type = problem_type("unauthorized")
    title = "未认证或认证已失效"

    def __init__(
        self,
        detail: str | None = None,
        field: str | None = None,
        extra: Mapping[str, Any] | None = None,
        *,
        bearer_error: str | None = None,
    ) -> None:
        super().__init__(detail, field, extra)
        self.bearer_error = bearer_error

    def headers(self) -> dict[str, str]:
        if self.bearer_error:
            return {"WWW-Authenticate": f'Bearer error="{self.bearer_error}"'}
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(Problem):
    status = 403
    type = problem_type("forbidden")
    title = "无权执行此操作"


class NotFound(Problem):
    status = 404
    type = problem_type("not-found")
    title = "资源不存在"


class Conflict(Problem):
    status = 409
    type = problem_type("conflict")
    title = "与当前状态冲突"


class Gone(Problem):
    status = 410
    type = problem_type("gone")
    title = "资源已不可用"


class PreconditionFailed(Problem):
    status = 412
    type = problem_type("precondition-failed")
    title = "前置条件不满足"


class _RetryLater(Problem):
    def __init__(
        self,
        detail: str | None = None,
        field: str | None = None,
        extra: Mapping[str, Any] | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail, field, extra)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(int(self.retry_after))}


class PayloadTooLarge(Problem):
    status = 413
    type = problem_type("payload-too-large")
    title = "请求内容过大"


class TooManyRequests(_RetryLater):
    status = 429
    type = problem_type("too-many-requests")
    title = "请求过于频繁"


class ServiceUnavailable(_RetryLater):
    status = 503
    type = problem_type("service-unavailable")
    title = "服务暂不可用"


# --------------------------------------------------------------------------- responses


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    """The problem+json response for ``problem``; usable from middleware too."""
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        headers=problem.headers(),
        media_type=PROBLEM_MEDIA_TYPE,
    )


_INTERNAL_DETAIL = "服务器处理请求时发生错误，请稍后重试；如问题持续，请联系运维人员。"

# Statuses Starlette and FastAPI raise themselves (unknown route, wrong method, bad body...):
# type, title, and the detail that replaces Starlette's English reason phrase.
_HTTP_PROBLEMS: dict[int, tuple[str, str, str]] = {
    400: (problem_type("bad-request"), "请求无效", "请求格式不正确"),
    401: (Unauthorized.type, Unauthorized.title, "需要身份令牌"),
    403: (Forbidden.type, Forbidden.title, "无权访问该资源"),
    404: (NotFound.type, NotFound.title, "请求的地址不存在"),
    405: (problem_type("method-not-allowed"), "不支持的请求方法", "该地址不支持此请求方法"),
    406: (problem_type("not-acceptable"), "无法提供所需格式", "无法按请求的格式返回内容"),
    409: (Conflict.type, Conflict.title, Conflict.title),
    413: (problem_type("payload-too-large"), "请求内容过大", "请求内容超过允许的大小"),
    415: (problem_type("unsupported-media-type"), "不支持的内容类型", "请求内容类型不受支持"),
    429: (TooManyRequests.type, TooManyRequests.title, "请稍后再试"),
    500: (Problem.type, Problem.title, _INTERNAL_DETAIL),
    503: (ServiceUnavailable.type, ServiceUnavailable.title, "请稍后再试"),
}


_REQUEST_FAILED = problem_type("request-failed")


def _http_problem(exc: StarletteHTTPException) -> Problem:
    phrase = _status_phrase(exc.status_code)
    type_, title, default_detail = _HTTP_PROBLEMS.get(
        exc.status_code, (_REQUEST_FAILED, "请求未能完成", "请求未能完成")
    )
    detail = exc.detail if isinstance(exc.detail, str) else None
    # Starlette's default detail is the English reason phrase; replace it with Chinese text and
    # keep only details a developer wrote on purpose.
    if detail is None or detail == phrase:
        detail = default_detail

    problem = Problem(detail)
    problem.status = exc.status_code
    problem.type = type_
    problem.title = title
    return problem


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# --------------------------------------------------------------------------- request validation

_CJK = re.compile(r"[\u4e00-\u9fff]")
_MISSING = {"missing", "missing_argument", "missing_keyword_only_argument"}
_RANGE = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "multiple_of",
    "finite_number",
    "decimal_max_digits",
    "decimal_max_places",
    "decimal_whole_digits",
}
_DATE_RANGE = {"date_past", "date_future", "datetime_past", "datetime_future"}
_CHOICE = {"enum", "literal_error"}
_FORMAT = {
    "string_pattern_mismatch",
    "url_syntax_violation",
    "uuid_version",
    "date_from_datetime_inexact",
    "timezone_aware",
    "timezone_naive",
}
_FIXED_TEXT = {
    "extra_forbidden": "不允许的字段",
    "unexpected_keyword_argument": "不允许的字段",
    "json_invalid": "请求体不是有效的JSON",
    "string_too_short": "长度不足",
    "string_too_long": "长度超出限制",
    "too_short": "数量不足",
    "too_long": "数量超出限制",
}
_GENERIC_TEXT = "内容不符合要求"
_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def _error_text(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    message = str(error.get("msg", ""))
    # Our own validators (shared.pii.ResidentId, services' ValueErrors) speak Chinese; their
    # message is more useful than a generic one, unless it quotes the input.
    if _CJK.search(message):
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        value = error.get("input")
        if not (isinstance(value, str) and value.strip() and value.strip() in message):
            return message
    if kind in _MISSING:
        return "缺少必填字段"
    if kind in _FIXED_TEXT:
        return _FIXED_TEXT[kind]
    if kind in _RANGE:
        return "数值超出范围"
    if kind in _DATE_RANGE:
        return "日期超出范围"
    if kind in _CHOICE:
        return "取值不在允许范围内"
    if kind in _FORMAT or kind.endswith(("_parsing", "_type")):
        return "格式不正确"
    return _GENERIC_TEXT


def _error_field(error: Mapping[str, Any]) -> str:
    loc: Sequence[Any] = error.get("loc", ())
    location = str(loc[0]) if loc else "body"
    path = list(loc[1:]) if loc and loc[0] in _LOCATIONS else list(loc)
    if error.get("type") == "json_invalid":
        # The location is a character offset into the body, not a field.
        return location
    return ".".join(str(part) for part in path) or location


def field_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Pydantic errors as ``{"field", "detail"}`` in Chinese, never quoting the input (an import
    report names row and field without echoing the ID number that failed)."""
    return [{"field": _error_field(e), "detail": scrub(_error_text(e))} for e in errors]


def _validation_problem(exc: RequestValidationError) -> ValidationProblem:
    errors = field_errors(exc.errors())
    if not errors:
        return ValidationProblem(_GENERIC_TEXT, extra={"errors": []})
    first = errors[0]
    detail = f"{first['field']}：{first['detail']}"
    if len(errors) > 1:
        detail += f"（另有{len(errors) - 1}处问题）"
    return ValidationProblem(detail, field=first["field"], extra={"errors": errors})


# --------------------------------------------------------------------------- handlers


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    if exc.status >= 500:
        log.warning("request_problem", status=exc.status, type=exc.type, detail=exc.detail)
    return problem_response(exc, request.url.path)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(_validation_problem(exc), request.url.path)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = problem_response(_http_problem(exc), request.url.path)
    # Keep what the framework set, e.g. the Allow header of a 405.
    for name, value in (exc.headers or {}).items():
        response.headers.setdefault(name, value)
    return response


async def _on_unhandled(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log (masked by shared.pii.mask_pii), never to the client.
    log.error("unhandled_exception", method=request.method, path=request.url.path, exc_info=exc)
    extra: dict[str, Any] = {}
    context = structlog.contextvars.get_contextvars()
    if context.get("correlation_id"):
        # Lets a clerk quote one id that operations can find in the logs.
        extra["correlation_id"] = context["correlation_id"]
    problem = Problem(_INTERNAL_DETAIL, extra=extra)
    return problem_response(problem, request.url.path)


# PostgreSQL stores no NUL in text (22021) and no \u0000 in jsonb (22P05). Such a character
# can only come from the request, so it is the client's error, whichever column it reaches.
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if getattr(exc.orig, "sqlstate", None) not in _UNSTORABLE_TEXT:
        raise exc  # a real database failure: the generic 500 handler below answers it
    problem = ValidationProblem("请求内容含有不允许的控制字符（如 NUL），请删除后重新提交")
    return problem_response(problem, request.url.path)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` an ``application/problem+json`` response."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(DBAPIError, _on_database_error)
    # Starlette calls this from its outermost middleware and then re-raises, so servers still
    # see the failure; the client only ever gets the generic body.
    app.add_exception_handler(Exception, _on_unhandled)


# --------------------------------------------------------------------------- OpenAPI

# Inline schema without $ref: it must resolve in every service's document whether or not a
# route mentions a problem model.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri-reference",
            "examples": [problem_type("validation")],
        },
        "title": {"type": "string", "examples": [ValidationProblem.title]},
        "status": {"type": "integer", "examples": [422]},
        "detail": {"type": "string", "examples": ["members.0.resident_id：身份证号码校验位错误"]},
        "instance": {"type": "string", "examples": ["/applications"]},
        "field": {"type": "string", "description": "Dotted path of the offending field"},
        "errors": {
            "type": "array",
            "description": "Every field error of a validation problem",
            "items": {
                "type": "object",
                "required": ["field", "detail"],
                "properties": {"field": {"type": "string"}, "detail": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}


def _documented(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}},
    }


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": _documented("Client error (problem+json)"),
    "5XX": _documented("Server error (problem+json)"),
}
"""``responses=`` for FastAPI apps and routers: documents problem+json for 4xx and 5xx."""


def problem_example(problem: type[Problem]) -> dict[str, Any]:
    """The body a ``problem`` class answers with its default detail (an OpenAPI example)."""
    return problem().body()


def problem_responses(*problems: type[Problem]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that answers these problems besides the ones every operation
    documents (``shared.openapi`` derives those): one problem+json response per status, with
    an example per type."""
    by_status: dict[int | str, dict[str, Any]] = {}
    for problem in problems:
        response = by_status.setdefault(
            problem.status,
            {
                "description": problem.title,
                "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA, "examples": {}}},
            },
        )
        examples = response["content"][PROBLEM_MEDIA_TYPE]["examples"]
        if examples:
            response["description"] += f"; {problem.title}"
        slug = problem.type.rsplit("#", 1)[-1]
        examples[slug] = {"summary": problem.title, "value": problem_example(problem)}
    return by_status


def known_problem_types() -> dict[str, list[tuple[int, str, str]]]:
    """Every problem type this process can answer: slug -> (status, title, explanation) of the
    classes (and framework errors) that use it, in the order the slugs were defined."""
    found: dict[str, list[tuple[int, str, str]]] = {slug: [] for slug in _SLUGS}

    def add(type_: str, status: int, title: str, doc: str) -> None:
        slug = type_.removeprefix(PROBLEM_BASE)
        entries = found.setdefault(slug, [])
        if all((status, title) != (s, t) for s, t, _ in entries):
            entries.append((status, title, doc))

    pending: list[type[Problem]] = [Problem]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        doc = (cls.__doc__ or "").strip().split("\n\n")[0] if "__doc__" in vars(cls) else ""
        add(cls.type, cls.status, cls.title, " ".join(doc.split()))
    for status, (type_, title, detail) in sorted(_HTTP_PROBLEMS.items()):
        add(type_, status, title, detail)
    add(_REQUEST_FAILED, 400, "请求未能完成", "其他未能完成的请求")
    return found
