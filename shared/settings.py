"""Per-service settings, read from the environment.

Every service reads the same ``HOUSING_*`` variables; a variable prefixed with the service's
name (``HOUSING_INTAKE_PORT``) wins over the common one (``HOUSING_PORT``), so one ``.env``
file can configure the whole suite while each service keeps its own database and port.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from dotenv import dotenv_values
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from shared.auth.tokens import audience_of, token_keys

# The development keys: accepted only outside production (shared.auth re-exports the first).
from shared.dev_keys import DEV_AUDIT_CHECKPOINT_KEY, DEV_ID_HASH_KEY, DEV_SIGNING_KEY
from shared.service_names import SERVICES

REPO_ROOT = Path(__file__).resolve().parent.parent


# The login of programs that are not platform services (department simulators, tools).
DEFAULT_OUTSIDE_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"

DEFAULT_PORTS: dict[str, int] = {
    "intake": 8001,
    "review": 8002,
    "verification": 8003,
    "alerting": 8004,
    "publication": 8005,
    "credit": 8006,
    "allocation": 8007,
    "tenancy": 8008,
}

__all__ = [
    "DEV_AUDIT_CHECKPOINT_KEY",
    "DEV_ID_HASH_KEY",
    "DEV_SIGNING_KEY",
    "SERVICES",
    "ServiceSettings",
    "settings_for",
]


# Secrets whose development value everyone knows, with what production must set instead.
_DEVELOPMENT_KEYS: tuple[tuple[str, str, str], ...] = (
    ("id_hash_key", DEV_ID_HASH_KEY, "the platform's real resident-ID hash key"),
    ("audit_checkpoint_key", DEV_AUDIT_CHECKPOINT_KEY, "the service's own audit checkpoint key"),
)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOUSING_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        # Each setting's docstring is its description: the README's configuration table is
        # generated from them (python -m tools.settings_table).
        use_attribute_docstrings=True,
    )

    service: str
    # Production unless told otherwise: a forgotten variable must not run a city on the
    # development keys. The run command, compose and the test launcher say development or test.
    environment: Literal["development", "test", "production"] = "production"
    """`development`, `test` or `production`. A service not told otherwise runs in production, which
    refuses the development signing, ID-hash and audit checkpoint keys and has no `/_dev/clock`;
    `make run` and `docker-compose.yml` set `development` explicitly (the run command prints it),
    the tests `test`. Run the operator CLIs against a local run with
    `HOUSING_ENVIRONMENT=development`.
    """
    host: str = "127.0.0.1"
    """Interface the HTTP server binds (`0.0.0.0` in containers)."""
    forwarded_allow_ips: str = "127.0.0.1"
    """Addresses whose `X-Forwarded-For` is believed (comma-separated IPs or networks): the
    workbench's, or a reverse proxy's in front of the public pages. The public rate limits count
    the address it names, so each citizen has a bucket of their own; from anyone else the header
    is ignored (a client could pick its bucket).
    """
    port: int = 0
    """HTTP port of one service (`HOUSING_<SERVICE>_PORT`); 0: the service's own port, 8001 … 8008
    in the service table above.
    """
    # Two accounts per database (docs/operations.md, "Database roles"): the service runs as
    # the application role, which owns nothing and may only read and write rows; `migrate` runs
    # as the owner role, which owns the schema and grants the application role what it needs.
    database_url: str = ""
    """Full database URL of one service (`HOUSING_<SERVICE>_DATABASE_URL`); empty:
    `HOUSING_DATABASE_URL_TEMPLATE`.
    """
    database_url_template: str = "postgresql+asyncpg://housing_app@127.0.0.1:5432/housing_{service}"
    """Database URL the services connect with, `{service}` replaced by the service name; its user is
    the application role, which owns nothing and may only read and write rows (docs/operations.md,
    "Database roles").
    """
    # Unset with an explicit database_url: the same URL (one account for both, as before this
    # split; production refuses that).
    migration_database_url: str = ""
    """Full URL of one service's `migrate` (`HOUSING_<SERVICE>_MIGRATION_DATABASE_URL`); empty: the
    template, or with an explicit `HOUSING_<SERVICE>_DATABASE_URL` that URL. One user for both is
    allowed in development and test only: production refuses to start when the two URLs log in as
    the same role.
    """
    migration_database_url_template: str = (
        "postgresql+asyncpg://housing_owner@127.0.0.1:5432/housing_{service}"
    )
    """Database URL of `python -m services.<name> migrate`: the owner role, which creates the
    database, runs the revisions and grants the application role its privileges.
    """
    db_pool_size: int = 10
    """Connection pool size per process."""
    # Time limits on every connection of a service (0: none): a statement, a wait for a lock
    # (the audit chain's included) and a transaction left idle fail after this long.
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)
    """Longest a statement may run on a service's connection before it fails (0: no limit)."""
    db_lock_timeout_ms: int = Field(default=10_000, ge=0)
    """Longest a statement may wait for a lock, the audit chain's included (0: no limit)."""
    db_idle_in_transaction_timeout_ms: int = Field(default=60_000, ge=0)
    """Longest a transaction may stay idle before the server ends it (0: no limit)."""
    # Every service logs in to the broker as an account of its own (docs/operations.md,
    # "Broker accounts"), and consumers believe an internal event only from its producer's
    # account: the account of service s is broker_user_template with {service} = s. Unset
    # amqp_url: amqp_url_template with {account}, the development password being the account
    # name (production refuses it).
    amqp_url: str = ""
    """Full RabbitMQ URL of one service (`HOUSING_<SERVICE>_AMQP_URL`); its login must be the
    service's account. Empty: `HOUSING_AMQP_URL_TEMPLATE`; for the department simulators and
    tools `amqp://guest:guest@127.0.0.1:5672/`.
    """
    amqp_url_template: str = "amqp://{account}:{account}@127.0.0.1:5672/"
    """RabbitMQ connection of the services, `{account}` replaced by the service's account; the
    development password is the account's name (`scripts/ensure_infra.sh` creates those users),
    which production refuses.
    """
    broker_user_template: str = "housing_{service}"
    """Each service's RabbitMQ account (must contain `{service}`); consumers believe an internal
    event only when its AMQP `user_id` is the account of the service that owns the type
    (docs/operations.md, "Broker accounts").
    """
    events_exchange: str = "housing.events"
    """Topic exchange of domain events."""
    verification_exchange: str = "housing.verification"
    """Topic exchange of department requests and answers."""
    # Queue names are "<queue_prefix>.<service>"; tests give every run its own prefix.
    queue_prefix: str = "housing"
    """Service queues are `<prefix>.<service>` (plus `.retry.<n>` and `.dead`); the tests give every
    run its own prefix.
    """
    # Bearer tokens (shared.auth.tokens): the identity provider's public keys as a JWK Set
    # (JSON text or the path of a file holding it; empty: the development key, which
    # production refuses), the audience this service accepts (empty: housing-<service>) and
    # the longest lifetime it accepts.
    token_jwks: str = ""
    """Public keys of the identity provider that signs the bearer tokens, as a JWK Set (JSON, or the
    path of a file holding it); Ed25519 (`EdDSA`) or RSA of 2048 bits or more (`RS256`), each with
    its `kid`; private keys are refused. Empty: the development key set, which production refuses
    (rotation: docs/operations.md, "Key rotation").
    """
    token_audience: str = ""
    """The `aud` this service accepts (empty: `housing-<service>`): a token meant for another
    service is refused.
    """
    token_max_lifetime_hours: float = Field(default=12.0, gt=0, le=24 * 7)
    """A token whose `exp` is further than this from its `iat` is refused."""
    # With a publicly known key the hashes in events could be reversed by enumerating the
    # ~10^10 plausible resident IDs, so production refuses the development default.
    id_hash_key: SecretStr = SecretStr(DEV_ID_HASH_KEY)
    """Key of the resident-ID hashes (`keyed_hash`) every service shares (intake, credit,
    publication...); the default is the development key, which production refuses. Changing it
    changes every lookup hash (docs/operations.md, "Key rotation").
    """
    # Signs the audit chain's checkpoints (base64url Ed25519 seed; docs/audit.md). Read from
    # the environment only, so that whoever controls the database cannot sign a rewritten
    # chain; HOUSING_<SERVICE>_AUDIT_CHECKPOINT_KEY gives each service a key of its own.
    audit_checkpoint_key: SecretStr = SecretStr(DEV_AUDIT_CHECKPOINT_KEY)
    """Base64url Ed25519 seed that signs the audit chain's checkpoints
    (`HOUSING_<SERVICE>_AUDIT_CHECKPOINT_KEY` for one key per service, recommended); read from the
    environment only; the default is the development key, which production refuses (docs/audit.md).
    """
    # How often the chain head is signed and published; rows newer than the last published
    # checkpoint are protected by the chain alone, so this is the window of an unseen rewrite.
    audit_checkpoint_seconds: float = Field(default=300.0, gt=0)
    """How often each service signs and publishes its audit chain head (when it moved): the window
    in which a rewrite is protected by the chain alone.
    """
    city_config: Path = REPO_ROOT / "deploy" / "cities" / "xiamen.yaml"
    """City configuration: units, categories, departments, workflow, limits, windows, and the
    offices and windows printed on documents (`offices`, docs/printing.md)."""
    log_level: str = "INFO"
    """Log level."""
    log_json: bool = True
    """JSON logs (structlog); false: console lines."""

    # Messaging
    prefetch: int = 64
    """Unacknowledged messages per consumer."""
    # Consumer workers per service and the most messages one transaction handles.
    consumer_workers: int = 4
    """Consumer workers per service process."""
    consumer_batch_size: int = 50
    """Most messages one consumer transaction handles."""
    # Redeliveries the broker allows (crash loops) before it dead-letters by itself.
    delivery_limit: int = 10
    """Redeliveries (crash loops) before the broker dead-letters a message by itself."""
    # Handler failures are retried after these delays, then dead-lettered with the error.
    retry_delays_ms: list[int] = Field(default_factory=lambda: [1000, 5000, 30000])
    """JSON list: delays before each retry of a failed handler, after the last one the message is
    dead-lettered with its error.
    """
    outbox_batch_size: int = 500
    """Outbox rows the relay claims per round."""
    outbox_poll_seconds: float = 1.0
    """Relay polling interval."""
    # Publish attempts of one outbox row before it is parked (left unsent and no longer
    # retried, shown by /metrics outbox_parked and `python -m shared.amqp.outbox list`); with
    # the back-off capped at 30 s, 50 attempts take about 24 minutes.
    outbox_max_attempts: int = Field(default=50, ge=1)
    """Failed publishes of one outbox row before the relay parks it (`outbox_parked` on /metrics,
    `python -m shared.amqp.outbox list|release`); with the back-off capped at 30 s, 50 attempts take
    about 24 minutes.
    """
    # The broker link watchdog (shared.amqp.watchdog): how often it looks, and how long a
    # broken link may last before it is rebuilt. A restart of one RabbitMQ node with a few
    # hundred quorum queues, with aio-pika's reconnect interval of 5 s, is back well within 45 s.
    broker_check_seconds: float = Field(default=5.0, gt=0)
    """How often the broker link watchdog looks (docs/operations.md, "The broker link and its
    watchdog").
    """
    broker_stuck_seconds: float = Field(default=45.0, gt=0)
    """How long a broker link problem may last before `/readyz` reports it and the watchdog rebuilds
    the link.
    """
    # Limits of one connection attempt (TCP and AMQP handshake) and of the restore of channels,
    # queues and consumers after a reconnect (shared.amqp.broker); aio-pika sets none for the
    # restore, and one the broker never answers would otherwise wait for ever.
    broker_connect_seconds: float = Field(default=10.0, gt=0)
    """Limit of one broker connection attempt (TCP and AMQP handshake)."""
    broker_restore_seconds: float = Field(default=30.0, gt=0)
    """Limit of the restore of channels, queues and consumers after a reconnect."""
    # Start the outbox relay and the consumers with the HTTP app (off for CLI tools).
    run_workers: bool = True
    """Start the outbox relay, the consumers and the sweeps with the HTTP app (false for CLI tools).
    """
    # Largest request body accepted, checked before authentication (uploads included: the
    # city's per-file limit is lower, 20 MiB in the demo city).
    max_request_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    """Largest request body, refused with 413 before authentication; uploads also obey the city's
    per-file limit.
    """
    # Published outbox rows and handled inbox ids are deleted after this many days.
    retention_days: int = Field(default=30, ge=1, le=3650)
    """Published outbox rows and handled inbox ids older than this are deleted."""
    # How often that purge (and the expired Idempotency-Key purge) runs.
    retention_sweep_seconds: float = Field(default=3600.0, gt=0)
    """How often that purge and the expired `Idempotency-Key` purge run."""
    # How long an Idempotency-Key is remembered; a retry after that is a new request.
    idempotency_ttl_hours: int = Field(default=48, ge=1, le=24 * 90)
    """How long an `Idempotency-Key` is remembered; a retry after that is a new request."""

    @model_validator(mode="after")
    def _derive_and_guard(self) -> ServiceSettings:
        if not self.port:
            object.__setattr__(self, "port", DEFAULT_PORTS.get(self.service, 8000))
        if not self.migration_database_url:
            migration_url = self.database_url or self.migration_database_url_template.format(
                service=self.service
            )
            object.__setattr__(self, "migration_database_url", migration_url)
        if not self.database_url:
            object.__setattr__(
                self, "database_url", self.database_url_template.format(service=self.service)
            )
        if "{service}" not in self.broker_user_template:
            raise ValueError(
                "HOUSING_BROKER_USER_TEMPLATE must contain {service}: every service needs a "
                "broker account of its own"
            )
        is_service = self.service in SERVICES
        if not self.amqp_url:
            # Programs beside the services (the department simulators) are not platform
            # producers and log in as whatever department user they are given; guest locally.
            url = (
                self.amqp_url_template.format(account=self.broker_account)
                if is_service
                else DEFAULT_OUTSIDE_AMQP_URL
            )
            object.__setattr__(self, "amqp_url", url)
        login = login_of(self.amqp_url)
        if is_service and login != self.broker_account and self.environment != "test":
            # Everything a service publishes bears its login (RabbitMQ refuses any other
            # user_id), and consumers believe a service's events only under its account: a
            # service logged in as anyone else would publish nothing that counts. Tests of
            # the event layer itself run made-up services as whatever user they have.
            raise ValueError(
                f"{self.service} logs in to the broker as {login!r}, not as its own account "
                f"{self.broker_account!r} (HOUSING_BROKER_USER_TEMPLATE); give it its own "
                "user (deploy/rabbitmq/service_users.sh)"
            )
        if self.environment == "production" and self.database_role == _user_of(
            self.migration_database_url
        ):
            # The owner may drop tables and switch the audit log's triggers off; a service
            # running as its owner would lose the database's half of the audit guarantees.
            raise ValueError(
                f"the database URL and the migration database URL of {self.service} log in as "
                f"the same role ({self.database_role!r}); in production the service runs as an "
                "application role that owns nothing (HOUSING_DATABASE_URL_TEMPLATE) and only "
                "migrate runs as the owner (HOUSING_MIGRATION_DATABASE_URL_TEMPLATE)"
            )
        if not self.token_audience:
            object.__setattr__(self, "token_audience", audience_of(self.service))
        try:
            keys = token_keys(self.token_jwks)
        except (OSError, ValueError) as exc:
            raise ValueError(f"HOUSING_TOKEN_JWKS: {exc}") from None
        if self.environment == "production" and keys.kids & token_keys("").kids:
            raise ValueError(
                "HOUSING_TOKEN_JWKS is empty or trusts the development token key; set the "
                "identity provider's public keys before running with HOUSING_ENVIRONMENT=production"
            )
        if self.environment == "production":
            for field, development_key, what in _DEVELOPMENT_KEYS:
                if getattr(self, field).get_secret_value() == development_key:
                    raise ValueError(
                        f"HOUSING_{field.upper()} is the development key; set {what} "
                        "before running with HOUSING_ENVIRONMENT=production"
                    )
        password = unquote(urlsplit(self.amqp_url).password or "")
        if is_service and self.environment == "production" and password in ("", login, "guest"):
            raise ValueError(
                f"the broker password of {self.service} is the development one; set "
                f"HOUSING_{self.service.upper()}_AMQP_URL with the account's own password"
            )
        return self

    @property
    def database_role(self) -> str:
        """The role the service connects as: the one migrate grants the table privileges to."""
        return _user_of(self.database_url)

    @property
    def broker_account(self) -> str:
        """The broker user this service logs in as and stamps on what it publishes."""
        return self.broker_user_template.format(service=self.service)

    @property
    def queue_name(self) -> str:
        return f"{self.queue_prefix}.{self.service}"

    @property
    def is_development(self) -> bool:
        return self.environment in ("development", "test")


