"""The OpenID Connect sign-in against an identity provider served in-process (httpx's
MockTransport answers as the provider would: discovery, keys, the token endpoint with PKCE)."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from services.workbench.oidc import ClaimMapping, LoginState, OidcClient, SignInError
from services.workbench.sessions import User

ISSUER = "https://idp.example.gov.cn/realms/xiamen"
CLIENT = "housing-workbench"


class Provider:
    """The identity provider: remembers the authorization request, checks the PKCE verifier."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "idp-1"})
        self.challenge = ""
        self.nonce = ""
        self.claims: dict[str, Any] = {
            "sub": "u-0042",
            "name": "吴芳",
            "realm_access": {"roles": ["QXFH", "offline_access"]},
            "unit": "350203",
        }

    def id_token(self, **changes: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": CLIENT,
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce,
            **self.claims,
            **changes,
        }
        return jwt.encode({"alg": "RS256", "kid": "idp-1"}, claims, self.key)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/auth",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/certs",
                },
            )
        if path.endswith("/certs"):
            return httpx.Response(200, json=KeySet([self.key]).as_dict(private=False))
        if path.endswith("/token"):
            form = parse_qs(request.content.decode())
            verifier = form["code_verifier"][0]
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != self.challenge:
                return httpx.Response(400, json={"error": "invalid_grant"})
            if form["code"] != ["code-1"]:
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(
                200,
                json={
                    "access_token": "access-token-for-the-services",
                    "token_type": "Bearer",
                    "expires_in": 1800,
                    "id_token": self.id_token(**getattr(self, "id_token_changes", {})),
                },
            )
        return httpx.Response(404)


def _client(provider: Provider) -> OidcClient:
    return OidcClient(
        issuer=ISSUER,
        client_id=CLIENT,
        client_secret="s3cret",
        redirect_uri="https://wb.example.gov.cn/auth/oidc/callback",
        scope="openid profile",
        mapping=ClaimMapping(
            roles_claim="realm_access.roles",
            unit_claim="unit",
            role_map={"QXFH": "district_reviewer"},
        ),
        transport=httpx.MockTransport(provider),
    )


async def _authorize(provider: Provider, client: OidcClient) -> LoginState:
    login = LoginState.new("/review/tasks")
    query = parse_qs(urlsplit(await client.authorization_url(login)).query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT]
    assert query["redirect_uri"] == ["https://wb.example.gov.cn/auth/oidc/callback"]
    assert query["state"] == [login.state]
    assert query["code_challenge_method"] == ["S256"]
    provider.challenge = query["code_challenge"][0]
    provider.nonce = query["nonce"][0]
    return login


async def test_a_sign_in_maps_the_claims_and_keeps_the_access_token() -> None:
    provider = Provider()
    client = _client(provider)
    login = await _authorize(provider, client)
    user, token, expires_at = await client.finish(login, code="code-1", state=login.state)
    assert user == User(sub="u-0042", name="吴芳", roles=("district_reviewer",), org="350203")
    assert token == "access-token-for-the-services"
    assert time.time() + 1700 < expires_at <= time.time() + 1800


async def test_a_forged_state_is_refused_before_the_code_is_used() -> None:
    provider = Provider()
    client = _client(provider)
    login = await _authorize(provider, client)
    with pytest.raises(SignInError, match="登录状态不一致"):
        await client.finish(login, code="code-1", state="someone-elses-state")


@pytest.mark.parametrize(
    "changes",
    [{"nonce": "replayed"}, {"aud": "another-client"}, {"iss": "https://evil.example"}],
)
async def test_an_id_token_not_for_this_sign_in_is_refused(changes: dict[str, str]) -> None:
    provider = Provider()
    provider.id_token_changes = changes  # type: ignore[attr-defined]
    client = _client(provider)
    login = await _authorize(provider, client)
    with pytest.raises(SignInError, match="身份令牌校验失败"):
        await client.finish(login, code="code-1", state=login.state)


async def test_a_user_without_a_platform_role_is_refused() -> None:
    provider = Provider()
    provider.claims["realm_access"] = {"roles": ["offline_access"]}
    client = _client(provider)
    login = await _authorize(provider, client)
    with pytest.raises(SignInError, match="未分配本平台的岗位角色"):
        await client.finish(login, code="code-1", state=login.state)
