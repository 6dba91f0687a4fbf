"""Production refuses to start a service that would send to the outside over plain http://
(issue 14, item 8): SMS gateways, the provincial push, the city credit system."""

from __future__ import annotations

import json

import pytest

from services.alerting.bootstrap import definition as alerting_definition
from services.publication.bootstrap import definition as publication_definition
from shared.auth.tokens import public_jwks_of
from shared.runtime import Runtime
from shared.settings import settings_for

REAL_CHECKPOINT_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUSING_ENVIRONMENT", "production")
    monkeypatch.setenv(
        "HOUSING_TOKEN_JWKS",
        json.dumps(public_jwks_of("W0pVsqyWRrTkUuRx2yZu9t4JqPZlsxkOeCx8dZG8t2k")),
    )
    monkeypatch.setenv("HOUSING_ID_HASH_KEY", "a-real-id-hash-key-from-the-vault")
    monkeypatch.setenv("HOUSING_AUDIT_CHECKPOINT_KEY", REAL_CHECKPOINT_KEY)
    monkeypatch.setenv("HOUSING_AMQP_URL_TEMPLATE", "amqp://{account}:a-real-pw@mq:5672/")
    monkeypatch.setenv(
        "HOUSING_DATABASE_URL_TEMPLATE", "postgresql+asyncpg://app:pw@db:5432/housing_{service}"
    )


def test_an_http_sms_gateway_stops_alerting_in_production(
    production: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOUSING_ALERTING_SMS_GATEWAY_URL", "http://sms.example.gov.cn/send")
    with pytest.raises(
        ValueError,
        match="HOUSING_ALERTING_SMS_GATEWAY_URL: http:// is refused in production; outbound "
        "URLs must use https://",
    ):
        Runtime(alerting_definition(), settings_for("alerting"))
    monkeypatch.setenv("HOUSING_ALERTING_SMS_GATEWAY_URL", "https://sms.example.gov.cn/send")
    assert Runtime(alerting_definition(), settings_for("alerting")).settings.service == "alerting"


def test_the_development_province_endpoint_stops_publication_in_production(
    production: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOUSING_PUBLICATION_PROVINCE_ENDPOINTS", raising=False)
    with pytest.raises(ValueError, match="PROVINCE_ENDPOINTS \\(province\\): http:// is refused"):
        Runtime(publication_definition(), settings_for("publication"))
    endpoints = [{"name": "province", "url": "https://sup.fj.gov.cn/push", "secret": "s3cret"}]
    monkeypatch.setenv("HOUSING_PUBLICATION_PROVINCE_ENDPOINTS", json.dumps(endpoints))
    runtime = Runtime(publication_definition(), settings_for("publication"))
    assert runtime.settings.service == "publication"


def test_development_still_talks_to_the_local_simulators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOUSING_PUBLICATION_PROVINCE_ENDPOINTS", raising=False)
    settings = settings_for("publication", environment="development")
    assert Runtime(publication_definition(), settings).settings.is_development
