"""deploy/rabbitmq/department_users.sh without arguments provisions every department of the
city file, not a fixed list (the demo city has twelve), however the file is laid out."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shared.city import DEFAULT_CITY_PATH, city_config
from tests.conftest import Infra

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "rabbitmq" / "department_users.sh"


def test_every_department_of_the_city_gets_a_broker_user(infra: Infra) -> None:
    if infra.container_exec is not None or shutil.which("rabbitmqctl") is None:
        pytest.skip("needs rabbitmqctl on the broker host (local broker)")
    prefix = f"{infra.prefix}_all_"
    expected = sorted(d.code for d in city_config(DEFAULT_CITY_PATH).departments)
    try:
        done = subprocess.run(
            ["bash", str(SCRIPT)],
            env={**os.environ, "USER_PREFIX": prefix},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        listed = subprocess.run(
            ["rabbitmqctl", "-q", "list_users"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        users = sorted(
            line.split()[0][len(prefix) :]
            for line in listed.splitlines()
            if line.startswith(prefix)
        )
        assert users == expected
        assert len(expected) == 12
        # The permissions of one of them, as the README's table states them.
        user = f"{prefix}disabled_persons_federation"
        permissions = infra.rabbitmqctl("-q", "list_user_permissions", user).split()
        assert permissions[-3:] == [
            "^$",
            "^housing\\.verification$",
            "^housing\\.dept\\.disabled_persons_federation$",
        ]
        topic = infra.rabbitmqctl("-q", "list_user_topic_permissions", user).split()
        assert topic[-3:] == [
            "housing.verification",
            "^response\\.disabled_persons_federation$",
            "^$",
        ]
    finally:
        for code in expected:
            subprocess.run(
                ["rabbitmqctl", "-q", "delete_user", f"{prefix}{code}"],
                capture_output=True,
                timeout=60,
                check=False,
            )


def listed(**env: str) -> list[str]:
    done = subprocess.run(
        ["bash", str(SCRIPT), "--list"],
        env={k: v for k, v in {**os.environ, **env}.items() if v},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split()


VARIANT = """\
city:
  code: "350200"
departments:   # laid out differently from the demo city
    -   name: 税务局
        code: "tax"   # quoted, after the name
        fields:
          - code: not_a_department
    - code: 'civil_affairs'
    # a comment between items
    - checks: 不动产登记
      code: real_estate
workflow: xiamen
publicity:
  - code: not_a_department_either
"""


def test_the_script_reads_the_citys_departments_as_the_platform_does(tmp_path: Path) -> None:
    demo = [d.code for d in city_config(DEFAULT_CITY_PATH).departments]
    assert listed(CITY_CONFIG="", HOUSING_CITY_CONFIG="") == demo
    # The platform's own setting is the fallback, so one variable names the city everywhere.
    variant = tmp_path / "city.yaml"
    variant.write_text(VARIANT, encoding="utf-8")
    expected = [d["code"] for d in yaml.safe_load(VARIANT)["departments"]]
    assert expected == ["tax", "civil_affairs", "real_estate"]
    assert listed(CITY_CONFIG="", HOUSING_CITY_CONFIG=str(variant)) == expected
    assert listed(CITY_CONFIG=str(variant), HOUSING_CITY_CONFIG=str(DEFAULT_CITY_PATH)) == expected
