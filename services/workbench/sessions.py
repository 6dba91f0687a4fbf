"""The signed-in user's session, held in one encrypted cookie (Fernet: AES-128-CBC + HMAC).

Why an encrypted cookie and not a server-side store: the workbench owns no database and should
stay stateless, so any number of instances behind the city's load balancer serve any user, and
a restart or a deploy signs nobody out. The cookie holds the user's bearer token, so it is
encrypted (the browser can neither read nor alter it), ``HttpOnly`` (no script reads it),
``SameSite=Strict`` (no other site's page sends it) and ``Secure`` outside development. What a
stateless session cannot do is be revoked on the server before it expires: sign-out deletes the
cookie, and the session ends at the latest with the token's own expiry (``exp``) or
``session_hours``, whichever comes first.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field

from shared.sealing import JsonSealer

SESSION_COOKIE = "housing_wb_session"
# The short-lived cookie of an OpenID Connect sign-in in progress (state, nonce, PKCE verifier).
LOGIN_COOKIE = "housing_wb_login"


@dataclass(frozen=True)
class User:
    """Who is signed in, as the workbench shows it (menus, the unit in the header)."""

    sub: str
    name: str
    roles: tuple[str, ...]
    org: str


@dataclass(frozen=True)
class Session:
    user: User
    token: str  # the bearer token forwarded to the services; never sent to the browser
    expires_at: float  # epoch seconds
    # Echoed by the app in X-CSRF-Token on every unsafe request (api.py).
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))


class SessionCodec(JsonSealer):
    """Encrypts sessions into cookie values and back (``shared.sealing``; keys newest first)."""

    def seal_session(self, session: Session) -> str:
        return self.seal(asdict(session))

    def open_session(self, value: str | None, *, max_age_seconds: float) -> Session | None:
        data = self.open(value, max_age_seconds=max_age_seconds)
        if data is None:
            return None
        try:
            user = User(**{**data["user"], "roles": tuple(data["user"]["roles"])})
            session = Session(
                user=user,
                token=str(data["token"]),
                expires_at=float(data["expires_at"]),
                csrf=str(data["csrf"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return session if session.expires_at > time.time() else None
