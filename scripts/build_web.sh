#!/usr/bin/env bash
# Builds the workbench's web app (services/workbench/web -> dist/) when it is missing or older
# than its sources; the run and test commands call it. Installs Debian's nodejs and npm when
# missing (the build needs Node.js 20 or newer), and runs `npm ci` when node_modules is missing
# or older than package-lock.json. `--force` builds whatever the timestamps say.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WEB="$ROOT/services/workbench/web"
cd "$WEB"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "[web] installing Debian's nodejs and npm"
    if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
    "${SUDO[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q nodejs npm
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
    echo "[web] Node.js $(node --version) is too old: the workbench build needs 20 or newer" >&2
    exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
    echo "[web] npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    touch node_modules
fi

# Sources of the build: the app, its configuration, and the modules that define the services'
# HTTP APIs (the typed client is generated from them, so a changed API rebuilds the app).
stale() {
    [ ! -f dist/index.html ] && return 0
    [ -n "$(find src index.html public vite.config.ts tsconfig.json package-lock.json scripts \
        -path src/api/schema -prune -o -type f -newer dist/index.html -print -quit)" ] && return 0
    [ -n "$(find "$ROOT/services" "$ROOT/shared" -path "$ROOT/services/workbench" -prune -o \
        \( -path '*api*' -o -name '*schema*' -o -name pagination.py -o -name problems.py \) \
        -name '*.py' -newer dist/index.html -print -quit)" ]
}
if [ "${1:-}" = --force ] || stale; then
    echo "[web] building the workbench (npm run build)"
    npm run build --silent
else
    echo "[web] the workbench build is up to date"
fi
