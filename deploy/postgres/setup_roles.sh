#!/usr/bin/env bash
# Sets up the platform's database roles on a PostgreSQL server (docs/operations.md, "Database
# roles"): the owner role (migrations) and the application role (the services), from
# deploy/postgres/roles.sql; then every service database made before the split, still owned by
# another role, is handed to the owner role (deploy/postgres/adopt.sql) so that `migrate` can
# run as it. Idempotent and safe when several copies run at once.
#
# Connects as a superuser through the libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD).
# HOUSING_DB_OWNER_ROLE (default housing_owner), HOUSING_DB_APP_ROLE (housing_app) name the
# roles, HOUSING_DB_OWNER_PASSWORD / HOUSING_DB_APP_PASSWORD set their passwords (unset: left
# as they are), HOUSING_DB_PREFIX (housing_) the service databases' names.
# Used by scripts/ensure_infra.sh (local trust authentication) and docker-compose.yml.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OWNER=${HOUSING_DB_OWNER_ROLE:-housing_owner}
APP=${HOUSING_DB_APP_ROLE:-housing_app}
PREFIX=${HOUSING_DB_PREFIX:-housing_}
# The services of shared/settings.py SERVICES (tests/unit/test_compose.py checks the list).
SERVICES=(intake review verification alerting publication credit allocation tenancy)

psql_admin() { psql -X -q -w -v ON_ERROR_STOP=1 "$@"; }

psql_admin -d postgres -v owner="$OWNER" -v app="$APP" \
    -v owner_password="${HOUSING_DB_OWNER_PASSWORD:-}" \
    -v app_password="${HOUSING_DB_APP_PASSWORD:-}" \
    -f "$HERE/roles.sql"
echo "[setup_roles] roles $OWNER (migrations) and $APP (services) are in place"

names=""
for service in "${SERVICES[@]}"; do names+="'$PREFIX$service',"; done
owned_by_others=$(psql_admin -d postgres -Atc \
    "SELECT datname FROM pg_database WHERE datname IN (${names%,})
       AND datdba <> '$OWNER'::regrole ORDER BY datname")
for db in $owned_by_others; do
    echo "[setup_roles] $db was made before the role split: handing it to $OWNER"
    psql_admin -d "$db" -v owner="$OWNER" -f "$HERE/adopt.sql"
done
