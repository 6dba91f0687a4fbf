"""The review service's own settings (``HOUSING_REVIEW_*``), read by ``bootstrap`` only."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from shared.settings import service_settings_config


class ReviewSettings(BaseSettings):
    model_config = service_settings_config("review")

    # Suspensions end and deadlines pass at day boundaries; a minute is early enough to notice.
    clock_sweep_seconds: float = Field(default=60.0, gt=0)
    """How often suspensions ending by themselves and stages past their deadline are found
    (`review.stage_overdue`).
    """
