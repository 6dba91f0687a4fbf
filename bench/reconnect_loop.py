"""The broker-reconnect fault test, N times in a row, outside CI (issue 14, item 9).

    uv run python -m bench.reconnect_loop -n 100 [--node faults@localhost] [--amqp-url URL]

Runs ``tests/integration/test_event_layer.py::
test_broker_connections_closed_mid_flow_every_event_handled_exactly_once`` in a fresh pytest
process per run, niced, with a time limit per run (a hang counts as a failure and the loop goes
on). The test force-closes every connection on its broker (``rabbitmqctl close_all_connections``),
so it must run against a RabbitMQ node of its own, never the one other test runs share: start
one first (BENCHMARKS.md, "Broker reconnect", has the commands); ``--node`` and ``--amqp-url``
name it. Prints one line per run and a summary (passes, p50 and max duration, the watchdog's
rebuilds); the output of a failed run is kept in ``--log-dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEST = (
    "tests/integration/test_event_layer.py::"
    "test_broker_connections_closed_mid_flow_every_event_handled_exactly_once"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=100)
    # This machine names its nodes @localhost (rabbitmq-env.conf); elsewhere faults@$(hostname -s).
    node = os.environ.get("TEST_RABBITMQ_NODE", "faults@localhost")
    parser.add_argument("--node", default=node, help="rabbitmqctl -n of that node")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5673/")
    parser.add_argument("--run-timeout", type=float, default=300.0)
    parser.add_argument(
        "--log-dir", type=Path, default=Path(tempfile.gettempdir()) / "reconnect-loop"
    )
    args = parser.parse_args()
    if args.node.startswith("rabbit@"):
        parser.error("refusing to force-close the connections of the shared node rabbit@…")

    args.log_dir.mkdir(parents=True, exist_ok=True)
    report = Path(tempfile.mkstemp(prefix="report-", suffix=".jsonl", dir=args.log_dir)[1])
    env = {
        **os.environ,
        "TEST_AMQP_URL": args.amqp_url,
        "TEST_RABBITMQ_NODE": args.node,
        "RECONNECT_LOOP_REPORT": str(report),
    }
    command = ["nice", "-n", "10", "uv", "run", "pytest", "-q", "-p", "no:randomly", TEST]
    durations: list[float] = []
    failures: list[int] = []
    for run in range(1, args.runs + 1):
        started = time.monotonic()
        try:
            done = subprocess.run(  # noqa: S603 - our own fixed command
                command, env=env, capture_output=True, text=True, timeout=args.run_timeout
            )
            passed, output = done.returncode == 0, done.stdout + done.stderr
        except subprocess.TimeoutExpired as exc:
            passed = False
            output = f"timed out after {args.run_timeout} s\n{exc.stdout or ''}{exc.stderr or ''}"
        took = time.monotonic() - started
        durations.append(took)
        if not passed:
            failures.append(run)
            (args.log_dir / f"run-{run:03d}.log").write_text(str(output))
        print(f"run {run:3d}: {'pass' if passed else 'FAIL'} {took:6.1f} s", flush=True)

    lines = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    recovered = [line["recovered_seconds"] for line in lines]
    rebuilds = [problem for line in lines for problem in line["rebuilds"]]
    passes = args.runs - len(failures)
    print(f"runs {args.runs}, passes {passes}, failures {len(failures)} {failures or ''}")
    print(
        f"duration per run (pytest process): p50 {statistics.median(durations):.1f} s, "
        f"max {max(durations):.1f} s"
    )
    if recovered:
        print(
            f"close -> all handled: p50 {statistics.median(recovered):.1f} s, "
            f"max {max(recovered):.1f} s ({len(recovered)} runs reported)"
        )
    print(f"watchdog rebuilds: {len(rebuilds)} {sorted(set(rebuilds)) or ''}")
    print(f"report: {report}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
