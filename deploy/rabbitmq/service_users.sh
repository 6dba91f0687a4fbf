#!/usr/bin/env bash
# Create one RabbitMQ user per platform service, so that what each service publishes bears its
# own AMQP user_id (RabbitMQ checks it against the login) and consumers can believe an internal
# event only from the service that owns it (docs/operations.md, "Broker accounts").
#
#   deploy/rabbitmq/service_users.sh [--development] [service ...]
#
# Without service names: all eight services. For each service <s> it creates user
# "housing_<s>" (USER_PREFIX) and sets, in $VHOST:
#
#   configure  ^(<prefix>\.<s>(\..+)?|<events>|<events>\.unrouted|<verification>)$
#                                          its queue family, the two exchanges, and the events
#                                          exchange's alternate exchange and unrouted queue
#   write      the same, plus amq\.default (its own retries and dead letters)
#   read       the same
#
# verification also declares and binds each department's request queue (<prefix>\.dept\..+).
# Passwords come from $SVC_PASSWORD_<S> (upper case, e.g. SVC_PASSWORD_INTAKE) or are generated
# and printed once: put each into that service's HOUSING_<S>_AMQP_URL. An existing user keeps
# its password unless one is given; permissions are set again, so re-running is safe.
#
# --development: the password is the user's name (the services' development default
# HOUSING_AMQP_URL_TEMPLATE, which production refuses) and the permissions are ".*", because
# test runs use queue prefixes of their own; users that exist already are left as they are.
# The run command and the test command call it this way through scripts/ensure_infra.sh.
#
# Environment: VHOST (default /), QUEUE_PREFIX (default housing, as HOUSING_QUEUE_PREFIX),
# EVENTS_EXCHANGE (default housing.events), VERIFICATION_EXCHANGE (default
# housing.verification), USER_PREFIX (default housing_, as HOUSING_BROKER_USER_TEMPLATE),
# RABBITMQCTL (default rabbitmqctl).
set -euo pipefail

VHOST="${VHOST:-/}"
QUEUE_PREFIX="${QUEUE_PREFIX:-housing}"
EVENTS_EXCHANGE="${EVENTS_EXCHANGE:-housing.events}"
VERIFICATION_EXCHANGE="${VERIFICATION_EXCHANGE:-housing.verification}"
USER_PREFIX="${USER_PREFIX:-housing_}"
RABBITMQCTL="${RABBITMQCTL:-rabbitmqctl}"

development=""
if [ "${1:-}" = --development ]; then
  development=1
  shift
fi
if [ "$#" -eq 0 ]; then
  set -- intake review verification alerting publication credit allocation tenancy
fi

# shellcheck source=deploy/rabbitmq/user_password.sh
source "$(dirname "${BASH_SOURCE[0]}")/user_password.sh"

escape() { printf '%s' "$1" | sed 's/[.]/\\./g'; }

existing=""
if [ -n "$development" ]; then
  # One call instead of two per user on every run of the test command.
  existing="$("$RABBITMQCTL" -q list_users --no-table-headers 2>/dev/null | awk '{print $1}')"
fi

for service in "$@"; do
  if ! [[ "$service" =~ ^[a-z][a-z0-9_]{1,39}$ ]]; then
    echo "bad service name: $service" >&2
    exit 2
  fi
  user="${USER_PREFIX}${service}"
  if [ -n "$development" ]; then
    if grep -qx -- "$user" <<<"$existing"; then
      continue
    fi
    "$RABBITMQCTL" -q add_user "$user" "$user" >/dev/null
    "$RABBITMQCTL" -q set_permissions -p "$VHOST" "$user" '.*' '.*' '.*'
    echo "created development broker user $user"
    continue
  fi

  ensure_user "$user" "SVC_PASSWORD_$(printf '%s' "$service" | tr '[:lower:]' '[:upper:]')"

  own="$(escape "$QUEUE_PREFIX")\\.$(escape "$service")(\\..+)?"
  # <events>.unrouted: the events exchange's alternate exchange and its queue, which every
  # service declares with the events exchange (shared.amqp.topology.declare_exchanges).
  exchanges="$(escape "$EVENTS_EXCHANGE")|$(escape "$EVENTS_EXCHANGE")\\.unrouted|$(escape "$VERIFICATION_EXCHANGE")"
  if [ "$service" = verification ]; then
    own="$own|$(escape "$QUEUE_PREFIX")\\.dept\\..+"
  fi
  "$RABBITMQCTL" -q set_permissions -p "$VHOST" "$user" \
    "^($own|$exchanges)\$" "^($own|$exchanges|amq\\.default)\$" "^($own|$exchanges)\$"
  echo "permissions set for $user"
done
