"""Intake settings beyond the shared ``ServiceSettings``: ``HOUSING_INTAKE_*``, from the
environment or ``.env`` (read only by ``bootstrap.py``).

The resident-ID hash key is not an intake setting: it is the platform's common
``HOUSING_ID_HASH_KEY`` (``ServiceSettings.id_hash_key``, refused in production when it is the
development key), reached as ``ctx.id_hash_key``. Intake hashes members with it
(``application.submitted.member_id_hashes``, the duplicate check) and credit hashes banned
people with it (``credit.ban_imposed.id_hash``): both must read the same value, or bans silently
stop matching.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from shared.sealing import fernet_key_problem
from shared.settings import service_settings_config

# The development key of the online drafts (base64url, 32 bytes): everyone knows it, so the
# bootstrap refuses it in production (bootstrap.draft_sealer).
DEV_DRAFT_KEY = "ZGV2LW9ubHktaW50YWtlLWRyYWZ0LWtleS0wMDAwMDE="


class IntakeSettings(BaseSettings):
    model_config = service_settings_config("intake")

    # How often the overdue-notice sweep (补件逾期) runs, and the most notices one tick takes.
    overdue_sweep_seconds: float = Field(default=60.0, gt=0)
    """How often supplement notices past their deadline are found (补件逾期,
    `application.supplement_overdue`).
    """
    overdue_sweep_batch: int = Field(default=500, ge=1)
    """Most overdue notices one sweep tick takes."""

    # The applicant's SMS (及时告知): how often pending messages are sent, and by what.
    notify_seconds: float = Field(default=10.0, gt=0)
    """How often pending applicant SMS (及时告知) are sent."""
    notify_batch: int = Field(default=50, ge=1)
    """Most applicant SMS one tick sends."""
    notifier: Literal["log", "http"] = "log"
    """How messages are sent: `log` writes them to the log (development), `http` posts them to the
    SMS gateway.
    """
    sms_gateway_url: str | None = None
    """The SMS gateway's URL (with `notifier=http`)."""
    sms_gateway_token: SecretStr | None = None
    """Bearer token of the SMS gateway (rotation: docs/operations.md, "Other credentials")."""
    sms_retries: int = Field(default=3, ge=0, le=10)
    """Retries of one SMS the gateway did not take, before it is stored as failed."""
    sms_backoff_seconds: float = Field(default=0.5, ge=0)
    """Back-off before the first SMS retry (doubled for each further one)."""
    sms_timeout_seconds: float = Field(default=5.0, gt=0)
    """Limit of one request to the SMS gateway."""

    # The online application's drafts (网上申请草稿): their payload is sealed with these keys.
    draft_keys: list[SecretStr] = Field(default_factory=lambda: [SecretStr(DEV_DRAFT_KEY)])
    """JSON list of Fernet keys (base64url of 32 bytes), newest first, that encrypt the saved
    drafts of online applications (`portal_drafts`): the first encrypts, all decrypt; a draft
    sealed under a key dropped from the list reads as no draft. The default is the development
    key, which production refuses (`python -m services.workbench keygen` prints a new key).
    """
    draft_days: int = Field(default=90, ge=1, le=366)
    """Days a saved draft is kept after its last save; older drafts read as none, and every
    save deletes them."""

    @field_validator("draft_keys")
    @classmethod
    def _keys_usable(cls, keys: list[SecretStr]) -> list[SecretStr]:
        if not keys:
            raise ValueError("HOUSING_INTAKE_DRAFT_KEYS needs at least one key")
        for n, key in enumerate(keys, start=1):
            problem = fernet_key_problem(key.get_secret_value())
            if problem:
                raise ValueError(f"HOUSING_INTAKE_DRAFT_KEYS: key {n} is {problem}")
        return keys
