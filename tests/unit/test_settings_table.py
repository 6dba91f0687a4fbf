"""The README's configuration table is the one the settings classes generate: every setting is
in it with its default and meaning, and it does not depend on the machine or the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings

from shared.settings import ServiceSettings, service_settings_config
from tools import settings_table
from tools.settings_table import README, MissingDescription, Row, all_rows, rows_of, table


def test_readme_holds_the_current_table() -> None:
    readme = README.read_text(encoding="utf-8")
    assert settings_table.with_table(readme, table()) == readme, (
        "README.md's configuration table is stale: run `uv run python -m tools.settings_table`"
    )
    assert settings_table.main(["--check"]) == 0


def test_every_setting_of_every_class_has_a_row() -> None:
    variables = [row.variable for row in all_rows()]
    common = {f"HOUSING_{name.upper()}" for name in ServiceSettings.model_fields} - {
        "HOUSING_SERVICE"
    }
    assert common <= set(variables)
    own = {
        f"{cls.model_config['env_prefix']}{name.upper()}"
        for cls in settings_table.service_settings_classes()
        for name, field in cls.model_fields.items()
        if field.validation_alias is None
    }
    assert own <= set(variables)
    assert "HOUSING_CREDIT_CONFIG" in variables  # an alias keeps its own name
    assert {c.__name__ for c in settings_table.service_settings_classes()} == {
        "IntakeSettings",
        "ReviewSettings",
        "VerificationSettings",
        "AlertingSettings",
        "PublicationSettings",
        "CreditSettings",
        "AllocationSettings",
        "TenancySettings",
        "WorkbenchSettings",
    }
    assert len(variables) == len(set(variables))


def test_rows_are_written_from_the_class_not_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = table()
    monkeypatch.setenv("HOUSING_HOST", "10.1.2.3")
    monkeypatch.setenv("HOUSING_ALERTING_SWEEP_SECONDS", "1")
    monkeypatch.chdir("/")
    assert table() == before
    rows = {row.variable: row for row in all_rows()}
    assert rows["HOUSING_HOST"] == Row(
        "HOUSING_HOST", "`127.0.0.1`", "Interface the HTTP server binds (`0.0.0.0` in containers)."
    )
    # Paths relative to the repository, secrets never shown, floats as written in the README.
    assert rows["HOUSING_CITY_CONFIG"].default == "`deploy/cities/xiamen.yaml`"
    assert rows["HOUSING_ID_HASH_KEY"].default == "development key"
    assert "dev-only" not in before
    assert '"secret": "**********"' in rows["HOUSING_PUBLICATION_PROVINCE_ENDPOINTS"].default
    assert rows["HOUSING_ALERTING_SMS_BACKOFF_SECONDS"].default == "`0.5`"
    assert rows["HOUSING_RETRY_DELAYS_MS"].default == "`[1000, 5000, 30000]`"


def test_a_setting_without_a_docstring_is_refused() -> None:
    class Undocumented(BaseSettings):
        model_config = service_settings_config("probe")

        documented: int = 1
        """A documented setting."""
        forgotten: float = Field(default=2.0, gt=0)

    with pytest.raises(MissingDescription, match="HOUSING_PROBE_FORGOTTEN"):
        list(rows_of(Undocumented))


def test_check_fails_on_a_stale_or_incomplete_readme(tmp_path: Path) -> None:
    readme = README.read_text(encoding="utf-8")
    lines = readme.splitlines(keepends=True)
    row = next(i for i, line in enumerate(lines) if line.startswith("| `HOUSING_PREFETCH` |"))
    missing = tmp_path / "README.md"
    missing.write_text("".join(lines[:row] + lines[row + 1 :]), encoding="utf-8")
    assert settings_table.main(["--check", "--readme", str(missing)]) == 1
    # Without --check it writes the row back, and then the check passes.
    assert settings_table.main(["--readme", str(missing)]) == 0
    assert missing.read_text(encoding="utf-8") == readme
    unmarked = tmp_path / "other.md"
    unmarked.write_text("# no table\n", encoding="utf-8")
    with pytest.raises(ValueError, match="markers"):
        settings_table.main(["--check", "--readme", str(unmarked)])
