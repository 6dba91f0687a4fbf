"""The department SDK as a department gets it: the wheel built from ``sdk/``, installed into a
fresh virtual environment with nothing but its own dependencies, imported there, and the
example department run from it against the real broker — answering the recorded request as
the platform's own event models accept it, once per request however often it comes, and a
request batch with one answer batch — and the
example's own test suite run there with the SDK's harness."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from housing_department_sdk.testing import FakePlatform, recorded_batch, recorded_request

from shared.events.catalogue import DepartmentAnswerBatch, DepartmentAnswered
from tests.conftest import Infra

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "sdk"
VERSION = "2.1.0"
# What the platform has and a department must not need.
PLATFORM_ONLY = {"fastapi", "sqlalchemy", "asyncpg", "structlog", "orjson", "pyjwt", "alembic"}


def uv(*args: str, cwd: Path = ROOT, timeout: float = 300) -> str:
    done = subprocess.run(
        ["uv", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment holding only the built wheel and what it requires."""
    if shutil.which("uv") is None:
        pytest.fail("uv is needed to build the SDK (it is the project's package manager)")
    work = tmp_path_factory.mktemp("sdk")
    uv("build", "--wheel", "--out-dir", str(work / "dist"), str(SDK))
    wheel = work / "dist" / f"housing_department_sdk-{VERSION}-py3-none-any.whl"
    assert wheel.is_file(), sorted(p.name for p in (work / "dist").iterdir())
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        metadata = z.read(f"housing_department_sdk-{VERSION}.dist-info/METADATA").decode()
    assert "housing_department_sdk/data/recorded_request.json" in names
    assert "housing_department_sdk/py.typed" in names
    assert not any(n.startswith(("shared/", "simulators/", "services/")) for n in names)
    requires = sorted(
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    )
    assert requires == ["aio-pika>=9.4", "pydantic>=2.7"]
    env = work / "venv"
    uv("venv", "--quiet", "--python", sys.executable, str(env))
    python = env / "bin" / "python"
    uv("pip", "install", "--quiet", "--python", str(python), str(wheel))
    return env


def test_the_wheel_installs_alone_and_imports_without_the_platform(venv: Path) -> None:
    python = str(venv / "bin" / "python")
    installed = {
        p["name"].lower()
        for p in json.loads(uv("pip", "list", "--format", "json", "--python", python))
    }
    assert {"housing-department-sdk", "aio-pika", "pydantic"} <= installed
    assert not installed & PLATFORM_ONLY
    probe = (
        "import importlib.util, housing_department_sdk as s, housing_department_sdk.testing as t;"
        "print(s.__version__, importlib.util.find_spec('shared') is None,"
        " t.recorded_request('tax').data['department'])"
    )
    # Outside the source tree, so nothing of the platform can be imported by accident.
    out = subprocess.run(
        [python, "-c", probe], cwd=venv, capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == [VERSION, "True", "tax"]


async def test_the_example_department_answers_from_the_installed_wheel(
    venv: Path, infra: Infra
) -> None:
    async with FakePlatform(infra.amqp_url, "tax", prefix=f"{infra.prefix}sdkex") as platform:
        example = subprocess.Popen(
            [str(venv / "bin" / "python"), str(SDK / "examples" / "department.py")],
            cwd=venv,
            env={
                "PATH": os.environ["PATH"],
                "HOUSING_DEPARTMENT_AMQP_URL": infra.amqp_url,
                "HOUSING_VERIFICATION_EXCHANGE": platform.exchange,
                "HOUSING_QUEUE_PREFIX": platform.prefix,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            request = await platform.send()  # waits in the queue until the example consumes
            first = await platform.next_answer(wait_seconds=60)
            # Judged by the platform's own model, not only by the SDK's.
            answered = DepartmentAnswered.model_validate(first.envelope.data)
            applicant = request.data["subjects"][0]["member_ref"]
            assert first.routing_key == "response.tax"
            assert answered.request_id == uuid.UUID(request.data["request_id"])
            assert answered.no_record is False and answered.answered_by == "tax-example"
            assert [(f.kind, f.member_ref, f.monthly_amount) for f in answered.findings] == [
                ("income", applicant, Decimal("6200.00"))
            ]
            assert first.envelope.causation_id == str(request.id)
            assert first.envelope.correlation_id == request.correlation_id

            # The same request again (a redelivery, a platform retry): the same answer, same id.
            await platform.send(request)
            again = await platform.next_answer(wait_seconds=30)
            assert again.envelope == first.envelope
            # A new request is a new answer.
            other = await platform.send(recorded_request("tax", request_id=uuid.uuid4()))
            third = await platform.next_answer(wait_seconds=30)
            assert third.answer.request_id == uuid.UUID(other.data["request_id"])
            assert third.envelope.id != first.envelope.id

            # A batch of three requests: one answer batch with the three answers, in order.
            batch = await platform.send(recorded_batch("tax", size=3))
            answers = await platform.next_answers(wait_seconds=30)
            envelope = answers[0].envelope
            assert envelope.type == "department.answered_batch"
            assert first.routing_key == answers[0].routing_key == "response.tax"
            answered_batch = DepartmentAnswerBatch.model_validate(envelope.data)  # the platform's
            asked = [item["request_id"] for item in batch.data["items"]]
            assert [str(i.request_id) for i in answered_batch.items] == asked
            assert len({a.envelope.id for a in answers}) == 1
            assert envelope.causation_id == str(batch.id)
            # The batch again: the same answer batch id, answered from memory.
            await platform.send(batch)
            repeated = await platform.next_answers(wait_seconds=30)
            assert repeated[0].envelope.id == envelope.id
            assert [r.answer for r in repeated] == [a.answer for a in answers]
            assert await platform.dead_letters() == []
        finally:
            example.send_signal(signal.SIGTERM)
            try:
                output, _ = await asyncio.to_thread(example.communicate, timeout=30)
            except subprocess.TimeoutExpired:
                example.kill()
                raise
        assert example.returncode == 0, output
        assert "consuming" in output


def test_the_example_departments_own_tests_pass_with_the_harness(
    venv: Path, infra: Infra, tmp_path: Path
) -> None:
    """A department's project: its code and tests, the SDK wheel and pytest, nothing else."""
    python = str(venv / "bin" / "python")
    uv("pip", "install", "--quiet", "--python", python, "pytest")
    for name in ("department.py", "test_department.py"):
        shutil.copy(SDK / "examples" / name, tmp_path / name)
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_department.py"],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOUSING_TEST_AMQP_URL": infra.amqp_url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
