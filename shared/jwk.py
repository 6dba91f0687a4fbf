"""Ed25519 keys as JSON Web Keys (RFC 8037): base64url values, RFC 7638 thumbprints as key
ids, and JWK Sets. Shared by the audit checkpoints and the bearer tokens."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "b64url",
    "ed25519_from_seed",
    "jwks",
    "key_id",
    "public_jwk",
    "public_key_from_jwk",
    "public_x",
    "unb64url",
]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def unb64url(text: str) -> bytes:
    # The decoder alone skips characters outside the alphabet; a key or signature with any
    # is malformed, not something to guess at.
    if not _BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_x(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes_raw()
    return b64url(raw)


def key_id(x: str) -> str:
    """RFC 7638 thumbprint of the Ed25519 public key ``x`` (base64url)."""
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return b64url(hashlib.sha256(members.encode("ascii")).digest())


def public_jwk(x: str) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": key_id(x), "use": "sig", "alg": "EdDSA"}


def jwks(keys: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """A JWK Set of public keys given as base64url ``x`` values."""
    return {"keys": [public_jwk(x) for x in keys]}


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise ValueError("not an Ed25519 public key (expected kty OKP, crv Ed25519, x)")
    try:
        return Ed25519PublicKey.from_public_bytes(unb64url(jwk["x"]))
    except (ValueError, binascii.Error) as exc:
        raise ValueError("the key's x is not a 32-byte base64url value") from exc


def ed25519_from_seed(seed_text: str, what: str) -> Ed25519PrivateKey:
    """The private key of a base64url 32-byte seed (how the platform's secrets are written)."""
    try:
        seed = unb64url(seed_text.strip())
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"{what} is not base64url") from exc
    if len(seed) != 32:
        raise ValueError(f"{what} must be a 32-byte Ed25519 seed")
    return Ed25519PrivateKey.from_private_bytes(seed)
