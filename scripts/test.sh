#!/usr/bin/env bash
# The test command (README: `make test`): infrastructure, the locked environment, then pytest
# with any arguments given (`scripts/test.sh tests/unit -x`, `make test ARGS="-k outbox"`).
#
# With a Docker engine answering, the tests start their own PostgreSQL and RabbitMQ with
# testcontainers, so the local servers are not needed; without one, scripts/ensure_infra.sh makes
# sure the local ones answer (TEST_DATABASE_URL / TEST_AMQP_URL point the tests at them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then
    echo "[test] a Docker engine answers: the tests use testcontainers"
    # Still the print libraries (pango, CJK fonts) the PDF tests render with, and uv.
    SKIP_ENSURE_INFRA=1 bash scripts/ensure_infra.sh
else
    bash scripts/ensure_infra.sh
fi

uv sync --frozen --quiet

# promtool checks deploy/prometheus (tests/integration/operations/test_monitoring.py). Without
# one on PATH, the binary is taken out of Debian's `prometheus` package into .cache/ (fetched
# with apt-get download, never installed: no Prometheus server is started); best effort, the
# test's own metric-name checks run without it.
if ! command -v promtool >/dev/null 2>&1; then
    if [ ! -x .cache/promtool/promtool ] && command -v apt-get >/dev/null 2>&1; then
        mkdir -p .cache/promtool
        (cd .cache/promtool && timeout 120 apt-get download -qq prometheus >/dev/null 2>&1 &&
            dpkg-deb --fsys-tarfile prometheus_*.deb | tar -xO ./usr/bin/promtool >promtool &&
            chmod +x promtool && rm -f prometheus_*.deb) ||
            { rm -f .cache/promtool/promtool; echo "[test] promtool not available: skipping its checks"; }
    fi
    if [ -x .cache/promtool/promtool ]; then export PATH="$ROOT/.cache/promtool:$PATH"; fi
fi
# The browser tests (tests/browser, part of the default selection) drive Debian's Chromium
# with CJK fonts (Playwright never downloads a browser) against the built workbench: set up
# when the selection may include them (no path given, tests/, or tests/browser...).
browser_tests=1
paths=0
for arg in "$@"; do
    case "$arg" in
        -*) ;;
        tests | tests/ | tests/browser*) paths=1 ;;
        tests/* | */*) [ "$paths" = 1 ] || paths=2 ;;
    esac
done
[ "$paths" = 2 ] && browser_tests=0
# Chromium and the CJK fonts are also used by the docs and public-page browser tests outside
# tests/browser, so they are checked whatever the selection; the workbench is built only when
# the selection may include tests/browser.
if [ "${HOUSING_SKIP_BROWSER_SETUP:-0}" != 1 ]; then
    missing=()
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    [[ "$(dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null)" == *"ok installed"* ]] ||
        missing+=(fonts-noto-cjk)
    if ((${#missing[@]})); then
        echo "[test] installing ${missing[*]} for the browser tests"
        if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
        "${SUDO[@]}" apt-get update -q
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q "${missing[@]}"
    fi
fi
if [ "$browser_tests" = 1 ] && [ "${HOUSING_SKIP_BROWSER_SETUP:-0}" != 1 ]; then
    bash scripts/build_web.sh
fi

status=0
uv run pytest "$@" || status=$?

if [ "$status" -eq 5 ]; then
    # pytest's "no tests collected": a green run that tested nothing would hide a broken
    # collection or a mistyped selection, so it counts as a failure.
    echo "[test] pytest collected no tests (exit 5): nothing was tested; failing." >&2
    exit 1
fi
exit "$status"
