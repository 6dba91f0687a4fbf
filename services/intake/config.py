"""Intake settings that are not part of the shared ``ServiceSettings``.

``HOUSING_ID_HASH_KEY`` is the key of :func:`shared.pii.keyed_hash` for resident IDs. Intake
hashes members with it (``application.submitted.member_id_hashes``, the duplicate check) and
credit hashes banned people with it (``credit.ban_imposed.id_hash``): both services must read
the same value, or bans silently stop matching.
"""

from __future__ import annotations

import os

ID_HASH_KEY_ENV = "HOUSING_ID_HASH_KEY"
DEV_ID_HASH_KEY = "dev-only-id-hash-key"


def id_hash_key() -> str:
    """The platform's id-hash key; the development default when the variable is unset.

    Production refuses the default: with a publicly known key the hashes in events could be
    reversed by enumerating the ~10^10 plausible resident IDs.
    """
    key = os.environ.get(ID_HASH_KEY_ENV) or DEV_ID_HASH_KEY
    if key == DEV_ID_HASH_KEY and os.environ.get("HOUSING_ENVIRONMENT") == "production":
        raise RuntimeError(f"{ID_HASH_KEY_ENV} must be set in production")
    return key
