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

from pydantic import Field
from pydantic_settings import BaseSettings

from shared.settings import service_settings_config


class IntakeSettings(BaseSettings):
    model_config = service_settings_config("intake")

    # How often the overdue-notice sweep (补件逾期) runs, and the most notices one tick takes.
    overdue_sweep_seconds: float = Field(default=60.0, gt=0)
    overdue_sweep_batch: int = Field(default=500, ge=1)
