#!/usr/bin/env bash
# Create one RabbitMQ user per department system (协查部门), allowed to read only its own request
# queue and publish only its own response key on the verification exchange (docs/architecture.md §3).
#
#   deploy/rabbitmq/department_users.sh [department ...]
#   deploy/rabbitmq/department_users.sh --list     # only print the codes it would provision
#
# Without arguments: every department of the city file ($CITY_CONFIG, else the platform's
# $HOUSING_CITY_CONFIG, else the demo city deploy/cities/xiamen.yaml: the "code" of each item of
# its top-level "departments:" list, however the items are indented or ordered). Run it again
# whenever a department is added to the city file. For each department <d> it creates user
# "dept_<d>" (USER_PREFIX) (password from $DEPT_PASSWORD_<D> in upper case, e.g. DEPT_PASSWORD_TAX, or a
# random one printed once — store it in the department's secret store) and sets, in $VHOST:
#
#   configure  ^$                                   declare or delete nothing
#   write      ^<exchange>$                         publish only to the verification exchange...
#   read       ^<prefix>\.dept\.<d>$                ...consume only its own request queue
#   topic      write ^response\.<d>$ on <exchange>  ...and only with its own response key
#
# The queues themselves are declared by the verification service when it starts. Re-running
# the script is safe: existing users keep their password unless one is given in the
# environment; permissions are set again. Needs rabbitmqctl with rights on the broker node.
#
# Environment: VHOST (default /), EXCHANGE (default housing.verification), QUEUE_PREFIX
# (default housing, as HOUSING_QUEUE_PREFIX), USER_PREFIX (default dept_), RABBITMQCTL
# (default rabbitmqctl).
set -euo pipefail

VHOST="${VHOST:-/}"
EXCHANGE="${EXCHANGE:-housing.verification}"
QUEUE_PREFIX="${QUEUE_PREFIX:-housing}"
USER_PREFIX="${USER_PREFIX:-dept_}"
RABBITMQCTL="${RABBITMQCTL:-rabbitmqctl}"

CITY_CONFIG="${CITY_CONFIG:-${HOUSING_CITY_CONFIG:-$(dirname "${BASH_SOURCE[0]}")/../cities/xiamen.yaml}}"

# The "code" of each item directly under the top-level "departments:" key, without a YAML
# library on the broker host: an item is a "- " line at the indentation of the first one, its
# code either on that line or a key at the item's own indentation (never one nested deeper).
city_departments() {
  awk '
    function emit(s) {
      sub(/^code:[ \t]*/, "", s); sub(/[ \t]+#.*$/, "", s); gsub(/["\047 \t\r]/, "", s)
      if (s != "") print s
    }
    /^[^ \t#]/ { inside = ($0 ~ /^departments:[ \t]*(#.*)?\r?$/); dash = -1; next }
    !inside { next }
    match($0, /^ *- +/) {
      lead = index($0, "-") - 1
      if (dash < 0) dash = lead
      if (lead == dash) { item = RLENGTH; rest = substr($0, RLENGTH + 1); if (rest ~ /^code:/) emit(rest) }
      next
    }
    match($0, /^ +/) && RLENGTH == item && substr($0, RLENGTH + 1) ~ /^code:/ { emit(substr($0, RLENGTH + 1)) }
  ' "$CITY_CONFIG"
}

if [ "${1:-}" = "--list" ]; then
  city_departments
  exit 0
fi

if [ "$#" -eq 0 ]; then
  mapfile -t codes < <(city_departments)
  if [ "${#codes[@]}" -eq 0 ]; then
    echo "no departments found in $CITY_CONFIG" >&2
    exit 2
  fi
  echo "provisioning ${#codes[@]} departments of $CITY_CONFIG"
  set -- "${codes[@]}"
fi

# shellcheck source=deploy/rabbitmq/user_password.sh
source "$(dirname "${BASH_SOURCE[0]}")/user_password.sh"

escape() { printf '%s' "$1" | sed 's/[.]/\\./g'; }

for dept in "$@"; do
  if ! [[ "$dept" =~ ^[a-z][a-z0-9_]{1,39}$ ]]; then
    echo "bad department code: $dept" >&2
    exit 2
  fi
  user="${USER_PREFIX}${dept}"
  ensure_user "$user" "DEPT_PASSWORD_$(printf '%s' "$dept" | tr '[:lower:]' '[:upper:]')"
  "$RABBITMQCTL" -q set_permissions -p "$VHOST" "$user" \
    '^$' "^$(escape "$EXCHANGE")\$" "^$(escape "$QUEUE_PREFIX")\\.dept\\.$(escape "$dept")\$"
  "$RABBITMQCTL" -q set_topic_permissions -p "$VHOST" "$user" "$EXCHANGE" \
    "^response\\.$(escape "$dept")\$" '^$'
  echo "permissions set for $user"
done
