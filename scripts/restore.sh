#!/usr/bin/env bash
# Restore a backup of scripts/backup.sh into fresh databases.
#
#   scripts/restore.sh BACKUP_DIR [--prefix PREFIX | SERVICE=DATABASE ...] [--owner ROLE] [--broker]
#                      [SERVICE ...]
#
# Every service of the backup's MANIFEST (or only the SERVICEs named) is restored into a new
# database: <PREFIX><service> with --prefix, or the name given as SERVICE=DATABASE; without
# either, the names it had. A database that already exists is never touched: the restore
# refuses it (drop or rename it first). The checksums are verified before anything is written;
# each dump is restored with pg_restore --exit-on-error, without the dump's ownership and
# grants: the database and its objects belong to the owner role (--owner, default
# $HOUSING_DB_OWNER_ROLE or housing_owner; the connecting role when no such role exists), and
# the application role gets its privileges (tables, and SELECT on intake's large objects, the
# uploaded scans) from the service's next `migrate`, which the run
# command and the container entry point run at every start (docs/operations.md, "Database
# roles"). Then the audit chain of each restored database is verified against the
# head recorded at backup time (python -m shared.audit verify --anchor, when uv or the
# project's Python is at hand). --broker also imports the RabbitMQ definitions
# (`rabbitmqctl import_definitions`; it adds and updates, never deletes). Libpq variables
# (PGHOST, PGPORT, PGUSER, PGPASSWORD) as for the backup. Exit status 0 only when all passed.
set -euo pipefail

case ${1:-} in -h | --help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;; esac
dir=${1:?usage: scripts/restore.sh BACKUP_DIR [--prefix PREFIX | SERVICE=DATABASE ...] [--broker]}
shift
prefix=""
broker=0
owner=${HOUSING_DB_OWNER_ROLE:-housing_owner}
declare -A target=()
only=()
while (($#)); do
    case $1 in
        --prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
        --prefix=*) prefix=${1#*=}; shift ;;
        --broker) broker=1; shift ;;
        --owner) owner=${2:?--owner needs a role}; shift 2 ;;
        --owner=*) owner=${1#*=}; shift ;;
        -h | --help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *=*) target[${1%%=*}]=${1#*=}; only+=("${1%%=*}"); shift ;;
        *) only+=("$1"); shift ;;
    esac
done

export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
here=$(cd "$(dirname "$0")/.." && pwd)

[ -f "$dir/MANIFEST" ] || { echo "$dir has no MANIFEST: not a backup" >&2; exit 2; }
(cd "$dir" && sha256sum --quiet --check SHA256SUMS) || {
    echo "checksums of $dir do not match: refusing to restore" >&2
    exit 1
}

# service -> "database<TAB>dump<TAB>audit_head" from the manifest
declare -A entry=()
order=()
while IFS=$'\t' read -r service db dump head; do
    case $service in '#'* | created_at | postgres | pg_dump | broker | '') continue ;; esac
    entry[$service]="$db"$'\t'"$dump"$'\t'"$head"
    order+=("$service")
done <"$dir/MANIFEST"
((${#only[@]})) || only=("${order[@]}")

new_name() {  # new_name SERVICE OLD_DATABASE
    if [ -n "${target[$1]:-}" ]; then
        echo "${target[$1]}"
    elif [ -n "$prefix" ]; then
        echo "$prefix$1"
    else
        echo "$2"
    fi
}

verify_audit() {  # verify_audit DATABASE HEAD
    local url="postgresql+asyncpg://$PGUSER${PGPASSWORD:+:$PGPASSWORD}@$PGHOST:$PGPORT/$1"
    local anchor=()
    [ "$2" = "-" ] || anchor=(--anchor "$2")
    # The project's environment as `uv sync` left it; uv only when there is none yet.
    if [ -x "$here/.venv/bin/python" ]; then
        (cd "$here" && .venv/bin/python -m shared.audit verify --database-url "$url" "${anchor[@]}")
    elif command -v uv >/dev/null; then
        (cd "$here" && uv run --frozen python -m shared.audit verify --database-url "$url" "${anchor[@]}")
    else
        echo "no uv and no .venv: audit chain of $1 not verified" >&2
        return 1
    fi
}

# Refuse before writing anything: every target must be new.
for service in "${only[@]}"; do
    [ -n "${entry[$service]:-}" ] || { echo "$service is not in this backup" >&2; exit 2; }
    IFS=$'\t' read -r db _ _ <<<"${entry[$service]}"
    new=$(new_name "$service" "$db")
    exists=$(psql -X -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '${new//\'/\'\'}'")
    if [ "$exists" = 1 ]; then
        echo "database $new exists: refusing to restore over it" >&2
        exit 1
    fi
done

as_owner=()
if [ "$(psql -X -d postgres -Atc "SELECT 1 FROM pg_roles WHERE rolname = '${owner//\'/\'\'}'")" = 1 ]; then
    as_owner=(--role="$owner")
    echo "restoring as the owner role $owner"
else
    echo "no role $owner on this server: the connecting role $PGUSER owns what is restored" >&2
fi

status=0
for service in "${only[@]}"; do
    IFS=$'\t' read -r db dump head <<<"${entry[$service]}"
    new=$(new_name "$service" "$db")
    createdb ${as_owner:+--owner="$owner"} "$new"
    pg_restore --exit-on-error --no-owner --no-acl "${as_owner[@]}" --dbname="$new" "$dir/$dump"
    echo "restored $service ($db) -> $new"
    if verify_audit "$new" "$head"; then
        echo "audit chain of $new verified"
    else
        echo "audit chain of $new NOT verified" >&2
        status=1
    fi
done

if ((broker)); then
    definitions="$dir/rabbitmq-definitions.json"
    [ -f "$definitions" ] || { echo "this backup has no broker definitions" >&2; exit 1; }
    if [ -n "${RABBITMQ_MANAGEMENT_URL:-}" ]; then
        curl -fsS -H 'content-type: application/json' -X POST --data-binary "@$definitions" \
            "${RABBITMQ_MANAGEMENT_URL%/}/api/definitions"
    else
        # From stdin, for the same reason as the export (rabbitmqctl reads as its own user);
        # no file argument: RabbitMQ 3.10 takes "-" for a file name.
        rabbitmqctl --quiet import_definitions --format json <"$definitions"
    fi
    echo "imported broker definitions from $definitions"
fi
exit $status
