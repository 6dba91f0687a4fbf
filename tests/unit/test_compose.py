"""The deployment files agree with each other: docker-compose.yml and the Procfile run the same
six services, on their ports, after their infrastructure is healthy."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.settings import DEFAULT_PORTS, SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROCFILE = ROOT / "Procfile"

EXPECTED_PORTS = {
    "intake": 8001,
    "review": 8002,
    "verification": 8003,
    "alerting": 8004,
    "publication": 8005,
    "credit": 8006,
    "allocation": 8007,
    "tenancy": 8008,
}

# The workbench (backend-for-frontend): not one of SERVICES (no database, no broker), but run
# by compose and the Procfile beside them.
WORKBENCH_PORT = 8000

# Reference simulators beside the six services: compose service -> (port, module), and the
# Procfile process name -> (port, module).
SIMULATORS = {"provincial-receiver": (8090, "simulators.province")}
PROCFILE_SIMULATORS = {"province": (8090, "simulators.province")}
# Simulators that serve no HTTP port (the department systems talk AMQP): name -> module, the
# same name in compose and in the Procfile.
AMQP_SIMULATORS = {"departments": "simulators.departments"}
# Jobs that run once at `up` and exit (no healthcheck; others wait for their success).
ONE_SHOT_JOBS = {"postgres-roles"}
# Simulators in the Procfile only (development): name -> module.
DEVELOPMENT_SIMULATORS = {"power": "simulators.power_company"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def _compose_cli_available() -> tuple[bool, str]:
    if shutil.which("docker") is None:
        return False, "the docker client is not installed"
    probe = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        return False, "the docker client has no compose plugin ('docker compose version' failed)"
    return True, ""


def test_docker_compose_accepts_the_file() -> None:
    available, reason = _compose_cli_available()
    if not available:
        pytest.skip(reason)
    # `config` validates and resolves the file; it needs the client only, not an engine.
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_expected_ports_match_the_settings_defaults() -> None:
    assert EXPECTED_PORTS == DEFAULT_PORTS
    assert set(SERVICES) == set(EXPECTED_PORTS)


def test_the_six_services_publish_their_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, port in EXPECTED_PORTS.items():
        assert name in services, name
        assert services[name]["ports"] == [f"{port}:{port}"], name
        assert services[name]["environment"]["SERVICE"] == name
    assert set(services) == (
        set(EXPECTED_PORTS)
        | {"postgres", "rabbitmq"}
        | ONE_SHOT_JOBS
        | set(SIMULATORS)
        | set(AMQP_SIMULATORS)
        | {"workbench"}
    )


def test_compose_runs_the_workbench_beside_the_services(compose: dict[str, Any]) -> None:
    workbench = compose["services"]["workbench"]
    assert workbench["command"] == ["python", "-m", "services.workbench"]
    assert workbench["ports"] == [f"{WORKBENCH_PORT}:{WORKBENCH_PORT}"]
    assert workbench["environment"]["HOUSING_WORKBENCH_SERVICE_URL_TEMPLATE"] == (
        "http://{service}:{port}"
    )
    # It reaches the services by compose name and needs neither PostgreSQL nor RabbitMQ.
    assert set(workbench["depends_on"]) <= set(EXPECTED_PORTS)
    assert "/readyz" in " ".join(workbench["healthcheck"]["test"])


def test_services_believe_forwarded_addresses_from_the_workbench_alone(
    compose: dict[str, Any],
) -> None:
    workbench = compose["services"]["workbench"]["networks"]["default"]["ipv4_address"]
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(workbench) in ipaddress.ip_network(subnet)
    for name in EXPECTED_PORTS:
        env = compose["services"][name]["environment"]
        assert env["HOUSING_FORWARDED_ALLOW_IPS"] == workbench, name
    # The workbench itself believes nobody's: no proxy stands in front of it in compose.
    assert (
        "HOUSING_WORKBENCH_FORWARDED_ALLOW_IPS"
        not in compose["services"]["workbench"]["environment"]
    )


def test_services_wait_for_healthy_infrastructure(compose: dict[str, Any]) -> None:
    for name in EXPECTED_PORTS:
        assert compose["services"][name]["depends_on"] == {
            "postgres-roles": {"condition": "service_completed_successfully"},
            "rabbitmq": {"condition": "service_healthy"},
        }, name
    assert compose["services"]["postgres-roles"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"}
    }


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name in ONE_SHOT_JOBS:
            assert service["restart"] == "no", name
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name} has no healthcheck"
    for name in EXPECTED_PORTS:
        assert "/readyz" in " ".join(compose["services"][name]["healthcheck"]["test"]), name


def test_services_reach_infrastructure_by_compose_names(compose: dict[str, Any]) -> None:
    for name in EXPECTED_PORTS:
        env = compose["services"][name]["environment"]
        assert "HOUSING_AMQP_URL" not in env, name  # it would beat the account template
        assert env["HOUSING_AMQP_URL_TEMPLATE"] == "amqp://{account}:{account}@rabbitmq:5672/"
        assert env["HOUSING_DATABASE_URL_TEMPLATE"] == (
            "postgresql+asyncpg://housing_app:housing_app@postgres:5432/housing_{service}"
        )
        assert env["HOUSING_MIGRATION_DATABASE_URL_TEMPLATE"] == (
            "postgresql+asyncpg://housing_owner:housing_owner@postgres:5432/housing_{service}"
        )
        assert env["HOUSING_HOST"] == "0.0.0.0"  # noqa: S104


def test_the_roles_job_makes_the_roles_the_services_log_in_as(compose: dict[str, Any]) -> None:
    job = compose["services"]["postgres-roles"]
    assert job["volumes"] == ["./deploy/postgres:/housing-postgres:ro"]
    assert job["entrypoint"] == ["bash", "/housing-postgres/setup_roles.sh"]
    env = job["environment"]
    assert (env["PGHOST"], env["PGUSER"]) == ("postgres", "postgres")
    service_env = compose["services"]["intake"]["environment"]
    # user:password of each template, as the job sets them (default role names).
    assert (
        "//housing_app:" + env["HOUSING_DB_APP_PASSWORD"] + "@"
        in (service_env["HOUSING_DATABASE_URL_TEMPLATE"])
    )
    assert (
        "//housing_owner:" + env["HOUSING_DB_OWNER_PASSWORD"] + "@"
        in (service_env["HOUSING_MIGRATION_DATABASE_URL_TEMPLATE"])
    )
    # The databases it hands over from before the split are those of every service.
    script = (ROOT / "deploy" / "postgres" / "setup_roles.sh").read_text(encoding="utf-8")
    listed = re.search(r"^SERVICES=\((.*)\)$", script, flags=re.MULTILINE)
    assert listed is not None
    assert tuple(listed.group(1).split()) == SERVICES


def test_procfile_runs_exactly_the_six_services() -> None:
    # The same pattern honcho uses; comment lines do not match it.
    entries = re.findall(
        r"^([A-Za-z0-9_-]+):\s*(.+)$", PROCFILE.read_text(encoding="utf-8"), flags=re.MULTILINE
    )
    services = [
        (name, command)
        for name, command in entries
        if "services." in command and name != "workbench"
    ]
    assert services == [(name, f"python -m services.{name}") for name in EXPECTED_PORTS]
    assert ("workbench", "python -m services.workbench") in entries
    simulators = {name: command for name, command in entries if "simulators." in command}
    assert simulators == {
        name: f"python -m {module}" for name, (_, module) in PROCFILE_SIMULATORS.items()
    } | {
        name: f"python -m {module}"
        for name, module in (AMQP_SIMULATORS | DEVELOPMENT_SIMULATORS).items()
    }
    assert len(entries) == len(services) + len(simulators) + 1  # + the workbench


def test_simulators_run_in_compose(compose: dict[str, Any]) -> None:
    for name, (port, module) in SIMULATORS.items():
        service = compose["services"][name]
        assert service["command"][:3] == ["python", "-m", module], name
        assert service["ports"] == [f"{port}:{port}"], name
    for name, module in AMQP_SIMULATORS.items():
        service = compose["services"][name]
        assert service["command"] == ["python", "-m", module], name
        assert "ports" not in service, name


def test_the_broker_starts_with_each_services_account(compose: dict[str, Any]) -> None:
    broker = compose["services"]["rabbitmq"]
    assert broker["volumes"][1:] == [
        "./deploy/rabbitmq/compose/definitions.json:/etc/rabbitmq/definitions.json:ro",
        "./deploy/rabbitmq/compose/20-definitions.conf:/etc/rabbitmq/conf.d/20-definitions.conf:ro",
    ]
    conf = (ROOT / "deploy/rabbitmq/compose/20-definitions.conf").read_text(encoding="utf-8")
    assert "load_definitions = /etc/rabbitmq/definitions.json" in conf.splitlines()
    definitions = json.loads(
        (ROOT / "deploy/rabbitmq/compose/definitions.json").read_text(encoding="utf-8")
    )
    users = {u["name"]: u for u in definitions["users"]}
    assert set(users) == {"guest", *(f"housing_{s}" for s in SERVICES)}
    for name, user in users.items():
        # The password each login is given in compose: its own name.
        raw = base64.b64decode(user["password_hash"])
        salt, digest = raw[:4], raw[4:]
        assert digest == hashlib.sha256(salt + name.encode()).digest(), name
        assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
    granted = {p["user"] for p in definitions["permissions"] if p["vhost"] == "/"}
    assert granted == set(users)
    departments = compose["services"]["departments"]["environment"]
    assert departments["HOUSING_AMQP_URL"] == "amqp://guest:guest@rabbitmq:5672/"
