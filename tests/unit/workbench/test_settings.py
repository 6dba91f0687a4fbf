"""Workbench settings: production refuses the development session key and a missing identity
provider; service addresses follow each service's own port setting."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from services.workbench.settings import WorkbenchSettings

# A key of its own, as `python -m services.workbench keygen` prints one.
PRODUCTION_KEY = Fernet.generate_key().decode()

PRODUCTION_OIDC = {
    "oidc_issuer": "https://idp.example.gov.cn/realms/housing",
    "oidc_client_id": "workbench",
    "public_url": "https://workbench.example.gov.cn",
}


def test_production_refuses_the_development_session_key() -> None:
    with pytest.raises(ValidationError, match="development key"):
        WorkbenchSettings(environment="production", **PRODUCTION_OIDC)


def test_production_needs_the_identity_provider() -> None:
    with pytest.raises(ValidationError, match="OIDC_ISSUER"):
        WorkbenchSettings(environment="production", session_keys=[PRODUCTION_KEY])


def test_production_with_its_own_key_and_identity_provider_starts_with_secure_cookies() -> None:
    settings = WorkbenchSettings(
        environment="production",
        session_keys=[PRODUCTION_KEY],
        **PRODUCTION_OIDC,
    )
    assert settings.secure_cookies is True
    assert WorkbenchSettings(environment="development").secure_cookies is False


def test_service_urls_follow_the_services_port_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_REVIEW_PORT", "18002")
    settings = WorkbenchSettings(environment="development")
    assert settings.service_url("intake") == "http://127.0.0.1:8001"
    assert settings.service_url("review") == "http://127.0.0.1:18002"
    compose = WorkbenchSettings(
        environment="development",
        service_url_template="http://{service}:{port}",
        service_urls={"tenancy": "http://tenancy.internal:9000/"},
    )
    assert compose.service_url("verification") == "http://verification:8003"
    assert compose.service_url("tenancy") == "http://tenancy.internal:9000"


def test_an_unknown_service_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown services"):
        WorkbenchSettings(environment="development", service_urls={"billing": "http://x"})


def test_the_platform_environment_variable_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_ENVIRONMENT", "test")
    assert WorkbenchSettings().environment == "test"
    monkeypatch.setenv("HOUSING_WORKBENCH_ENVIRONMENT", "development")
    assert WorkbenchSettings().environment == "development"


def test_a_malformed_session_key_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="key 2 is not a Fernet key"):
        WorkbenchSettings(environment="development", session_keys=[PRODUCTION_KEY, "short"])
