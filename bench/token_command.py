"""How long the development token command takes from start to printed token (issue 19,
item 3): ``python -m shared.auth token`` as a fresh process, and ``make token`` (``uv run``
in front), each run N times, interleaved so a busy machine slows both alike.

``uv run python -m bench.token_command [--runs 10] [--compare /path/to/other/checkout]``

With ``--compare`` the same commands run in another checkout too (e.g. a clone at an older
commit, with its own ``uv sync --frozen``), for a before/after figure.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = ["-m", "shared.auth", "token", "--role", "street_clerk", "--org", "350203001"]


def commands(checkout: Path) -> dict[str, list[str]]:
    return {
        "python -m shared.auth token": [str(checkout / ".venv" / "bin" / "python"), *TOKEN],
        "make token": ["make", "-s", "-C", str(checkout), "token"],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.token_command")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--compare", type=Path, help="another checkout to measure alongside")
    args = p.parse_args(argv)
    checkouts = {"this checkout": ROOT}
    if args.compare:
        checkouts[f"{args.compare}"] = args.compare.resolve()
    runs: dict[tuple[str, str], list[float]] = {}
    baseline = [sys.executable, "-c", "pass"]
    for _ in range(args.runs):
        for where, checkout in checkouts.items():
            for name, argv_ in commands(checkout).items():
                started = time.perf_counter()
                subprocess.run(argv_, cwd=checkout, capture_output=True, check=True)  # noqa: S603
                runs.setdefault((where, name), []).append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run(baseline, capture_output=True, check=True)  # noqa: S603
        runs.setdefault(("interpreter", "python -c pass"), []).append(time.perf_counter() - started)
    for (where, name), seconds in runs.items():
        print(
            f"{where:>40}  {name:<28} min {min(seconds):.3f} s  "
            f"median {statistics.median(seconds):.3f} s  ({len(seconds)} runs)"
        )


if __name__ == "__main__":
    main()