def login_of(amqp_url: str) -> str:
    """The user an AMQP URL logs in as (RabbitMQ's default ``guest`` when it names none)."""
    return unquote(urlsplit(amqp_url).username or "guest")


def _user_of(database_url: str) -> str:
    # Without a user in the URL, asyncpg (like libpq) logs in as PGUSER or the OS user.
    return make_url(database_url).username or os.environ.get("PGUSER") or getpass.getuser()


def service_settings_config(service: str) -> SettingsConfigDict:
    """The model config of a service's own settings class (``services/<name>/settings.py``):
    variables ``HOUSING_<NAME>_*``, from the environment or the ``.env`` file, frozen."""
    return SettingsConfigDict(
        env_prefix=f"HOUSING_{service.upper()}_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        use_attribute_docstrings=True,
    )


def settings_for(service: str, **overrides: object) -> ServiceSettings:
    """Settings of one service: ``HOUSING_<SERVICE>_X`` beats ``HOUSING_X``; overrides beat both."""
    prefix = f"HOUSING_{service.upper()}_"
    # The same variables from the ``.env`` file count too, below the real environment.
    dotenv = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    specific = {
        key[len(prefix) :].lower(): value
        for key, value in {**dotenv, **os.environ}.items()
        if key.startswith(prefix)
    }
    return ServiceSettings(service=service, **{**specific, **overrides})
