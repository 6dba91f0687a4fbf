#!/usr/bin/env bash
# Poll every service's /readyz until it answers 200 or the timeout passes, then report each.
#
#   scripts/wait_ready.sh [--timeout SECONDS] [SERVICE ...]
#
# Defaults: all six services, 60 seconds (or $WAIT_READY_TIMEOUT). Host and ports follow the
# services' own settings: HOUSING_HOST (0.0.0.0 means loopback) and HOUSING_<SERVICE>_PORT.
# Exit status 0 when every service is ready, 1 otherwise.
set -euo pipefail

timeout=${WAIT_READY_TIMEOUT:-60}
services=()
while (($#)); do
    case $1 in
        --timeout) timeout=${2:?--timeout needs a number of seconds}; shift 2 ;;
        --timeout=*) timeout=${1#*=}; shift ;;
        -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
        *) services+=("$1"); shift ;;
    esac
done
((${#services[@]})) || services=(intake review verification alerting publication credit allocation tenancy)

declare -A DEFAULT_PORT=(
    [intake]=8001 [review]=8002 [verification]=8003
    [alerting]=8004 [publication]=8005 [credit]=8006 [allocation]=8007 [tenancy]=8008
)
host=${HOUSING_HOST:-127.0.0.1}
[ "$host" = 0.0.0.0 ] && host=127.0.0.1

# probe URL: prints "<status> <first 200 bytes of the body>"; status 000 when nothing answered.
probe() {
    python3 - "$1" <<'PY'
import sys
import urllib.error
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=3) as response:
        status, body = response.status, response.read(200)
except urllib.error.HTTPError as error:
    status, body = error.code, error.read(200)
except OSError as error:
    status, body = 0, str(error).encode()
print(f"{status:03d}", body.decode("utf-8", "replace").replace("\n", " "))
PY
}

declare -A url last ready_after
for service in "${services[@]}"; do
    [[ -v "DEFAULT_PORT[$service]" ]] || { echo "unknown service: $service" >&2; exit 2; }
    port_var="HOUSING_${service^^}_PORT"
    url[$service]="http://$host:${!port_var:-${DEFAULT_PORT[$service]}}/readyz"
done

start=$SECONDS
pending=("${services[@]}")
while ((${#pending[@]})); do
    still=()
    for service in "${pending[@]}"; do
        last[$service]=$(probe "${url[$service]}")
        if [[ ${last[$service]} == 200* ]]; then
            ready_after[$service]=$((SECONDS - start))
        else
            still+=("$service")
        fi
    done
    pending=("${still[@]+"${still[@]}"}")
    ((${#pending[@]})) || break
    ((SECONDS - start < timeout)) || break
    sleep 1
done

failed=0
for service in "${services[@]}"; do
    if [[ -v "ready_after[$service]" ]]; then
        printf '%-13s ready      %s (after %ss)\n' "$service" "${url[$service]}" "${ready_after[$service]}"
    else
        failed=1
        status=${last[$service]%% *}
        detail=${last[$service]#* }
        [ "$status" = 000 ] && status="no answer"
        printf '%-13s NOT READY  %s: %s %s\n' "$service" "${url[$service]}" "$status" "$detail"
    fi
done
if ((failed)); then
    echo "not every service was ready within ${timeout}s" >&2
    exit 1
fi
echo "all ${#services[@]} services ready"
