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
else
    bash scripts/ensure_infra.sh
fi

uv sync --frozen --quiet

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
if [ "$browser_tests" = 1 ] && [ "${HOUSING_SKIP_BROWSER_SETUP:-0}" != 1 ]; then
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
