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
    """How often the clock rules (Y2, Y3, R8, R8T, F3, F5), ticket escalation and reminders run."""
    # How often the report sweep looks for a month or a batch to report on (定期通报).
    report_sweep_seconds: float = Field(default=3600.0, gt=0)
    """How often the periodic reports (定期通报) are looked for: last month's, and each batch whose
    publicity closed, stored once.
    """
    # How often pending notifications are sent.
    dispatch_seconds: float = Field(default=10.0, gt=0)
    """How often pending notifications (SMS) are sent."""
    # Y2: working days after acceptance before "no material uploaded" lights.
    materials_grace_working_days: int = Field(default=1, ge=0, le=30)
    """Y2: working days after acceptance before "no material uploaded" lights."""
    # F3: working days after qualification within which the result must be on public notice.
    publish_within_working_days: int = Field(default=5, ge=0, le=60)
    """F3: working days after qualification within which the result must be on public notice."""
    # C1: working days a complaint (投诉举报) has for its answer before the light.
    complaint_answer_working_days: int = Field(default=15, ge=1, le=60)
    """C1: working days a complaint (投诉举报) has for its answer before the light."""
    # The public complaint form and lookup, per client address: burst, then so many a minute.
    complaint_rate_burst: int = Field(default=5, ge=1)
    """Public complaint form and lookup, per client address: requests allowed at once."""
    complaint_rate_per_minute: float = Field(default=2.0, gt=0)
    """Public complaint form and lookup, per client address: requests a minute after the burst."""
    # F4: working days after a unit is allocated within which the result must be published.
    allocation_publish_within_working_days: int = Field(default=5, ge=0, le=60)
    """F4: working days after a unit is allocated within which the result must be published."""
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
