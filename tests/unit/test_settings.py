"""Service settings: precedence of variables and the production guard on the signing key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.auth.tokens import dev_jwks, public_jwks_of, token_keys
from shared.settings import DEV_AUDIT_CHECKPOINT_KEY, settings_for

# The public key set of an identity provider key that is not the development one.
REAL_JWKS = json.dumps(public_jwks_of("W0pVsqyWRrTkUuRx2yZu9t4JqPZlsxkOeCx8dZG8t2k"))
# A base64url Ed25519 seed that is not the development one.
REAL_CHECKPOINT_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

# A broker login with a password of its own (production refuses the development one).
REAL_BROKER_URL = "amqp://{account}:a-real-broker-password@mq.internal:5672/"


def test_defaults_follow_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HOUSING_PORT", "HOUSING_DATABASE_URL", "HOUSING_REVIEW_PORT"):
        monkeypatch.delenv(var, raising=False)
    settings = settings_for("review")
    assert settings.port == 8002
    assert settings.database_url == (
        "postgresql+asyncpg://housing_app@127.0.0.1:5432/housing_review"
    )
    assert settings.migration_database_url == (
        "postgresql+asyncpg://housing_owner@127.0.0.1:5432/housing_review"
    )
    assert settings.database_role == "housing_app"
    assert settings.queue_name == "housing.review"


def test_an_explicit_database_url_alone_serves_migrations_too() -> None:
    url = "postgresql+asyncpg://someone:pw@db.internal:5432/intake_main"
    settings = settings_for("intake", environment="development", database_url=url)
    assert settings.database_url == url
    assert settings.migration_database_url == url
    assert settings.database_role == "someone"


def test_production_refuses_one_role_for_the_service_and_its_migrations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOUSING_ENVIRONMENT", "production")
    monkeypatch.setenv("HOUSING_AMQP_URL_TEMPLATE", REAL_BROKER_URL)
    monkeypatch.setenv("HOUSING_TOKEN_JWKS", REAL_JWKS)
    monkeypatch.setenv("HOUSING_ID_HASH_KEY", "a-real-id-hash-key-from-the-vault")
    monkeypatch.setenv("HOUSING_AUDIT_CHECKPOINT_KEY", REAL_CHECKPOINT_KEY)
    monkeypatch.setenv(
        "HOUSING_TENANCY_DATABASE_URL", "postgresql+asyncpg://postgres@db:5432/housing_tenancy"
    )
    with pytest.raises(ValidationError, match="log in as the same role \\('postgres'\\)"):
        settings_for("tenancy")
    monkeypatch.setenv(
        "HOUSING_TENANCY_MIGRATION_DATABASE_URL",
        "postgresql+asyncpg://housing_owner@db:5432/housing_tenancy",
    )
    settings = settings_for("tenancy")
    assert (settings.database_role, settings.migration_database_url) == (
        "postgres",
        "postgresql+asyncpg://housing_owner@db:5432/housing_tenancy",
    )
    assert settings_for("intake").database_role == "housing_app"


def test_without_being_told_a_service_runs_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOUSING_ENVIRONMENT", raising=False)
    monkeypatch.setenv("HOUSING_AMQP_URL_TEMPLATE", REAL_BROKER_URL)
    monkeypatch.delenv("HOUSING_TOKEN_JWKS", raising=False)
    with pytest.raises(
        ValidationError, match="HOUSING_TOKEN_JWKS is empty or trusts the development token key"
    ):
        settings_for("intake")
    monkeypatch.setenv("HOUSING_TOKEN_JWKS", REAL_JWKS)
    monkeypatch.setenv("HOUSING_ID_HASH_KEY", "a-real-id-hash-key-from-the-vault")
    monkeypatch.setenv("HOUSING_AUDIT_CHECKPOINT_KEY", REAL_CHECKPOINT_KEY)
    assert settings_for("intake").environment == "production"


def test_service_specific_variable_beats_the_common_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_PREFETCH", "10")
    monkeypatch.setenv("HOUSING_CREDIT_PREFETCH", "3")
    monkeypatch.setenv("HOUSING_CREDIT_PORT", "9106")
    assert settings_for("credit").prefetch == 3
    assert settings_for("credit").port == 9106
    assert settings_for("intake").prefetch == 10


def test_production_refuses_the_development_token_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_ENVIRONMENT", "production")
    monkeypatch.setenv("HOUSING_AMQP_URL_TEMPLATE", REAL_BROKER_URL)
    monkeypatch.delenv("HOUSING_TOKEN_JWKS", raising=False)
    with pytest.raises(ValidationError, match="trusts the development token key"):
        settings_for("intake")
    # Nor a set that still holds it beside the real key.
    both = {"keys": json.loads(REAL_JWKS)["keys"] + dev_jwks()["keys"]}
    monkeypatch.setenv("HOUSING_TOKEN_JWKS", json.dumps(both))
    with pytest.raises(ValidationError, match="trusts the development token key"):
        settings_for("intake")
    monkeypatch.setenv("HOUSING_TOKEN_JWKS", REAL_JWKS)
    monkeypatch.setenv("HOUSING_ID_HASH_KEY", "a-real-id-hash-key-from-the-vault")
    monkeypatch.setenv("HOUSING_AUDIT_CHECKPOINT_KEY", REAL_CHECKPOINT_KEY)
    assert settings_for("intake").token_jwks == REAL_JWKS


def test_production_refuses_the_development_id_hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_ENVIRONMENT", "production")
    monkeypatch.setenv("HOUSING_AMQP_URL_TEMPLATE", REAL_BROKER_URL)
    monkeypatch.setenv("HOUSING_TOKEN_JWKS", REAL_JWKS)
    monkeypatch.setenv("HOUSING_AUDIT_CHECKPOINT_KEY", REAL_CHECKPOINT_KEY)
    monkeypatch.delenv("HOUSING_ID_HASH_KEY", raising=False)
    with pytest.raises(ValidationError, match="HOUSING_ID_HASH_KEY is the development key"):
        settings_for("credit")
    monkeypatch.setenv("HOUSING_CREDIT_ID_HASH_KEY", "a-real-id-hash-key-from-the-vault")
    assert settings_for("credit").id_hash_key.get_secret_value() == (
        "a-real-id-hash-key-from-the-vault"
    )


def test_production_refuses_the_development_audit_checkpoint_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOUSING_ENVIRONMENT", "production")
    monkeypatch.setenv("HOUSING_AMQP_URL_TEMPLATE", REAL_BROKER_URL)
    monkeypatch.setenv("HOUSING_TOKEN_JWKS", REAL_JWKS)
    monkeypatch.setenv("HOUSING_ID_HASH_KEY", "a-real-id-hash-key-from-the-vault")
    monkeypatch.delenv("HOUSING_AUDIT_CHECKPOINT_KEY", raising=False)
    with pytest.raises(
        ValidationError, match="HOUSING_AUDIT_CHECKPOINT_KEY is the development key"
    ):
        settings_for("review")
    # One key per service: the service-prefixed variable wins over the common one.
    monkeypatch.setenv("HOUSING_REVIEW_AUDIT_CHECKPOINT_KEY", REAL_CHECKPOINT_KEY)
    assert settings_for("review").audit_checkpoint_key.get_secret_value() == REAL_CHECKPOINT_KEY
    assert settings_for("intake", environment="test").audit_checkpoint_key.get_secret_value() == (
        DEV_AUDIT_CHECKPOINT_KEY
    )


def test_the_id_hash_key_is_read_from_the_dotenv_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOUSING_ID_HASH_KEY", raising=False)
    (tmp_path / ".env").write_text("HOUSING_ID_HASH_KEY=key-from-dotenv\n", encoding="utf-8")
    assert settings_for("intake").id_hash_key.get_secret_value() == "key-from-dotenv"


def test_development_accepts_the_development_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_ENVIRONMENT", "development")
    monkeypatch.delenv("HOUSING_TOKEN_JWKS", raising=False)
    settings = settings_for("intake")
    assert token_keys(settings.token_jwks).kids == token_keys(json.dumps(dev_jwks())).kids
    assert settings.token_audience == "housing-intake"


def test_each_service_logs_in_to_the_broker_as_its_own_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HOUSING_AMQP_URL", raising=False)
    monkeypatch.delenv("HOUSING_AMQP_URL_TEMPLATE", raising=False)
    settings = settings_for("credit", environment="development")
    assert (settings.broker_account, settings.amqp_url) == (
        "housing_credit",
        "amqp://housing_credit:housing_credit@127.0.0.1:5672/",
    )
    with pytest.raises(ValidationError, match="logs in to the broker as 'guest', not as its own"):
        settings_for(
            "credit", environment="development", amqp_url="amqp://guest:guest@127.0.0.1:5672/"
        )
    with pytest.raises(ValidationError, match="must contain \\{service\\}"):
        settings_for("credit", environment="development", broker_user_template="housing")


def test_production_refuses_the_development_broker_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOUSING_ENVIRONMENT", "production")
    monkeypatch.setenv("HOUSING_TOKEN_JWKS", REAL_JWKS)
    monkeypatch.setenv("HOUSING_ID_HASH_KEY", "a-real-id-hash-key-from-the-vault")
    monkeypatch.setenv("HOUSING_AUDIT_CHECKPOINT_KEY", REAL_CHECKPOINT_KEY)
    monkeypatch.delenv("HOUSING_AMQP_URL_TEMPLATE", raising=False)
    with pytest.raises(ValidationError, match="broker password of credit is the development one"):
        settings_for("credit")
    monkeypatch.setenv("HOUSING_AMQP_URL_TEMPLATE", REAL_BROKER_URL)
    assert settings_for("credit").amqp_url == (
        "amqp://housing_credit:a-real-broker-password@mq.internal:5672/"
    )


def test_a_malformed_token_key_set_stops_the_service_naming_the_setting() -> None:
    with pytest.raises(ValidationError, match="HOUSING_TOKEN_JWKS: the token key set is not JSON"):
        settings_for("intake", environment="development", token_jwks="{not json")
