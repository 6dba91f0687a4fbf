import json
import re
import subprocess
import sys
import types
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
import pytest
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from shared.auth import (
    ADMIN,
    ALL_AUDIENCES,
    CITY_REVIEWER,
    DEV_SIGNING_KEY,
    DISCIPLINE_INSPECTOR,
    STREET_CLERK,
    CurrentPrincipal,
    Principal,
    audience_of,
    can_act,
    can_read,
    department_role,
    ensure_can_act,
    is_known_role,
    issue_token,
    parent_unit,
    require_roles,
    token_keys,
    unit_chain,
    unit_contains,
    unit_level,
    verify_token,
)
from shared.auth.__main__ import main as cli_main
from shared.auth.tokens import SERVICE_NAMES, TokenKeys, dev_jwks, public_jwks_of
from shared.jwk import ed25519_from_seed
from shared.problems import PROBLEM_BASE, Forbidden, Unauthorized, install_problem_handlers
from shared.settings import SERVICES

# Two identity-provider keys (base64url Ed25519 seeds); the services trust only KEY's public half.
KEY = "W0pVsqyWRrTkUuRx2yZu9t4JqPZlsxkOeCx8dZG8t2k"
OTHER_KEY = "m7b0sI6jtgGxmVjN1b3gq9L5QtN6d0dHcWZyVTd1Q0k"
KEYS = TokenKeys.from_jwks(public_jwks_of(KEY))
AUDIENCE = audience_of("review")


def token(**overrides: object) -> str:
    claims: dict[str, object] = {
        "sub": "u-1001",
        "name": "李四",
        "roles": [STREET_CLERK],
        "org": "350203001",
        "key": KEY,
    }
    claims.update(overrides)
    return issue_token(**claims)  # type: ignore[arg-type]


def verify(issued: str, **kwargs: object) -> Principal:
    return verify_token(issued, keys=KEYS, audience=AUDIENCE, **kwargs)  # type: ignore[arg-type]


def raw_token(
    key: object = None,
    algorithm: str = "EdDSA",
    headers: dict[str, str] | None = None,
    **changes: object,
) -> str:
    """A token built by hand, by default as KEY would sign it; a change to None drops the claim."""
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": "x",
        "iss": "housing-platform",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(hours=1),
        "name": "x",
        "roles": [ADMIN],
        "org": "350200",
    }
    claims.update(changes)
    signer = key if key is not None else ed25519_from_seed(KEY, "test key")
    kid = public_jwks_of(KEY)["keys"][0]["kid"]
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None},
        signer,  # type: ignore[arg-type]
        algorithm=algorithm,
        headers=headers if headers is not None else {"kid": kid},
    )


# --------------------------------------------------------------------------- tokens


def test_token_roundtrip() -> None:
    issued = token(roles=[STREET_CLERK, "department:civil_affairs", STREET_CLERK])
    assert verify(issued) == Principal(
        sub="u-1001",
        name="李四",
        roles=frozenset({STREET_CLERK, "department:civil_affairs"}),
        org="350203001",
    )
    header = jwt.get_unverified_header(issued)
    assert (header["alg"], header["kid"]) == ("EdDSA", public_jwks_of(KEY)["keys"][0]["kid"])
    claims = jwt.decode(issued, options={"verify_signature": False})
    assert claims["roles"] == ["department:civil_affairs", STREET_CLERK]
    assert claims["iss"] == "housing-platform"
    assert claims["aud"] == list(ALL_AUDIENCES)
    assert claims["exp"] - claims["iat"] == 12 * 3600


def test_expired_token() -> None:
    expired = token(now=datetime.now(UTC) - timedelta(hours=13))
    with pytest.raises(Unauthorized) as caught:
        verify(expired)
    assert caught.value.detail == "令牌已过期"
    assert caught.value.status == 401


def test_leeway_accepts_small_clock_skew() -> None:
    just_expired = token(now=datetime.now(UTC) - timedelta(seconds=10), ttl=timedelta(seconds=5))
    assert verify(just_expired).sub == "u-1001"


