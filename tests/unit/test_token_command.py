"""The development token command signs Ed25519 tokens without importing PyJWT (most of its
start-up time once; test_auth checks what it imports), and those tokens are exactly what PyJWT
writes and verifies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt

from shared.auth.tokens import (
    ALL_AUDIENCES,
    DEV_SIGNING_KEY,
    _signing_key,
    audience_of,
    dev_jwks,
    issue_token,
    token_keys,
    verify_token,
)
from shared.jwk import unb64url


def test_an_ed25519_token_is_byte_for_byte_what_pyjwt_writes() -> None:
    issued = datetime(2026, 12, 3, 8, 30, 15, 123456, tzinfo=UTC)
    token = issue_token(
        sub="dev-street_clerk-350203001",
        name="开发测试用户",
        roles=["street_clerk", "portal"],
        org="350203001",
        now=issued,
        ttl=timedelta(hours=2),
    )
    claims = json.loads(unb64url(token.split(".")[1]))
    assert claims["iat"] == claims["nbf"] == int(issued.timestamp())
    assert claims["exp"] == int(issued.timestamp()) + 7200
    assert claims["aud"] == list(ALL_AUDIENCES)
    signing = _signing_key(DEV_SIGNING_KEY)
    written_by_pyjwt = jwt.encode(
        {**claims, "iat": issued, "nbf": issued, "exp": issued + timedelta(hours=2)},
        signing.key,
        algorithm="EdDSA",
        headers={"kid": signing.kid},
    )
    assert token == written_by_pyjwt


def test_the_lean_token_verifies_as_every_token_does() -> None:
    token = issue_token(sub="s", name="名", roles=["district_reviewer"], org="350203")
    principal = verify_token(token, keys=token_keys(""), audience=audience_of("review"))
    assert (principal.sub, principal.org, principal.roles) == (
        "s",
        "350203",
        frozenset({"district_reviewer"}),
    )
    assert token_keys("").kids == {k["kid"] for k in dev_jwks()["keys"]}
