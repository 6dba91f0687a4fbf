"""Issuing and verifying the platform's OAuth2 bearer JWTs.

Tokens are signed asymmetrically (EdDSA with Ed25519, or RS256 with at least 2048-bit keys) by
the identity provider; the services hold only the public keys, as a JWK Set
(``HOUSING_TOKEN_JWKS``), so no service can mint a token for another. Each key has a key id
(``kid``); a token names the key it was signed with, and a set may hold the old and the new key
while a rotation overlaps. Each service accepts only tokens meant for it (``aud`` holds
``housing-<service>``) and never one that lives longer than its maximum lifetime.

Development: the development identity provider's key (``DEV_SIGNING_KEY``) signs the tokens of
``python -m shared.auth token`` and the tests; services trust it when no key set is given, and
production refuses a key set that contains it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth.principal import Principal
from shared.dev_keys import DEV_SIGNING_KEY
from shared.jwk import b64url, ed25519_from_seed, public_jwk, public_x
from shared.service_names import SERVICES

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

# PyJWT (and with it most of cryptography: X.509, RSA, EC) is imported where a token is
# verified or an RSA key is used, not at import: the development token command signs with
# Ed25519 only, and those imports were most of its start-up time.

__all__ = [
    "ALL_AUDIENCES",
    "DEV_SIGNING_KEY",
    "ISSUER",
    "TokenKeys",
    "audience_of",
    "dev_jwks",
    "issue_token",
    "public_jwks_of",
    "token_keys",
    "verify_token",
]

ISSUER = "housing-platform"
ALGORITHMS = ("EdDSA", "RS256")
MIN_RSA_BITS = 2048
SERVICE_NAMES = SERVICES


def audience_of(service: str) -> str:
    """The ``aud`` a service accepts (its default ``HOUSING_TOKEN_AUDIENCE``)."""
    return f"housing-{service}"


ALL_AUDIENCES = tuple(audience_of(s) for s in SERVICE_NAMES)


@dataclass(frozen=True)
class _SigningKey:
    kid: str
    algorithm: str
    key: Ed25519PrivateKey | RSAPrivateKey


def _rsa_thumbprint(n: str, e: str) -> str:
    members = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"))
    return b64url(hashlib.sha256(members.encode("ascii")).digest())


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _public_jwk_of(key: Ed25519PrivateKey | RSAPrivateKey) -> dict[str, str]:
    if isinstance(key, Ed25519PrivateKey):
        return public_jwk(public_x(key.public_key()))
    numbers = key.public_key().public_numbers()
    n, e = _int_b64(numbers.n), _int_b64(numbers.e)
    return {
        "kty": "RSA",
        "n": n,
        "e": e,
        "kid": _rsa_thumbprint(n, e),
        "use": "sig",
        "alg": "RS256",
    }


@functools.lru_cache(maxsize=8)
def _signing_key(text: str) -> _SigningKey:
    """A base64url Ed25519 seed, or a PEM private key (Ed25519, or RSA of 2048 bits or more)."""
    text = text.strip()
    key: Ed25519PrivateKey | RSAPrivateKey
    if text.startswith("-----BEGIN"):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

        loaded = serialization.load_pem_private_key(text.encode(), password=None)
        if isinstance(loaded, RSAPrivateKey):
            if loaded.key_size < MIN_RSA_BITS:
                raise ValueError(f"an RSA signing key needs at least {MIN_RSA_BITS} bits")
            key = loaded
        elif isinstance(loaded, Ed25519PrivateKey):
            key = loaded
        else:
            raise ValueError("the signing key must be Ed25519 or RSA")
    else:
        key = ed25519_from_seed(text, "the token signing key")
    jwk = _public_jwk_of(key)
    return _SigningKey(jwk["kid"], jwk["alg"], key)


def public_jwks_of(signing_key: str) -> dict[str, list[dict[str, str]]]:
    """The JWK Set the services need to trust tokens signed with ``signing_key``."""
    key = _signing_key(signing_key).key
    return {"keys": [_public_jwk_of(key)]}


def dev_jwks() -> dict[str, list[dict[str, str]]]:
    return public_jwks_of(DEV_SIGNING_KEY)


@dataclass(frozen=True)
class _VerifyingKey:
    algorithm: str
    key: Any


class TokenKeys:
    """The public keys a service verifies tokens with, by key id."""

    def __init__(self, keys: Mapping[str, _VerifyingKey]) -> None:
        self._keys = dict(keys)

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def get(self, kid: object) -> _VerifyingKey | None:
        return self._keys.get(kid) if isinstance(kid, str) else None

    @classmethod
    def from_jwks(cls, document: Mapping[str, Any]) -> TokenKeys:
        entries = document.get("keys")
        if not isinstance(entries, list) or not entries:
            raise ValueError("the token key set has no keys")
        import jwt

        keys: dict[str, _VerifyingKey] = {}
        for n, jwk in enumerate(entries, start=1):
            if not isinstance(jwk, Mapping):
                raise ValueError(f"key {n} of the token key set is not an object")
            kid = jwk.get("kid")
            if not isinstance(kid, str) or not kid:
                raise ValueError(f"key {n} of the token key set has no kid")
            if kid in keys:
                raise ValueError(f"kid {kid!r} appears twice in the token key set")
            if "d" in jwk or "p" in jwk:
                # A service holding a private key could mint tokens for every other.
                raise ValueError(f"key {kid!r} of the token key set is a private key")
            kty = jwk.get("kty")
            if kty == "OKP" and jwk.get("crv") == "Ed25519":
                algorithm = "EdDSA"
            elif kty == "RSA":
                algorithm = "RS256"
            else:
                raise ValueError(f"key {kid!r}: only Ed25519 (OKP) and RSA keys are accepted")
            if jwk.get("alg") not in (None, algorithm):
                raise ValueError(f"key {kid!r} says alg {jwk.get('alg')!r}, not {algorithm}")
            try:
                key = jwt.PyJWK(dict(jwk), algorithm=algorithm).key
            except jwt.PyJWKError as exc:
                raise ValueError(f"key {kid!r} of the token key set is malformed") from exc
            if algorithm == "RS256" and key.key_size < MIN_RSA_BITS:
                raise ValueError(f"key {kid!r} has {key.key_size} bits; {MIN_RSA_BITS} needed")
            keys[kid] = _VerifyingKey(algorithm, key)
        return cls(keys)


@functools.lru_cache(maxsize=16)
def token_keys(jwks_setting: str) -> TokenKeys:
    """The key set of ``HOUSING_TOKEN_JWKS``: JSON text, a file holding it, or empty for the
    development key set."""
    text = jwks_setting.strip()
    if not text:
        return TokenKeys.from_jwks(dev_jwks())
    if not text.startswith("{"):
        text = Path(text).read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError("the token key set is not JSON") from exc
    if not isinstance(document, Mapping):
        raise ValueError("the token key set is not a JSON object")
    return TokenKeys.from_jwks(document)


def issue_token(
    *,
    sub: str,
    name: str,
    roles: Iterable[str],
    org: str,
    key: str = DEV_SIGNING_KEY,
    ttl: timedelta = timedelta(hours=12),
    now: datetime | None = None,
    audience: str | Sequence[str] = ALL_AUDIENCES,
    issuer: str = ISSUER,
) -> str:
    """A token for ``sub`` signed with ``key`` (a base64url Ed25519 seed or a PEM private key),
    for the services named in ``audience`` (all of them by default).

    ``now`` defaults to real UTC time, not the platform's movable clock: verification checks
    ``exp`` and ``iat`` against real time, and a token issued in a shifted clock would be
    refused as not yet valid.
    """
    issued = now if now is not None else datetime.now(UTC)
    if issued.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    signing = _signing_key(key)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience if isinstance(audience, str) else list(audience),
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
    if isinstance(signing.key, Ed25519PrivateKey):
        return _ed25519_compact(claims, signing.kid, signing.key)
    import jwt

    return jwt.encode(
        claims, signing.key, algorithm=signing.algorithm, headers={"kid": signing.kid}
    )


def _ed25519_compact(claims: Mapping[str, Any], kid: str, key: Ed25519PrivateKey) -> str:
    """The JWS compact serialisation (RFC 7515) of ``claims`` signed with Ed25519, written
    exactly as ``jwt.encode`` writes it (sorted header, compact JSON, times as integer
    seconds; Ed25519 is deterministic, so a test compares the two byte for byte) without
    importing PyJWT."""
    header = {"alg": "EdDSA", "kid": kid, "typ": "JWT"}
    payload = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
    )
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def verify_token(
    token: str,
    *,
    keys: TokenKeys,
    audience: str,
    issuer: str = ISSUER,
    max_lifetime: timedelta = timedelta(hours=12),
    leeway: timedelta = timedelta(seconds=30),
) -> Principal:
    """The principal of a valid token; ``Unauthorized`` (令牌无效 / 令牌已过期) otherwise.

    The token must name a key of ``keys`` and be signed with that key's algorithm (so a token
    "signed" with HS256 and the public key as its secret is refused), be meant for
    ``audience``, and live no longer than ``max_lifetime``. ``leeway`` absorbs clock
    differences between the machines that issue and verify.
    """
    # Imported here: the token command signs tokens and needs no web framework.
    import jwt

    from shared.problems import Unauthorized

    invalid = Unauthorized("令牌无效", bearer_error="invalid_token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise invalid from None
    entry = keys.get(header.get("kid"))
    if entry is None or header.get("alg") != entry.algorithm:
        raise invalid
    try:
        claims = jwt.decode(
            token,
            entry.key,
            algorithms=[entry.algorithm],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("令牌已过期", bearer_error="invalid_token") from None
    except jwt.InvalidTokenError:
        # No detail on which check failed: it would help someone forging tokens, not the user.
        raise invalid from None

    sub, name, roles, org = (claims.get(k) for k in ("sub", "name", "roles", "org"))
    lifetime = claims["exp"] - claims["iat"]
    if not (
        isinstance(sub, str)
        and sub
        and isinstance(name, str)
        and isinstance(org, str)
        and isinstance(roles, list)
        and all(isinstance(r, str) for r in roles)
        and isinstance(lifetime, int | float)
        and lifetime <= max_lifetime.total_seconds()
    ):
        raise invalid
    return Principal(sub=sub, name=name, roles=frozenset(roles), org=org)
