"""deploy/rabbitmq/department_users.sh without arguments provisions every department of the
city file, not a fixed list (the demo city has twelve)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

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
    finally:
        for code in expected:
            subprocess.run(
                ["rabbitmqctl", "-q", "delete_user", f"{prefix}{code}"],
                capture_output=True,
                timeout=60,
                check=False,
            )
