"""Workbench settings (``HOUSING_WORKBENCH_*``, from the environment or ``.env``).

The workbench is a backend-for-frontend, not a platform service: it owns no database and no
broker account, so it has a settings class of its own instead of ``shared.settings``'s
``ServiceSettings`` (whose database and broker fields would mean nothing here). Only
``bootstrap.py`` reads it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import DEFAULT_PORTS, REPO_ROOT, SERVICES, service_settings_config

# The development session key (base64url, 32 bytes, Fernet): everyone knows it, so production
# refuses it like the other development keys.
DEV_SESSION_KEY = "ZGV2LW9ubHktd29ya2JlbmNoLXNlc3Npb24ta2V5LTE="
DEFAULT_PORT = 8000
WEB_DIST = Path(__file__).resolve().parent / "web" / "dist"


class WorkbenchSettings(BaseSettings):
    # populate_by_name: tests and tools pass WorkbenchSettings(environment=...) directly.
    model_config = SettingsConfigDict(**service_settings_config("workbench"), populate_by_name=True)

    environment: Literal["development", "test", "production"] = Field(
        default="production",
        validation_alias=AliasChoices("HOUSING_WORKBENCH_ENVIRONMENT", "HOUSING_ENVIRONMENT"),
    )
    """`development`, `test` or `production`; the platform-wide `HOUSING_ENVIRONMENT` counts
    too. Production refuses the development session key and needs OpenID Connect sign-in."""
    host: str = Field(
        default="127.0.0.1", validation_alias=AliasChoices("HOUSING_WORKBENCH_HOST", "HOUSING_HOST")
    )
    """Interface the workbench binds (or the common `HOUSING_HOST`)."""
    forwarded_allow_ips: str = "127.0.0.1"
    """Addresses of a reverse proxy in front of the workbench whose `X-Forwarded-For` is
    believed. The workbench passes the browser's address on to the services as theirs."""
    port: int = DEFAULT_PORT
    """HTTP port of the workbench."""
    log_level: str = Field(
        default="INFO",
        validation_alias=AliasChoices("HOUSING_WORKBENCH_LOG_LEVEL", "HOUSING_LOG_LEVEL"),
    )
    """Log level (or the common `HOUSING_LOG_LEVEL`)."""
    service_url_template: str = "http://127.0.0.1:{port}"
    """Where each service answers, `{service}` and `{port}` filled in; the port is the
    service's own `HOUSING_<SERVICE>_PORT` when set, else its default (compose:
    `http://{service}:{port}`)."""
    service_urls: dict[str, str] = Field(default_factory=dict)
    """JSON object: the URL of single services, overriding the template."""
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    """Limit of connecting to a service when forwarding."""
    request_timeout_seconds: float = Field(default=60.0, gt=0)
    """Limit of a whole forwarded answer (uploads of 20 MiB included)."""
    session_keys: list[SecretStr] = Field(default_factory=lambda: [SecretStr(DEV_SESSION_KEY)])
    """JSON list of Fernet keys (base64url of 32 bytes), newest first: the first encrypts, all
    decrypt, so a key is rotated by putting the new one in front and dropping the old after
    `session_hours` (`python -m services.workbench keygen`); the default is the development
    key, which production refuses."""
    session_hours: float = Field(default=8.0, gt=0, le=12)
    """How long a sign-in lasts (at most the tokens' 12 hours)."""
    cookie_secure: bool | None = None
    """Secure cookies (HTTPS only); empty: on outside development, where http://127.0.0.1
    would never send them back."""
    dev_signing_key: SecretStr | None = None
    """Development sign-in: the key the development identity provider signs tokens with
    (empty: the development key)."""
    oidc_issuer: str = ""
    """Production sign-in: the OpenID Connect issuer of the city's identity provider."""
    oidc_client_id: str = ""
    """The workbench's OpenID Connect client id."""
    oidc_client_secret: SecretStr = SecretStr("")
    """The workbench's OpenID Connect client secret."""
    oidc_scope: str = "openid profile"
    """Scopes asked of the identity provider."""
    public_url: str = ""
    """The public address of the workbench, for the redirect URI (`…/auth/oidc/callback`)."""
    oidc_roles_claim: str = "roles"
    """Claim of the ID token (or userinfo) holding the roles; dotted paths reach into objects
    (Keycloak: `realm_access.roles`)."""
    oidc_unit_claim: str = "org"
    """Claim holding the user's unit code."""
    oidc_name_claim: str = "name"
    """Claim holding the user's display name."""
    oidc_role_map: dict[str, str] = Field(default_factory=dict)
    """JSON object: identity-provider role name to platform role; unmapped names are kept when
    they are platform roles already and dropped otherwise."""
    web_dist: Path = WEB_DIST
    """The built single-page app the workbench serves."""
    city_config: Path = Field(
        default=REPO_ROOT / "deploy" / "cities" / "xiamen.yaml",
        validation_alias=AliasChoices("HOUSING_WORKBENCH_CITY_CONFIG", "HOUSING_CITY_CONFIG"),
    )
    """City configuration, for the names of units shown (or the common `HOUSING_CITY_CONFIG`)."""

    @model_validator(mode="after")
    def _guard(self) -> WorkbenchSettings:
        unknown = set(self.service_urls) - set(SERVICES)
        if unknown:
            raise ValueError(f"HOUSING_WORKBENCH_SERVICE_URLS names unknown services: {unknown}")
        for n, key in enumerate(self.session_keys, start=1):
            try:
                Fernet(key.get_secret_value().encode())
            except ValueError:
                raise ValueError(
                    f"HOUSING_WORKBENCH_SESSION_KEYS: key {n} is not a Fernet key (base64url of "
                    "32 bytes; python -m services.workbench keygen prints one)"
                ) from None
        if not self.session_keys:
            raise ValueError("HOUSING_WORKBENCH_SESSION_KEYS needs at least one key")
        if self.environment == "production":
            if any(k.get_secret_value() == DEV_SESSION_KEY for k in self.session_keys):
                raise ValueError(
                    "HOUSING_WORKBENCH_SESSION_KEYS holds the development key; set a key of "
                    "your own (python -m services.workbench keygen)"
                )
            if not (self.oidc_issuer and self.oidc_client_id and self.public_url):
                raise ValueError(
                    "production sign-in needs HOUSING_WORKBENCH_OIDC_ISSUER, "
                    "HOUSING_WORKBENCH_OIDC_CLIENT_ID and HOUSING_WORKBENCH_PUBLIC_URL"
                )
        return self

    @property
    def is_development(self) -> bool:
        return self.environment in ("development", "test")

    @property
    def secure_cookies(self) -> bool:
        return (not self.is_development) if self.cookie_secure is None else self.cookie_secure

    def service_url(self, service: str) -> str:
        if service in self.service_urls:
            return self.service_urls[service].rstrip("/")
        port = os.environ.get(f"HOUSING_{service.upper()}_PORT") or DEFAULT_PORTS[service]
        return self.service_url_template.format(service=service, port=port).rstrip("/")
