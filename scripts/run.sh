#!/usr/bin/env bash
# The run command (README: `make run`): local PostgreSQL and RabbitMQ, every service's database
# migrated, then the seven services as local processes under honcho (see Procfile).
# Ctrl-C stops them all: honcho forwards the signal to every service and waits for them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# A local run is a development installation (development keys, /_dev/clock, the simulators).
# Services started any other way run in production mode unless told otherwise.
export HOUSING_ENVIRONMENT="${HOUSING_ENVIRONMENT:-development}"
echo "[run] HOUSING_ENVIRONMENT=$HOUSING_ENVIRONMENT"

SERVICES=(intake review verification alerting publication credit allocation)
declare -A DEFAULT_PORT=(
    [intake]=8001 [review]=8002 [verification]=8003
    [alerting]=8004 [publication]=8005 [credit]=8006 [allocation]=8007
)

for service in "${SERVICES[@]}"; do
    [ -f "services/$service/__main__.py" ] ||
        { echo "[run] services/$service/__main__.py is missing; nothing to run" >&2; exit 1; }
done

bash scripts/ensure_infra.sh

# Each service has its own database, so the six migrations run side by side.
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

# The address a browser should use: a service bound to every interface is reached on loopback.
host=${HOUSING_HOST:-127.0.0.1}
[ "$host" = 0.0.0.0 ] && host=127.0.0.1
echo
echo "[run] starting the seven services (Ctrl-C stops them all):"
for service in "${SERVICES[@]}"; do
    # HOUSING_<SERVICE>_PORT, as the service itself reads it.
    port_var="HOUSING_${service^^}_PORT"
    port=${!port_var:-${DEFAULT_PORT[$service]}}
    printf '  %-13s http://%s:%s   (API docs: http://%s:%s/docs)\n' \
        "$service" "$host" "$port" "$host" "$port"
done
echo "[run] readiness: scripts/wait_ready.sh (in another terminal)"
echo

exec uv run honcho -f Procfile start
