"""Issuing and verifying the platform's OAuth2 bearer JWTs."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from shared.auth.principal import Principal

__all__ = [
    "AUDIENCE",
    "DEV_SIGNING_KEY",
    "ISSUER",
    "issue_token",
    "verify_token",
]

# Development only; settings refuse it in production.
from shared.dev_keys import DEV_SIGNING_KEY

AUDIENCE = "housing-platform"
ISSUER = "housing-platform"


def _check_algorithm(algorithm: str) -> str:
    # "none" would accept unsigned tokens.
    if not algorithm or algorithm.lower() == "none":
        raise ValueError("a signing algorithm is required")
    return algorithm


def issue_token(
    *,
    sub: str,
    name: str,
    roles: Iterable[str],
    org: str,
    key: str | bytes,
    algorithm: str = "HS256",
    ttl: timedelta = timedelta(hours=12),
    now: datetime | None = None,
    audience: str = AUDIENCE,
    issuer: str = ISSUER,
) -> str:
    """A signed token for ``sub``.

    ``now`` defaults to real UTC time, not the platform's movable clock: verification checks
    ``exp`` and ``iat`` against real time, and a token issued in a shifted clock would be
    refused as not yet valid.
    """
    issued = now if now is not None else datetime.now(UTC)
    if issued.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "name": name,
        "roles": sorted(set(roles)),
        "org": org,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        # Lets the audit log tell two sessions of one user apart.
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=_check_algorithm(algorithm))


def verify_token(
    token: str,
    *,
    key: str | bytes,
    algorithm: str = "HS256",
    audience: str = AUDIENCE,
    issuer: str = ISSUER,
    leeway: timedelta = timedelta(seconds=30),
) -> Principal:
    """The principal of a valid token; ``Unauthorized`` (令牌无效 / 令牌已过期) otherwise.

    ``leeway`` absorbs clock differences between the machines that issue and verify.
    """
    # Imported here: the token command signs tokens and needs no web framework.
    from shared.problems import Unauthorized

    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[_check_algorithm(algorithm)],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("令牌已过期", bearer_error="invalid_token") from None
    except jwt.InvalidTokenError:
        # No detail on which check failed: it would help someone forging tokens, not the user.
        raise Unauthorized("令牌无效", bearer_error="invalid_token") from None

    sub, name, roles, org = (claims.get(k) for k in ("sub", "name", "roles", "org"))
    if not (
        isinstance(sub, str)
        and sub
        and isinstance(name, str)
        and isinstance(org, str)
        and isinstance(roles, list)
        and all(isinstance(r, str) for r in roles)
    ):
        raise Unauthorized("令牌无效", bearer_error="invalid_token")
    return Principal(sub=sub, name=name, roles=frozenset(roles), org=org)