def test_overlapping_keys_during_a_rotation() -> None:
    both = TokenKeys.from_jwks(
        {"keys": public_jwks_of(KEY)["keys"] + public_jwks_of(OTHER_KEY)["keys"]}
    )
    for key in (KEY, OTHER_KEY):
        assert verify_token(token(key=key), keys=both, audience=AUDIENCE).sub == "u-1001"


def _hs256_with_the_public_key() -> str:
    # The algorithm-confusion forgery: HMAC "signed" with the public key every service knows.
    public = public_jwks_of(KEY)["keys"][0]["x"].encode()
    return raw_token(key=public, algorithm="HS256")


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: token(key=OTHER_KEY), id="key not in the set"),
        pytest.param(lambda: raw_token(key=ed25519_from_seed(OTHER_KEY, "k")), id="forged kid"),
        pytest.param(lambda: raw_token(headers={}), id="no kid"),
        pytest.param(_hs256_with_the_public_key, id="HS256 with the public key"),
        pytest.param(lambda: token(audience=audience_of("intake")), id="for another service"),
        pytest.param(lambda: token(issuer="other"), id="wrong issuer"),
        pytest.param(lambda: token(ttl=timedelta(hours=13)), id="lives too long"),
        pytest.param(lambda: "not-a-jwt", id="garbage"),
        pytest.param(lambda: raw_token(key="", algorithm="none"), id="unsigned"),
        pytest.param(lambda: raw_token(roles="admin"), id="roles not a list"),
        pytest.param(lambda: raw_token(name=None), id="name missing"),
        pytest.param(lambda: raw_token(sub=""), id="empty sub"),
        pytest.param(lambda: raw_token(iat=None), id="no iat"),
    ],
)
def test_invalid_tokens(bad: object) -> None:
    with pytest.raises(Unauthorized) as caught:
        verify(bad())  # type: ignore[operator]
    assert caught.value.detail == "令牌无效"
    assert caught.value.headers() == {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def test_hand_built_token_is_valid() -> None:
    # Guards the cases above: each differs from a token that passes in one respect only.
    assert verify(raw_token()).roles == frozenset({ADMIN})


@pytest.mark.parametrize(
    ("jwks", "message"),
    [
        ({"keys": []}, "has no keys"),
        ({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]}, "has no kid"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}, "only Ed25519 (OKP) and RSA"),
        (
            {"keys": [{**public_jwks_of(KEY)["keys"][0], "d": KEY}]},
            "is a private key",
        ),
    ],
)
def test_a_key_set_a_service_must_not_trust_is_refused(
    jwks: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        TokenKeys.from_jwks(jwks)


def test_a_weak_rsa_key_is_refused_and_a_strong_one_signs() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (refused)
    pem = weak.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(ValueError, match="at least 2048 bits"):
        token(key=pem)
    strong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = strong.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    keys = TokenKeys.from_jwks(public_jwks_of(pem))
    issued = token(key=pem)
    assert jwt.get_unverified_header(issued)["alg"] == "RS256"
    assert verify_token(issued, keys=keys, audience=AUDIENCE).sub == "u-1001"


def test_the_token_command_knows_every_service() -> None:
    assert SERVICE_NAMES == SERVICES


# --------------------------------------------------------------------------- units


def test_unit_levels_and_parents() -> None:
    assert [unit_level(c) for c in ("350000", "350200", "350203", "350203001")] == [
        "province",
        "city",
        "district",
        "street",
    ]
    assert parent_unit("350203001") == "350203"
    assert parent_unit("350203") == "350200"
    assert parent_unit("350200") == "350000"
    assert parent_unit("350000") is None
    assert unit_chain("350203001") == ["350203001", "350203", "350200", "350000"]
    assert unit_chain("350000") == ["350000"]


@pytest.mark.parametrize("code", ["", "35020", "3502030011", "35020300a", "000000", "３50203"])
def test_malformed_units(code: str) -> None:
    with pytest.raises(ValueError):
        parent_unit(code)
    assert unit_contains(code, "350203001") is False
    assert unit_contains("350200", code) is False


@pytest.mark.parametrize(
    ("ancestor", "code", "expected"),
    [
        ("350200", "350203001", True),
        ("350203", "350205001", False),
        ("350203", "350203", True),
        ("350203001", "350203001", True),
        ("350203001", "350203", False),
        ("350000", "350203001", True),
        ("350200", "350100", False),
        ("350203001", "350203002", False),
        ("360000", "350203001", False),
    ],
)
def test_unit_contains(ancestor: str, code: str, expected: bool) -> None:
    assert unit_contains(ancestor, code) is expected


# --------------------------------------------------------------------------- principals


def principal(*roles: str, org: str = "350203") -> Principal:
    return Principal(sub="u", name="王五", roles=frozenset(roles), org=org)


def test_scope_of_ordinary_staff() -> None:
    clerk = principal(STREET_CLERK, org="350203")
    assert can_read(clerk, "350203001") and can_act(clerk, "350203001")
    assert clerk.can_act_in("350203")
    assert not can_read(clerk, "350200")
    assert not can_act(clerk, "350205001")
    assert not clerk.can_act_in("350205")


def test_discipline_inspector_reads_everywhere_and_acts_nowhere() -> None:
    inspector = principal(DISCIPLINE_INSPECTOR, STREET_CLERK, org="350203")
    assert can_read(inspector, "350205001")
    assert can_read(inspector, "350000")
    assert not can_act(inspector, "350203001")
    with pytest.raises(Forbidden):
        ensure_can_act(inspector, "350203001")


def test_admin_acts_anywhere() -> None:
    admin = principal(ADMIN, org="350200")
    assert can_act(admin, "360102001") and can_read(admin, "360102001")


def test_roles() -> None:
    p = principal(STREET_CLERK, department_role("civil_affairs"))
    assert p.has_role(CITY_REVIEWER, STREET_CLERK)
    assert not p.has_role(CITY_REVIEWER)
    assert not principal(ADMIN).has_role(STREET_CLERK)
    assert p.departments == frozenset({"civil_affairs"})
    assert is_known_role("department:tax") and is_known_role("service")
    assert not is_known_role("department:") and not is_known_role("root")


# --------------------------------------------------------------------------- FastAPI dependencies


def build_app() -> FastAPI:
    app = FastAPI()
    app.state.settings = types.SimpleNamespace(
        token_jwks=json.dumps(public_jwks_of(KEY)),
        token_audience=AUDIENCE,
        token_max_lifetime_hours=12.0,
    )
    install_problem_handlers(app)

    @app.get("/me")
    async def me(user: CurrentPrincipal) -> dict[str, object]:
        return {
            "sub": user.sub,
            "org": user.org,
            "logged_as": structlog.contextvars.get_contextvars().get("user"),
        }

    @app.post("/opinions")
    async def opinion(
        user: Annotated[Principal, Depends(require_roles(CITY_REVIEWER, STREET_CLERK))],
    ) -> dict[str, str]:
        return {"by": user.sub}

    @app.post("/parameters", dependencies=[Depends(require_roles(CITY_REVIEWER))])
    async def parameters() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/settings", dependencies=[Depends(require_roles(ADMIN))])
    async def configure() -> dict[str, str]:
        return {"status": "configured"}

    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(build_app())


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_current_principal(client: TestClient) -> None:
    response = client.get("/me", headers=bearer(token()))
    assert response.status_code == 200
    assert response.json() == {"sub": "u-1001", "org": "350203001", "logged_as": "u-1001"}


def test_missing_token_is_401(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Basic dTpw"}):
        response = client.get("/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["detail"] == "缺少身份令牌"


def test_expired_token_is_401(client: TestClient) -> None:
    expired = token(now=datetime.now(UTC) - timedelta(days=1))
    response = client.get("/me", headers=bearer(expired))
    assert response.status_code == 401
    assert response.json()["detail"] == "令牌已过期"
    assert response.json()["type"] == f"{PROBLEM_BASE}unauthorized"


def test_wrong_key_is_401(client: TestClient) -> None:
    response = client.get("/me", headers=bearer(token(key=OTHER_KEY)))
    assert response.status_code == 401
    assert response.json()["detail"] == "令牌无效"


def test_require_roles(client: TestClient) -> None:
    assert client.post("/opinions", headers=bearer(token())).json() == {"by": "u-1001"}
    response = client.post("/parameters", headers=bearer(token()))
    assert response.status_code == 403
    assert response.json() == {
        "type": f"{PROBLEM_BASE}forbidden",
        "title": "无权执行此操作",
        "status": 403,
        "detail": "需要以下角色之一：city_reviewer",
        "instance": "/parameters",
        "required_roles": ["city_reviewer"],
    }
    # Separation of duties: the admin does no business, even with the business role too.
    for roles in ([ADMIN], [ADMIN, CITY_REVIEWER]):
        admin = token(roles=roles, org="350200")
        refused = client.post("/parameters", headers=bearer(admin))
        assert (refused.status_code, refused.json()["detail"]) == (
            403,
            "管理员账号只做系统管理，不办理业务",
        )
    assert client.post("/settings", headers=bearer(token(roles=[ADMIN], org="350200"))).json() == {
        "status": "configured"
    }
    assert client.post("/settings", headers=bearer(token(roles=[CITY_REVIEWER]))).status_code == 403
    assert client.post("/parameters").status_code == 401


def test_require_roles_needs_roles() -> None:
    with pytest.raises(ValueError):
        require_roles()


def test_openapi_declares_bearer(client: TestClient) -> None:
    schemes = client.app.openapi()["components"]["securitySchemes"]  # type: ignore[attr-defined]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"


# --------------------------------------------------------------------------- CLI


def test_cli_issues_dev_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HOUSING_TOKEN_SIGNING_KEY", raising=False)
    argv = ["token", "--role", "street_clerk", "--role", "street_reviewer", "--org", "350203001"]
    assert cli_main([*argv, "--sub", "s-1", "--name", "赵六", "--ttl-hours", "1"]) == 0
    printed = capsys.readouterr().out.strip()
    assert verify_token(printed, keys=token_keys(""), audience=audience_of("intake")) == Principal(
        sub="s-1",
        name="赵六",
        roles=frozenset({"street_clerk", "street_reviewer"}),
        org="350203001",
    )
    assert public_jwks_of(DEV_SIGNING_KEY) == dev_jwks()


def test_cli_uses_env_key_and_audience(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOUSING_TOKEN_SIGNING_KEY", KEY)
    argv = ["token", "--role", "department:tax", "--org", "350200", "--audience", "review"]
    assert cli_main(argv) == 0
    printed = capsys.readouterr().out.strip()
    principal = verify(printed)
    assert principal.sub == "dev-department-tax-350200"
    assert principal.roles == frozenset({"department:tax"})
    with pytest.raises(Unauthorized):
        verify_token(printed, keys=KEYS, audience=audience_of("intake"))


def test_keygen_prints_a_key_and_the_set_that_trusts_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli_main(["keygen"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == [
        "HOUSING_TOKEN_SIGNING_KEY",
        "HOUSING_TOKEN_JWKS",
    ]
    seed, jwks = (line.split("=", 1)[1] for line in lines)
    keys = TokenKeys.from_jwks(json.loads(jwks))
    assert verify_token(token(key=seed), keys=keys, audience=AUDIENCE).sub == "u-1001"
    assert "d" not in json.loads(jwks)["keys"][0]


@pytest.mark.parametrize(
    "argv",
    [
        ["token", "--role", "root", "--org", "350200"],
        ["token", "--role", "admin", "--org", "xiamen"],
        ["token", "--role", "admin", "--org", "350200", "--ttl-hours", "0"],
    ],
)
def test_cli_refuses_bad_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(argv) == 2
    assert capsys.readouterr().out == ""


def test_the_token_command_starts_without_the_web_framework_or_the_database_layer() -> None:
    # What keeps `make token` well under a second: it loads neither FastAPI nor SQLAlchemy nor
    # the settings machinery nor PyJWT with most of cryptography (each costs a few hundred
    # milliseconds to import on a busy machine; BENCHMARKS.md, "The development token command").
    probe = (
        "import sys, runpy; sys.argv = ['x', 'token', '--role', 'street_clerk', "
        "'--org', '350203001']\n"
        "try:\n    runpy.run_module('shared.auth', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'pydantic_settings', 'pydantic', "
        "'jwt', 'cryptography.x509') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "[]"
    assert lines[0].count(".") == 2  # the token itself: header.claims.signature
