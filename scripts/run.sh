#!/usr/bin/env bash
# The run command (README: `make run`): local PostgreSQL and RabbitMQ, every service's database
# migrated, the workbench's web app built, then the eight services and the workbench as local
# processes under honcho (see Procfile).
# Ctrl-C stops them all: honcho forwards the signal to every service and waits for them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# A local run is a development installation (development keys, /_dev/clock, the simulators).
# Services started any other way run in production mode unless told otherwise.
export HOUSING_ENVIRONMENT="${HOUSING_ENVIRONMENT:-development}"
echo "[run] HOUSING_ENVIRONMENT=$HOUSING_ENVIRONMENT"

SERVICES=(intake review verification alerting publication credit allocation tenancy)
declare -A DEFAULT_PORT=(
    [intake]=8001 [review]=8002 [verification]=8003
    [alerting]=8004 [publication]=8005 [credit]=8006 [allocation]=8007 [tenancy]=8008
)

for service in "${SERVICES[@]}"; do
    [ -f "services/$service/__main__.py" ] ||
        { echo "[run] services/$service/__main__.py is missing; nothing to run" >&2; exit 1; }
done

# Also the database roles: migrate connects as housing_owner, the services as housing_app.
bash scripts/ensure_infra.sh

# Each service has its own database, so the migrations run side by side (as the owner role,
# which creates a missing database and grants the application role its privileges).
echo "[run] migrating: ${SERVICES[*]}"
declare -A MIGRATION
for service in "${SERVICES[@]}"; do
    uv run python -m "services.$service" migrate &
    MIGRATION[$service]=$!
done
failed=()
for service in "${SERVICES[@]}"; do
    wait "${MIGRATION[$service]}" || failed+=("$service")
done
if ((${#failed[@]})); then
    echo "[run] migration failed for: ${failed[*]} (see the log above)" >&2
    exit 1
fi

# The workbench's web app: Node.js installed and the app built when missing or out of date.
bash scripts/build_web.sh

# The address a browser should use: a service bound to every interface is reached on loopback.
host=${HOUSING_HOST:-127.0.0.1}
[ "$host" = 0.0.0.0 ] && host=127.0.0.1
echo
echo "[run] starting the services and the workbench (Ctrl-C stops them all):"
printf '  %-13s http://%s:%s   (sign in as a demo user)\n' \
    workbench "$host" "${HOUSING_WORKBENCH_PORT:-8000}"
for service in "${SERVICES[@]}"; do
    # HOUSING_<SERVICE>_PORT, as the service itself reads it.
    port_var="HOUSING_${service^^}_PORT"
    port=${!port_var:-${DEFAULT_PORT[$service]}}
    printf '  %-13s http://%s:%s   (API docs: http://%s:%s/docs)\n' \
        "$service" "$host" "$port" "$host" "$port"
done
echo "[run] readiness: scripts/wait_ready.sh (in another terminal)"
if [ "$HOUSING_ENVIRONMENT" = development ] && [ "${HOUSING_DEMO:-1}" != 0 ]; then
    # Demo data (development only): the demo city's housing stock, through allocation's API
    # once it is ready, then (on an empty installation only) a few hundred households at every
    # stage with lights, tickets and bans (tools/demo_seed.py; HOUSING_DEMO_HOUSEHOLDS sets how
    # many). Walk one family to a contract: uv run python -m tools.walkthrough_allocation
    # (and on through a year of tenancy to the next household: tools.walkthrough_tenancy)
    echo "[run] demo: importing deploy/demo/allocation_stock.csv once allocation is ready"
    echo "[run] demo: seeding ${HOUSING_DEMO_HOUSEHOLDS:-300} households on an empty installation"
    ( (uv run python -m tools.demo_allocation &&
        uv run python -m tools.demo_seed --households "${HOUSING_DEMO_HOUSEHOLDS:-300}") ||
        true) &
fi
echo

exec uv run honcho -f Procfile start
