"""What the workbench's routes are handed: settings, session codec, the services' HTTP client,
the demo users and the identity provider."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import httpx

from services.workbench.demo_users import DemoUser
from services.workbench.oidc import OidcClient
from services.workbench.sessions import SessionCodec, User
from services.workbench.settings import WorkbenchSettings
from shared.auth.tokens import ALL_AUDIENCES, DEV_SIGNING_KEY, issue_token
from shared.city import CityConfig


@dataclass(frozen=True)
class WorkbenchContext:
    settings: WorkbenchSettings
    city: CityConfig
    codec: SessionCodec
    http: httpx.AsyncClient
    demo_users: tuple[DemoUser, ...]
    oidc: OidcClient | None

    @property
    def session_seconds(self) -> float:
        return self.settings.session_hours * 3600

    def session_expiry(self) -> float:
        return time.time() + self.session_seconds

    def mint_dev_token(self, user: User) -> str:
        """A development token for every service, as ``python -m shared.auth token`` mints it."""
        if not self.settings.is_development:
            raise RuntimeError("development tokens are minted in development only")
        key = self.settings.dev_signing_key
        return issue_token(
            sub=user.sub,
            name=user.name,
            roles=user.roles,
            org=user.org,
            key=key.get_secret_value() if key else DEV_SIGNING_KEY,
            ttl=timedelta(hours=self.settings.session_hours),
            audience=ALL_AUDIENCES,
        )
