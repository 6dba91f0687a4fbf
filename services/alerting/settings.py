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
    # How often the report sweep looks for a month or a batch to report on (定期通报).
    report_sweep_seconds: float = Field(default=3600.0, gt=0)
    # How often pending notifications are sent.
    dispatch_seconds: float = Field(default=10.0, gt=0)
    # Y2: working days after acceptance before "no material uploaded" lights.
    materials_grace_working_days: int = Field(default=1, ge=0, le=30)
    # F3: working days after qualification within which the result must be on public notice.
    publish_within_working_days: int = Field(default=5, ge=0, le=60)
    # C1: working days a complaint (投诉举报) has for its answer before the light.
    complaint_answer_working_days: int = Field(default=15, ge=1, le=60)
    # The public complaint form and lookup, per client address: burst, then so many a minute.
    complaint_rate_burst: int = Field(default=5, ge=1)
    complaint_rate_per_minute: float = Field(default=2.0, gt=0)
    # F4: working days after a unit is allocated within which the result must be published.
    allocation_publish_within_working_days: int = Field(default=5, ge=0, le=60)
    notifier: Literal["log", "http"] = "log"
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None
    sms_retries: int = Field(default=3, ge=0, le=10)
    sms_backoff_seconds: float = Field(default=0.5, ge=0)
    sms_timeout_seconds: float = Field(default=5.0, gt=0)
