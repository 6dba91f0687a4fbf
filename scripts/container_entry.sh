#!/usr/bin/env bash
# Container entry point: one image serves every service; $SERVICE says which. The service's
# database is created if missing and migrated (as the owner role of
# HOUSING_MIGRATION_DATABASE_URL_TEMPLATE, which also grants the application role its
# privileges), then the service replaces this shell, connected as the application role of
# HOUSING_DATABASE_URL_TEMPLATE (so it gets the container's signals directly).
set -euo pipefail

case "${SERVICE:-}" in
    intake | review | verification | alerting | publication | credit | allocation | tenancy) ;;
    *)
        echo "SERVICE must be one of intake, review, verification, alerting, publication, credit, allocation, tenancy" \
            "(got '${SERVICE:-}')" >&2
        exit 2
        ;;
esac

python -m "services.$SERVICE" migrate
exec python -m "services.$SERVICE" "$@"
