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

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from shared.settings import service_settings_config


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
