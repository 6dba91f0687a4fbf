"""JSON payloads sealed with Fernet (AES-128-CBC + HMAC-SHA256) under a key ring.

One implementation for every place that keeps a payload only its own service may read: the
workbench's session cookie and intake's application drafts (网上申请草稿). Keys are given
newest first: the first encrypts, every key decrypts, so a key is rotated by putting the new
one in front and dropping the old one once nothing sealed with it is still wanted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["JsonSealer", "fernet_key_problem", "new_key"]


def new_key() -> str:
    """A new random key (base64url of 32 bytes)."""
    return Fernet.generate_key().decode()


def fernet_key_problem(key: str) -> str | None:
    """None for a usable key, else why not (for a settings validator's message)."""
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        return "not a Fernet key (base64url of 32 bytes)"
    return None


class JsonSealer:
    """Seals JSON objects into URL-safe tokens and opens them again; keys newest first."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, payload: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(payload, separators=(",", ":")).encode()).decode()

    def open(
        self, value: str | None, *, max_age_seconds: float | None = None
    ) -> dict[str, Any] | None:
        """The payload, or None when there is none, it was altered, sealed under a key no
        longer in the ring, or is older than ``max_age_seconds``."""
        if not value:
            return None
        try:
            if max_age_seconds is None:
                raw = self._fernet.decrypt(value.encode())
            else:
                raw = self._fernet.decrypt(value.encode(), ttl=int(max_age_seconds))
        except (InvalidToken, ValueError):
            return None
        data = json.loads(raw)
        return data if isinstance(data, dict) else None
