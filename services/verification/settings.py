"""Settings of the verification service beyond the platform's common ones.

Read from ``HOUSING_VERIFICATION_*`` environment variables or ``.env`` (the same prefix the
platform uses for per-service overrides, so one ``.env`` configures everything). Only
``bootstrap.py`` reads them; everything else gets them through the service context.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

from shared.settings import service_settings_config


class VerificationSettings(BaseSettings):
    model_config = service_settings_config("verification")

    # When the last department deadline has passed and departments are still silent:
    # "complete" finishes the case with the silent departments listed as missing (the
    # recommendation is then needs_review for whatever they would have verified); "wait" keeps
    # the case open until every department has answered (overdue lights still go on).
    on_deadline: Literal["complete", "wait"] = "complete"
    """When the last department deadline has passed and departments are still silent: `complete`
    finishes the case with them listed as missing (the recommendation is then needs_review for what
    they would have verified); `wait` keeps the case open until every department has answered.
    """
    # "parallel" asks every department at once (the design). "serial" asks them one after
    # another, each only once the previous one answered, as paper-based verification passed a
    # file from desk to desk: it exists as the benchmark's baseline (bench/pipeline.py), so
    # the gain of the fan-out is measured rather than claimed. Never use it in production.
    dispatch: Literal["parallel", "serial"] = "parallel"
    """`parallel` asks every department at once; `serial` asks one after another, the benchmark's
    paper-like baseline only (bench/pipeline.py), never for production.
    """
    # How often the deadline sweep runs. Deadlines are whole days, so a minute is plenty.
    deadline_sweep_seconds: float = Field(default=60.0, gt=0)
    """How often department deadlines and completion at the last deadline are checked."""
    # Rows handled per sweep transaction, so one tick never holds a huge transaction.
    sweep_batch_size: int = Field(default=200, ge=1, le=10_000)
    """Rows handled per sweep transaction."""
    # Department request queues: redeliveries before the broker parks a request in
    # "<queue>.dead" (a department system that crashes on one request must not loop forever).
    department_delivery_limit: int = Field(default=20, ge=1)
    """Redeliveries of a department request before the broker parks it in `<queue>.dead`."""

    # Which departments read batches: one "verification.requested_batch" per department per
    # transaction instead of one "verification.requested" per request. The reference
    # simulators and SDK >= 2.1 read both; a department system that reads only singles (an
    # older SDK, its own implementation) must be left out of the list before it is upgraded.
    request_batches: str = "all"
    """Departments sent their requests as batches (`verification.requested_batch`, one message per
    department per transaction; SDK ≥ 2.1 and the reference simulators): `all`, `none`, or a
    comma-separated list of department codes; the others get one `verification.requested` each.
    """

    def batched_departments(self, departments: Sequence[str]) -> frozenset[str]:
        """The codes of ``departments`` that receive batches; an unknown code is refused (a
        typo would silently leave its department on singles)."""
        value = self.request_batches.strip().lower()
        if value in ("all", "true"):
            return frozenset(departments)
        if value in ("none", "false", ""):
            return frozenset()
        chosen = {c.strip() for c in value.split(",") if c.strip()}
        unknown = sorted(chosen - set(departments))
        if unknown:
            raise ValueError(
                f"HOUSING_VERIFICATION_REQUEST_BATCHES: unknown department(s) {', '.join(unknown)};"
                f" the city file has {', '.join(departments)} (or say all / none)"
            )
        return frozenset(chosen)

    @property
    def serial(self) -> bool:
        return self.dispatch == "serial"
