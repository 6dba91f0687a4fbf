"""Production sign-in: OpenID Connect (authorization code with PKCE) against the city's
identity provider, through Authlib's httpx client.

The identity provider's access token is what the services are given (they trust the provider's
keys, ``HOUSING_TOKEN_JWKS``). The ID token tells the workbench who signed in; its roles and
unit are read from the claims the settings name (``HOUSING_WORKBENCH_OIDC_ROLES_CLAIM``,
``..._UNIT_CLAIM``), since every provider puts them somewhere else.
"""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from authlib.common.security import generate_token
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from services.workbench.sessions import User
from shared.auth import is_known_role
from shared.auth.units import is_unit_code

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import AsyncOAuth2Client

# Signature algorithms accepted on ID tokens (never "none" or HMAC with a shared secret):
# what identity providers sign with in practice.
ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]


class SignInError(Exception):
    """The sign-in cannot be completed; the message is shown to the user (Chinese)."""


@dataclass(frozen=True)
class ClaimMapping:
    roles_claim: str = "roles"
    unit_claim: str = "org"
    name_claim: str = "name"
    role_map: Mapping[str, str] | None = None


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` (``realm_access.roles``); None when any step is missing.

    A claim whose own name contains dots (``https://city.gov.cn/roles``) is tried whole first.
    """
    if path in claims:
        return claims[path]
    value: Any = claims
    for step in path.split("."):
        if not isinstance(value, Mapping) or step not in value:
            return None
        value = value[step]
    return value


def user_from_claims(claims: Mapping[str, Any], mapping: ClaimMapping) -> User:
    """The workbench user of an ID token's claims; ``SignInError`` when the provider sent no
    platform role or no valid unit (a user the workbench cannot serve)."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise SignInError("身份认证结果缺少用户标识（sub），请联系系统管理员。")
    raw_roles = claim(claims, mapping.roles_claim)
    if isinstance(raw_roles, str):
        # Some providers send one space-separated string (like OAuth scopes).
        raw_roles = raw_roles.split()
    if not isinstance(raw_roles, list):
        raw_roles = []
    role_map = mapping.role_map or {}
    roles: list[str] = []
    for raw in raw_roles:
        if not isinstance(raw, str):
            continue
        role = role_map.get(raw, raw)
        if is_known_role(role) and role not in roles:
            roles.append(role)
    if not roles:
        raise SignInError("您的账号未分配本平台的岗位角色，请联系系统管理员开通。")
    unit = claim(claims, mapping.unit_claim)
    if isinstance(unit, int):
        unit = str(unit)
    if not isinstance(unit, str) or not is_unit_code(unit):
        raise SignInError("您的账号未配置所属单位（行政区划代码），请联系系统管理员。")
    name = claim(claims, mapping.name_claim)
    if not isinstance(name, str) or not name:
        name = (
            claims.get("preferred_username")
            if isinstance(claims.get("preferred_username"), str)
            else sub
        )
    return User(sub=sub, name=str(name), roles=tuple(roles), org=unit)


@dataclass(frozen=True)
class LoginState:
    """What the callback must find again: kept in an encrypted short-lived cookie."""

    state: str
    nonce: str
    code_verifier: str
    return_to: str

    @classmethod
    def new(cls, return_to: str) -> LoginState:
        return cls(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            code_verifier=generate_token(64),
            return_to=return_to,
        )


class OidcClient:
    """The identity provider as the workbench uses it: discovery, redirect, code exchange."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        scope: str,
        mapping: ClaimMapping,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.scope = scope
        self.mapping = mapping
        self.timeout = timeout
        # Tests talk to an identity provider served in-process; production: the network.
        self.transport = transport
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    def _client(self) -> AsyncOAuth2Client:
        with warnings.catch_warnings():
            # Authlib prefers the httpx2 package and warns when it falls back to httpx, which
            # is the platform's HTTP client; imported here, so only an OIDC sign-in loads it.
            warnings.filterwarnings("ignore", message="The httpx module is deprecated")
            from authlib.integrations.httpx_client import AsyncOAuth2Client
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret or None,
            scope=self.scope,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=self.timeout,
            transport=self.transport,
        )

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout, transport=self.transport)

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            async with self._http() as http:
                answer = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                answer.raise_for_status()
                self._metadata = answer.json()
        return self._metadata

    async def keys(self, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            meta = await self.metadata()
            async with self._http() as http:
                answer = await http.get(meta["jwks_uri"])
                answer.raise_for_status()
                self._keys = KeySet.import_key_set(answer.json())
        return self._keys

    async def authorization_url(self, login: LoginState) -> str:
        meta = await self.metadata()
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"],
                state=login.state,
                nonce=login.nonce,
                code_verifier=login.code_verifier,
            )
        return str(url)

    async def finish(self, login: LoginState, *, code: str, state: str) -> tuple[User, str, float]:
        """Exchange the code: the user, the access token for the services and its expiry."""
        if not secrets.compare_digest(state, login.state):
            raise SignInError("登录状态不一致，请重新登录。")
        meta = await self.metadata()
        try:
            async with self._client() as client:
                token = await client.fetch_token(
                    meta["token_endpoint"], code=code, code_verifier=login.code_verifier
                )
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInError("统一身份认证平台未能完成登录，请稍后重试。") from exc
        claims = await self._verified_id_token(str(token.get("id_token", "")), login.nonce)
        user = user_from_claims(claims, self.mapping)
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise SignInError("统一身份认证平台未返回访问令牌，请联系系统管理员。")
        expires_at = float(
            token.get("expires_at") or time.time() + float(token.get("expires_in", 3600))
        )
        return user, access, expires_at

    async def _verified_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        if not id_token:
            raise SignInError("统一身份认证平台未返回身份令牌（ID Token）。")
        try:
            try:
                decoded = jwt.decode(id_token, await self.keys(), algorithms=ID_TOKEN_ALGORITHMS)
            except (JoseError, ValueError):
                # A key rotated since the set was cached: fetch it once more.
                decoded = jwt.decode(
                    id_token, await self.keys(refresh=True), algorithms=ID_TOKEN_ALGORITHMS
                )
            jwt.JWTClaimsRegistry(
                iss={
                    "essential": True,
                    "value": (await self.metadata()).get("issuer", self.issuer),
                },
                aud={"essential": True, "value": self.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise SignInError("身份令牌校验失败，请重新登录。") from exc
        return dict(decoded.claims)
