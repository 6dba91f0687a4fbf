"""Publication settings that are not part of the shared ``ServiceSettings``.

Read from ``HOUSING_PUBLICATION_*`` variables (or ``.env``) once, in ``bootstrap.definition``:

* ``PROVINCE_ENDPOINTS`` — JSON list of ``{"name", "url", "secret"}``: where key process events
  are pushed (省监管系统). The default is the reference receiver of ``python -m
  simulators.province`` with a development secret; production refuses the development secret.
* ``PUSH_INTERVAL_SECONDS``, ``PUSH_BACKOFF_SECONDS``, ``PUSH_BACKOFF_MAX_SECONDS`` — the
  pusher's tick and its exponential backoff per failed delivery.
* ``PROGRESS_BURST``, ``PROGRESS_PER_MINUTE`` — the token bucket of the public progress query,
  per client address.
* ``NOTICE_SWEEP_SECONDS`` — how often scheduled notices are opened and due ones closed.
* ``OBJECTION_CONCLUDE_WORKING_DAYS`` — the time limit for concluding an objection.
* ``ALLOCATION_PUBLIC_URL`` — the allocation service's public address; the ranking page links
  to the round's files there.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings

from shared.settings import service_settings_config

DEV_PROVINCE_SECRET = "dev-only-province-push-secret"  # noqa: S105 - refused in production
DEFAULT_PROVINCE_URL = "http://127.0.0.1:8090/pushes"


class ProvinceEndpoint(BaseModel):
    """One receiver of the provincial push; ``secret`` signs the body (HMAC-SHA256)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    url: str = Field(min_length=8, max_length=500)
    secret: SecretStr


def _default_endpoints() -> list[ProvinceEndpoint]:
    return [
        ProvinceEndpoint(
            name="province", url=DEFAULT_PROVINCE_URL, secret=SecretStr(DEV_PROVINCE_SECRET)
        )
    ]


class PublicationSettings(BaseSettings):
    model_config = service_settings_config("publication")

    province_endpoints: list[ProvinceEndpoint] = Field(default_factory=_default_endpoints)
    """JSON list of `{"name", "url", "secret"}`: where key process events are pushed
    (省监管系统), each body signed with HMAC-SHA256 of its secret. The default is the reference
    receiver of `python -m simulators.province` with a development secret, which production
    refuses (rotation: docs/operations.md, "Key rotation").
    """
    push_interval_seconds: float = Field(default=2.0, gt=0)
    """The provincial push's tick (no clock rule: `/_dev/clock` does not run it)."""
    push_backoff_seconds: float = Field(default=2.0, gt=0)
    """Back-off after a failed push to an endpoint, doubled for each further failure."""
    push_backoff_max_seconds: float = Field(default=600.0, gt=0)
    """Longest back-off between pushes to a failing endpoint."""
    push_timeout_seconds: float = Field(default=10.0, gt=0)
    """Limit of one push request."""
    # Streams (applications) pushed per tick; each stream sends its oldest unacked event.
    push_batch: int = Field(default=200, ge=1, le=5000)
    """Streams (applications) pushed per tick; each sends its oldest unacknowledged event."""
    progress_burst: int = Field(default=10, ge=1)
    """Public progress query, per client address: requests allowed at once."""
    progress_per_minute: float = Field(default=10.0, gt=0)
    """Public progress query, per client address: requests a minute after the burst."""
    # Public objection filing, per client address: burst, then so many a minute; and at most
    # so many objections from one contact number to one notice (a flood from one sender would
    # bury the real ones the housing office must answer within its limit).
    objection_burst: int = Field(default=5, ge=1)
    """Public objection filing, per client address: objections allowed at once."""
    objection_per_minute: float = Field(default=1.0, gt=0)
    """Public objection filing, per client address: objections a minute after the burst."""
    objections_per_contact_per_notice: int = Field(default=5, ge=1, le=100)
    """Most objections from one contact number to one notice."""
    notice_sweep_seconds: float = Field(default=30.0, gt=0)
    """How often scheduled notices are opened and due ones closed."""
    objection_conclude_working_days: int = Field(default=10, ge=1, le=60)
    """Working days within which an objection must be concluded."""
    # Where allocation serves a round's files (pool.csv, ranking.csv...) for the verifier.
    allocation_public_url: str = Field(
        default="http://127.0.0.1:8007", min_length=8, max_length=500
    )
    """Allocation's public address: the ranking page links to a round's files there."""

    def uses_dev_secret(self) -> bool:
        return any(
            e.secret.get_secret_value() == DEV_PROVINCE_SECRET for e in self.province_endpoints
        )
