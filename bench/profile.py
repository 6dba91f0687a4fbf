"""Where the services' Python CPU goes: py-spy sampling every service process during a phase.

Used by ``bench.pipeline --profile`` (and on its own: ``uv run python -m bench.profile PID ...
--seconds 30``). py-spy samples each process from outside (``--nonblocking``: it does not stop
the process to read its stack, so the measured CPU is barely disturbed); idle samples are left
out, so the shares are of CPU time, not of wall time. Each sample counts for the library of its
innermost Python frame (time in a C extension counts for the Python frame that called it), and
the libraries are grouped as the issue that asked for the profile named them.

py-spy is in the ``profile`` dependency group: ``uv sync --group profile``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from shared.service_names import SERVICES

# Top-level package of the innermost frame's file -> the share it counts for.
GROUPS = {
    "sqlalchemy": "SQLAlchemy",
    "asyncpg": "asyncpg",
    "aio_pika": "aio-pika / aiormq / pamqp",
    "aiormq": "aio-pika / aiormq / pamqp",
    "pamqp": "aio-pika / aiormq / pamqp",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "fastapi": "HTTP server (FastAPI, Starlette, uvicorn)",
    "starlette": "HTTP server (FastAPI, Starlette, uvicorn)",
    "uvicorn": "HTTP server (FastAPI, Starlette, uvicorn)",
    "httptools": "HTTP server (FastAPI, Starlette, uvicorn)",
    "h11": "HTTP server (FastAPI, Starlette, uvicorn)",
    "anyio": "HTTP server (FastAPI, Starlette, uvicorn)",
    "asyncio": "event loop",
    "uvloop": "event loop",
    "selectors": "event loop",
    "structlog": "logging",
    "logging": "logging",
    "prometheus_client": "metrics",
    "json": "JSON",
    "orjson": "JSON",
    "services": "platform code (services/, shared/)",
    "shared": "platform code (services/, shared/)",
}
# py-spy names a file by its shortest path below a sys.path entry: a service started as
# ``python -m services.intake`` shows as ``intake/api.py``.
GROUPS.update(dict.fromkeys(SERVICES, GROUPS["services"]))
OTHER = "other (standard library, crypto, ...)"

# One line of py-spy's raw (folded) output: frames separated by ';', then the sample count.
# A frame is "function (path/to/file.py:line)".
_FRAME_FILE = re.compile(r"\(([^():]+?)(?::\d+)?\)$")


def py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("py-spy is not installed: uv sync --group profile")
    return found


def group_of(frame: str) -> str:
    match = _FRAME_FILE.search(frame.strip())
    if match is None:
        return OTHER
    path = match.group(1).replace("\\", "/")
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    top = path.split("/", 1)[0].removesuffix(".py")
    return GROUPS.get(top, OTHER)


def shares_of(folded: str) -> Counter[str]:
    """Samples per group in py-spy's raw output."""
    samples: Counter[str] = Counter()
    for line in folded.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples[group_of(stack.rsplit(";", 1)[-1])] += int(count)
    return samples


class Profiler:
    """py-spy on each of ``pids`` from ``start()`` until ``stop()``."""

    def __init__(self, pids: dict[str, int], *, rate: int = 100) -> None:
        self.pids = pids
        self.rate = rate
        self.dir = Path(tempfile.mkdtemp(prefix="bench-profile-"))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        binary = py_spy()
        for name, pid in self.pids.items():
            argv = [binary, "record", "--pid", str(pid), "--rate", str(self.rate)]
            argv += ["--format", "raw", "--nonblocking", "-o", str(self.dir / f"{name}.txt")]
            self.procs[name] = subprocess.Popen(  # noqa: S603 (argv built here)
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )

    def stop(self) -> dict[str, Counter[str]]:
        """Samples per group for every process (py-spy writes its file on SIGINT)."""
        for proc in self.procs.values():
            proc.send_signal(signal.SIGINT)
        found: dict[str, Counter[str]] = {}
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            path = self.dir / f"{name}.txt"
            found[name] = shares_of(path.read_text()) if path.exists() else Counter()
        return found


def share_table(found: dict[str, Counter[str]]) -> str:
    """Markdown: each group's share of all samples, and of each process's."""
    total: Counter[str] = Counter()
    for samples in found.values():
        total.update(samples)
    everything = sum(total.values()) or 1
    names = sorted(found)
    lines = [
        "| share of the services' Python CPU | all | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for group, count in total.most_common():
        cells = []
        for name in names:
            own = sum(found[name].values()) or 1
            cells.append(f"{100 * found[name][group] / own:.0f} %")
        lines.append(f"| {group} | {100 * count / everything:.1f} % | " + " | ".join(cells) + " |")
    lines.append(
        f"| samples | {everything} | "
        + " | ".join(str(sum(found[n].values())) for n in names)
        + " |"
    )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pids", type=int, nargs="+")
    p.add_argument("--seconds", type=float, default=30.0)
    args = p.parse_args()
    profiler = Profiler({str(pid): pid for pid in args.pids})
    profiler.start()
    time.sleep(args.seconds)
    print(share_table(profiler.stop()))


if __name__ == "__main__":
    main()
