#!/usr/bin/env bash
# Back up every service database and the broker definitions into one directory.
#
#   scripts/backup.sh [--out DIR] [--prefix housing_] [--no-broker] [SERVICE ...]
#
# One pg_dump in custom format per service database (<prefix><service>, default housing_*;
# intake's uploaded scans are large objects, which the dump carries with their rows), the RabbitMQ
# definitions (exchanges, queues with their arguments, bindings, users, permissions, policies:
# `rabbitmqctl export_definitions`, or the management API when RABBITMQ_MANAGEMENT_URL is set),
# each audit chain's head (SEQ:HASH, for `audit verify --anchor` after a restore), a MANIFEST
# and SHA256SUMS. Messages waiting in queues are not part of it (docs/operations.md says why).
# PostgreSQL is reached with the libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD; default
# 127.0.0.1:5432 as postgres). Default DIR: backups/<UTC timestamp>. Exit status 0 only when
# every part was written. Restore with scripts/restore.sh.
set -euo pipefail

# The services of shared/settings.py SERVICES (tests/integration/operations checks the list).
ALL_SERVICES=(intake review verification alerting publication credit allocation tenancy)

out=""
prefix=housing_
broker=1
services=()
while (($#)); do
    case $1 in
        --out) out=${2:?--out needs a directory}; shift 2 ;;
        --out=*) out=${1#*=}; shift ;;
        --prefix) prefix=${2?--prefix needs a value}; shift 2 ;;
        --prefix=*) prefix=${1#*=}; shift ;;
        --no-broker) broker=0; shift ;;
        -h | --help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) services+=("$1"); shift ;;
    esac
done
((${#services[@]})) || services=("${ALL_SERVICES[@]}")
out=${out:-backups/$(date -u +%Y%m%dT%H%M%SZ)}

export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}

if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
    echo "refusing to write into non-empty $out" >&2
    exit 2
fi
mkdir -p "$out"
# The dumps hold personal data and the definitions hold password hashes.
chmod 700 "$out"
umask 077

manifest="$out/MANIFEST"
{
    echo "# housing platform backup"
    echo "created_at	$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "postgres	$PGHOST:$PGPORT"
    echo "pg_dump	$(pg_dump --version)"
    echo "# service	database	dump	audit_head"
} >"$manifest"

for service in "${services[@]}"; do
    db="$prefix$service"
    dump="$service.dump"
    # Taken before the dump: the restored chain must reach at least this head.
    head=$(psql -X -d "$db" -v ON_ERROR_STOP=1 -Atc \
        "SELECT coalesce((SELECT seq || ':' || hash FROM audit_log ORDER BY seq DESC LIMIT 1), '-')")
    pg_dump --format=custom --compress=6 --dbname="$db" --file="$out/$dump"
    printf '%s\t%s\t%s\t%s\n' "$service" "$db" "$dump" "$head" >>"$manifest"
    echo "dumped $db -> $out/$dump (audit head $head)"
done

if ((broker)); then
    definitions="$out/rabbitmq-definitions.json"
    if [ -n "${RABBITMQ_MANAGEMENT_URL:-}" ]; then
        # e.g. http://admin:secret@127.0.0.1:15672 (the management plugin)
        curl -fsS "${RABBITMQ_MANAGEMENT_URL%/}/api/definitions" -o "$definitions"
    elif command -v rabbitmqctl >/dev/null; then
        # Through stdout: run as root, rabbitmqctl drops to the rabbitmq user, which may not
        # write into this (private) directory.
        rabbitmqctl --quiet export_definitions - >"$definitions"
    else
        echo "no rabbitmqctl and no RABBITMQ_MANAGEMENT_URL: broker definitions not saved" >&2
        echo "(pass --no-broker to back up the databases only)" >&2
        exit 1
    fi
    echo "broker	rabbitmq-definitions.json" >>"$manifest"
    echo "exported broker definitions -> $definitions"
fi

(cd "$out" && sha256sum -- * >SHA256SUMS)
echo "backup complete: $out"
