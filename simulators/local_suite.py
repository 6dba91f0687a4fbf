"""The whole platform as local processes, on free ports, isolated by a name prefix.

The pipeline benchmark (``bench/pipeline.py``) and the infrastructure fault tests
(``tests/e2e/test_infrastructure_faults.py``) need the services as real processes, started the
way the run command starts them (``python -m services.<name>``), so that one can be killed with
SIGKILL and restarted, and so that each service has a core's worth of its own. Each suite gets
its own databases (``database_url(service)``), exchanges and queues (``prefix``), so it runs
beside ``make run`` or a test run on the same PostgreSQL and RabbitMQ.

Every process writes its output to ``<log_dir>/<name>.log``; :meth:`LocalSuite.log_tail` shows
the end of it when something went wrong.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.settings import SERVICES

ROOT = Path(__file__).resolve().parent.parent


def account_url(amqp_url: str, service: str) -> str:
    """``amqp_url`` logging in as ``service``'s development broker account, whose password is
    its name (``broker_user_template``'s default)."""
    account = f"housing_{service}"
    return f"amqp://{account}:{account}@{amqp_url.split('@', 1)[1]}"


# Listening ports are drawn below Linux's ephemeral range (32768-60999 by default): a port the
# kernel hands out for "any free port" may meanwhile become the source port of one of the many
# client connections the migrations open, and the service would then fail to bind it.
_LISTEN_PORTS = range(20000, 32768)
_taken: set[int] = set()


def free_port() -> int:
    """A port free now, never one this process handed out before."""
    for port in random.sample(_LISTEN_PORTS, 200):
        if port in _taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


@dataclass
class LocalSuite:
    prefix: str
    amqp_url: str
    database_url: Callable[[str], str]  # service name -> its database URL
    # service name -> the URL its migrate runs with (the owner role); None: database_url's
    migration_database_url: Callable[[str], str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # more HOUSING_* settings
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="suite-")))
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ports = {name: free_port() for name in SERVICES}

    # -- environment -------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HOUSING_ENVIRONMENT": "test",
            "HOUSING_AMQP_URL": self.amqp_url,
            "HOUSING_QUEUE_PREFIX": self.prefix,
            "HOUSING_EVENTS_EXCHANGE": f"{self.prefix}.events",
            "HOUSING_VERIFICATION_EXCHANGE": f"{self.prefix}.verification",
            "HOUSING_LOG_LEVEL": "WARNING",
        }
        for name in SERVICES:
            env[f"HOUSING_{name.upper()}_PORT"] = str(self.ports[name])
            # Each service as its own broker account (the development one: deploy/rabbitmq/
            # service_users.sh); HOUSING_AMQP_URL stays the department simulators' login.
            env[f"HOUSING_{name.upper()}_AMQP_URL"] = account_url(self.amqp_url, name)
            env[f"HOUSING_{name.upper()}_DATABASE_URL"] = self.database_url(name)
            if self.migration_database_url is not None:
                env[f"HOUSING_{name.upper()}_MIGRATION_DATABASE_URL"] = self.migration_database_url(
                    name
                )
        if "workbench" in self.ports:
            # The workbench finds the services by the HOUSING_<SERVICE>_PORT set above.
            env["HOUSING_WORKBENCH_PORT"] = str(self.ports["workbench"])
        env.update(self.env)
        return env

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    # -- processes ---------------------------------------------------------------------------

    def migrate(self, services: Iterable[str] = SERVICES, timeout: float = 600.0) -> None:
        """Migrate the services' databases side by side, as the run command does; each may
        take ``timeout`` seconds (eight at once on a busy two-core machine need more)."""
        running = {
            name: subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                [sys.executable, "-m", f"services.{name}", "migrate"],
                env=self.environment(),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for name in services
        }
        for name, proc in running.items():
            _, err = proc.communicate(timeout=timeout)
            if proc.returncode != 0:
                raise RuntimeError(f"{name} migrate failed: {err.decode()[-2000:]}")

    def _spawn(self, name: str, argv: list[str]) -> None:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(  # noqa: S603 (argv built here)
                argv,
                env=self.environment(),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal is the suite's to forward
            )

    def start(self, services: Iterable[str] = SERVICES) -> None:
        for name in services:
            self._spawn(name, [sys.executable, "-m", f"services.{name}"])

    def start_workbench(self) -> str:
        """The workbench (backend-for-frontend and built web app) on a free port, forwarding to
        this suite's services; answers its URL. Not one of SERVICES: no database, no broker."""
        self.ports["workbench"] = free_port()
        self._spawn("workbench", [sys.executable, "-m", "services.workbench"])
        return self.url("workbench")

    def start_departments(
        self, *, latency_ms: float, jitter_ms: float = 0.0, extra: Iterable[str] = ()
    ) -> Path:
        """The reference department simulators as one process; answers the heartbeat file
        they touch every second once every department is connected."""
        heartbeat = self.log_dir / "departments.heartbeat"
        heartbeat.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "simulators.departments"]
        argv += ["--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms)]
        argv += ["--heartbeat", str(heartbeat), *extra]
        self._spawn("departments", argv)
        return heartbeat

    def wait_ready(self, services: Iterable[str] = SERVICES, timeout: float = 90.0) -> None:
        """Until each service answers ``/readyz`` 200 (database, broker and consumers up)."""
        pending = set(services)
        deadline = time.monotonic() + timeout
        while pending:
            for name in sorted(pending):
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}"
                    )
                try:
                    if httpx.get(f"{self.url(name)}/readyz", timeout=2).status_code == 200:
                        pending.discard(name)
                except httpx.TransportError:
                    pass
            if pending and time.monotonic() > deadline:
                tails = "\n".join(self.log_tail(n) for n in sorted(pending))
                raise TimeoutError(f"not ready within {timeout} s: {sorted(pending)}\n{tails}")
            time.sleep(0.2)

    def wait_departments(self, heartbeat: Path, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not heartbeat.exists():
            proc = self.procs["departments"]
            if proc.poll() is not None:
                raise RuntimeError(f"departments exited:\n{self.log_tail('departments')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"departments not connected:\n{self.log_tail('departments')}")
            time.sleep(0.2)

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hook runs, in-flight transactions and deliveries are cut."""
        proc = self.procs[name]
        proc.kill()
        proc.wait(timeout=30)

    def stop(self, timeout: float = 20.0) -> list[str]:
        """Ctrl-C every process and wait; kill those that do not stop. Returns the stuck ones."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        stuck = []
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                stuck.append(name)
                proc.kill()
                proc.wait()
        return stuck

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each running process has used so far (Linux ``/proc``)."""
        tick = os.sysconf("SC_CLK_TCK")
        used = {}
        for name, proc in self.procs.items():
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            used[name] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return used

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else "(no log)"
        return f"--- {name} ---\n{text[-chars:]}"
