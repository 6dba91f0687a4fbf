"""Credit configuration: defaults, the optional YAML section, and the id-hash key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.credit import settings as config
from shared.auth.tokens import public_jwks_of
from shared.settings import DEV_ID_HASH_KEY, ServiceSettings


def test_defaults_follow_taizhou(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.CONFIG_ENV_VAR, raising=False)
    cfg = config.load_config(config.CreditSettings().config_file)
    assert cfg.ban_years == {"general": 1, "serious": 3, "severe": 5}
    assert [k.code for k in cfg.employer_kinds] == [
        "false_employment_certificate",
        "false_social_insurance",
    ]
    assert cfg.city_credit_system.url is None


def test_yaml_section_overrides(tmp_path: Path) -> None:
    path = tmp_path / "credit.yaml"
    path.write_text(
        "credit:\n"
        "  ban_years: {general: 2, serious: 4, severe: 6}\n"
        "  employer_kinds:\n"
        "    - {code: fake_payroll, title: 虚构工资流水}\n"
        "    - {code: fake_contract, title: 虚构劳动合同}\n"
        "  city_credit_system: {url: 'http://127.0.0.1:9/push', max_attempts: 3}\n",
        encoding="utf-8",
    )
    cfg = config.load_config(path)
    assert cfg.ban_years == {"general": 2, "serious": 4, "severe": 6}
    assert [k.title for k in cfg.employer_kinds] == ["虚构工资流水", "虚构劳动合同"]
    assert str(cfg.city_credit_system.url) == "http://127.0.0.1:9/push"
    assert cfg.city_credit_system.max_attempts == 3


@pytest.mark.parametrize(
    "section",
    [
        "ban_years: {general: 1, serious: 3}",
        "ban_years: {general: 0, serious: 3, severe: 5}",
        "employer_kinds: [{code: only_one, title: 一}]",
        "unknown_key: 1",
    ],
)
def test_bad_sections_are_refused(tmp_path: Path, section: str) -> None:
    path = tmp_path / "credit.yaml"
    path.write_text(f"credit:\n  {section}\n", encoding="utf-8")
    with pytest.raises(ValidationError):
        config.load_config(path)


def test_the_config_file_comes_from_housing_credit_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "credit.yaml"
    path.write_text("credit:\n  correction_days: 20\n", encoding="utf-8")
    monkeypatch.setenv(config.CONFIG_ENV_VAR, str(path))
    settings = config.CreditSettings()
    assert settings.config_file == path
    assert config.load_config(settings.config_file).correction_days == 20
    assert config.CreditSettings(config_file=None).config_file is None


def test_id_hash_key_defaults_to_the_shared_development_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The key is the platform's common setting now (``ctx.id_hash_key``), not a credit one.
    monkeypatch.delenv("HOUSING_ID_HASH_KEY", raising=False)
    monkeypatch.setenv("HOUSING_ENVIRONMENT", "development")
    assert ServiceSettings(service="credit").id_hash_key.get_secret_value() == DEV_ID_HASH_KEY
    assert DEV_ID_HASH_KEY == "dev-only-id-hash-key"
    monkeypatch.setenv("HOUSING_ID_HASH_KEY", "k2")
    assert ServiceSettings(service="credit").id_hash_key.get_secret_value() == "k2"


def test_production_refuses_the_development_id_hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOUSING_ID_HASH_KEY", raising=False)
    with pytest.raises(ValidationError, match="HOUSING_ID_HASH_KEY"):
        ServiceSettings(
            service="credit",
            environment="production",
            token_jwks=json.dumps(public_jwks_of("W0pVsqyWRrTkUuRx2yZu9t4JqPZlsxkOeCx8dZG8t2k")),
        )
