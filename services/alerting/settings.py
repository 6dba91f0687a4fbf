"""Settings of the alerting service beyond the common ones (``HOUSING_ALERTING_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from shared.settings import service_settings_config


class AlertingSettings(BaseSettings):
    model_config = service_settings_config("alerting")

    # How often the clock rules and ticket deadlines are checked.
    sweep_seconds: float = Field(default=60.0, gt=0)
    # How often pending notifications are sent.
    dispatch_seconds: float = Field(default=10.0, gt=0)
    # Y2: working days after acceptance before "no material uploaded" lights.
    materials_grace_working_days: int = Field(default=1, ge=0, le=30)
    # F3: working days after qualification within which the result must be on public notice.
    publish_within_working_days: int = Field(default=5, ge=0, le=60)
    notifier: Literal["log", "http"] = "log"
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None
    sms_retries: int = Field(default=3, ge=0, le=10)
    sms_backoff_seconds: float = Field(default=0.5, ge=0)
    sms_timeout_seconds: float = Field(default=5.0, gt=0)
