#!/usr/bin/env bash
# Make sure the local infrastructure the platform needs is there, for a machine without a
# Docker engine (with one, use docker-compose.yml instead):
#   - PostgreSQL answering on 127.0.0.1:5432, user postgres able to connect without a password,
#     and the platform's database roles (deploy/postgres/setup_roles.sh): housing_owner, which
#     migrates and owns the service databases, and housing_app, which the services connect as
#     (the default HOUSING_MIGRATION_DATABASE_URL_TEMPLATE and HOUSING_DATABASE_URL_TEMPLATE);
#     a service database made before that split is handed to housing_owner;
#   - RabbitMQ answering on 127.0.0.1:5672, with a development account per service
#     (deploy/rabbitmq/service_users.sh --development: housing_<service>, password the same, the
#     default HOUSING_AMQP_URL_TEMPLATE); guest/guest stays for the department simulators;
#   - what printing documents as PDF needs (WeasyPrint): Debian's pango libraries and CJK fonts
#     (libpango-1.0-0, libpangoft2-1.0-0, fonts-noto-cjk);
#   - uv installed and the project environment synced from uv.lock.
#
# Idempotent: whatever already answers is left alone. A server that is installed but stopped is
# started; one that is missing is installed with apt-get when running as root, otherwise the
# script stops and says what to install. Set SKIP_ENSURE_INFRA=1 when PostgreSQL and RabbitMQ
# live elsewhere (then only the print libraries and uv are checked).
#
# Only a PostgreSQL that this script has just installed gets its authentication changed: if the
# postgres user then cannot connect over 127.0.0.1, the lines
#   host all postgres,housing_owner,housing_app 127.0.0.1/32 trust
# are put at the top of pg_hba.conf. That is for a development or CI machine; an existing
# installation's authentication is never modified, the script explains what is missing instead
# (the roles are created on any server where postgres can log in).
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
AMQP_HOST=127.0.0.1
AMQP_PORT=5672
WAIT_SECONDS=${ENSURE_INFRA_TIMEOUT:-90}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { printf '[ensure_infra] %s\n' "$*"; }
die() {
    printf '[ensure_infra] ERROR: %s\n' "$*" >&2
    exit 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }

# True when something accepts a TCP connection on host:port within two seconds.
tcp_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

pg_ready() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
    else
        tcp_open "$PG_HOST" "$PG_PORT"
    fi
}

amqp_ready() { tcp_open "$AMQP_HOST" "$AMQP_PORT"; }

# wait_for NAME CHECK_FUNCTION: poll until the check passes or WAIT_SECONDS elapse.
wait_for() {
    local name=$1 check=$2 deadline=$((SECONDS + WAIT_SECONDS))
    until "$check"; do
        if ((SECONDS >= deadline)); then
            die "$name did not answer within ${WAIT_SECONDS}s"
        fi
        sleep 1
    done
    log "$name is reachable"
}

APT_UPDATED=0
apt_install() {
    is_root || die "$* is not installed and this script is not running as root; install it with: sudo apt-get install -y $*"
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    log "apt-get install -y $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL --------------------------------------------------------------------------------

# shellcheck disable=SC2012  # cluster versions are plain numbers
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

start_postgres() {
    local version
    version=$(pg_version)
    [ -n "$version" ] || die "PostgreSQL is installed but has no cluster under /etc/postgresql"
    log "starting PostgreSQL $version/main"
    # --skip-systemctl-redirect: these machines run no systemd; start the cluster directly.
    if ! pg_ctlcluster --skip-systemctl-redirect "$version" main start; then
        is_root || die "could not start PostgreSQL as $(id -un); start it as root: pg_ctlcluster --skip-systemctl-redirect $version main start"
        # As root this fails for a cluster that is already coming up; the wait decides.
        log "pg_ctlcluster returned non-zero; waiting for the server anyway"
    fi
}

postgres_user_can_connect() {
    PGCONNECT_TIMEOUT=5 psql -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres \
        -tAc 'select 1' >/dev/null 2>&1
}

allow_local_trust() {
    local version hba
    version=$(pg_version)
    hba=/etc/postgresql/$version/main/pg_hba.conf
    [ -f "$hba" ] || die "cannot find $hba to allow local connections"
    log "fresh install: allowing users postgres, housing_owner and housing_app from 127.0.0.1 without a password ($hba)"
    local tmp
    tmp=$(mktemp)
    {
        echo "# Added by scripts/ensure_infra.sh for local development and CI (housing platform)."
        echo "host    all    postgres,housing_owner,housing_app    127.0.0.1/32    trust"
        cat "$hba"
    } >"$tmp"
    cat "$tmp" >"$hba"
    rm -f "$tmp"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
}

ensure_postgres() {
    if pg_ready; then
        log "PostgreSQL answers on $PG_HOST:$PG_PORT"
        return
    fi
    local fresh=0
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(pg_version)" ]; then
        apt_install postgresql
        fresh=1
    fi
    start_postgres
    wait_for "PostgreSQL ($PG_HOST:$PG_PORT)" pg_ready
    if ! postgres_user_can_connect; then
        if [ "$fresh" -eq 1 ]; then
            allow_local_trust
        else
            die "PostgreSQL answers but user postgres cannot log in over $PG_HOST without a password. Either allow it in pg_hba.conf (host all postgres,housing_owner,housing_app 127.0.0.1/32 trust) or set HOUSING_DATABASE_URL_TEMPLATE, HOUSING_MIGRATION_DATABASE_URL_TEMPLATE and TEST_DATABASE_URL with credentials."
        fi
        postgres_user_can_connect || die "user postgres still cannot connect to $PG_HOST:$PG_PORT"
    fi
}

# The owner and application roles, created if missing (and the attributes they must have set
# again). Concurrent calls are safe: roles.sql serialises them on an advisory lock.
ensure_database_roles() {
    if ! postgres_user_can_connect; then
        log "cannot log in as postgres on $PG_HOST:$PG_PORT to set up the database roles; as a superuser, run: PGHOST=... PGUSER=... deploy/postgres/setup_roles.sh"
        return 0
    fi
    PGHOST=$PG_HOST PGPORT=$PG_PORT PGUSER=postgres PGCONNECT_TIMEOUT=5 \
        bash deploy/postgres/setup_roles.sh | sed 's/^\[setup_roles\] /[ensure_infra] /' ||
        die "could not set up the database roles (deploy/postgres/setup_roles.sh)"
}

# --- RabbitMQ ----------------------------------------------------------------------------------

# RabbitMQ 3.x sizes its file handle cache from the node's open-files limit at boot, and each
# quorum queue holds a few of its handles. Once they are all taken the node still accepts TCP
# connections but never completes an AMQP handshake, so every new client hangs without an
# error. Debian's default limit (1024) is used up by about 300 queues, fewer than a full test
# run declares, so a node this script starts gets a higher limit from the start, and a running
# node below BROKER_MIN_FILE_HANDLES is restarted with one (development and CI machines only:
# this needs root).
BROKER_MIN_FILE_HANDLES=${BROKER_MIN_FILE_HANDLES:-4000}

# The open-files limit to give the node: the hard limit, at most 65536, or BROKER_OPEN_FILES.
broker_open_files() {
    local want
    want=$(ulimit -Hn)
    if [ "$want" = unlimited ] || [ "$want" -gt 65536 ]; then want=65536; fi
    echo "${BROKER_OPEN_FILES:-$want}"
}

# launch_rabbitmq OPEN_FILES: start a node detached with that open-files limit. Debian's
# rabbitmq-server wrapper switches to the rabbitmq user with su, whose PAM session resets the
# soft limit, so as root the limit is raised in the shell that starts the node itself.
launch_rabbitmq() {
    local open_files=$1
    if is_root && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && id rabbitmq >/dev/null 2>&1; then
        su rabbitmq -s /bin/sh -c \
            "ulimit -n $open_files; cd /var/lib/rabbitmq && exec /usr/lib/rabbitmq/bin/rabbitmq-server -detached"
    elif is_root; then
        (ulimit -n "$open_files" && rabbitmq-server -detached)
    else
        rabbitmq-server -detached
    fi
}

start_rabbitmq() {
    local open_files
    open_files=$(broker_open_files)
    log "starting RabbitMQ (rabbitmq-server -detached, ulimit -n $open_files)"
    if ! launch_rabbitmq "$open_files"; then
        is_root || die "could not start RabbitMQ as $(id -un); start it as root: rabbitmq-server -detached"
        # As root this fails for a node that is already running but not yet listening.
        log "rabbitmq-server returned non-zero; waiting for the node anyway"
    fi
}

# A node that has just opened its port may still be booting; rabbitmqctl's answers (the file
# handle limit, stop) are only reliable once await_startup confirms the boot.
await_rabbitmq_boot() {
    timeout 90 rabbitmqctl -q await_startup >/dev/null 2>&1 ||
        log "rabbitmqctl await_startup did not confirm the boot; the port answers, going on"
}

ensure_rabbitmq() {
    if amqp_ready; then
        log "RabbitMQ answers on $AMQP_HOST:$AMQP_PORT"
        return
    fi
    if ! command -v rabbitmq-server >/dev/null 2>&1; then
        apt_install rabbitmq-server
    fi
    start_rabbitmq
    wait_for "RabbitMQ ($AMQP_HOST:$AMQP_PORT)" amqp_ready
    await_rabbitmq_boot
}

broker_file_handles() {
    timeout 15 rabbitmqctl -q eval 'file_handle_cache:get_limit().' 2>/dev/null
}

rabbitmq_node_pids() { pgrep -u rabbitmq -f 'beam.smp.*rabbit' 2>/dev/null || true; }

amqp_closed() { ! amqp_ready; }

# Stop the local node: rabbitmqctl stop, and when the node does not obey (a node still booting
# has refused it in CI), SIGTERM and then SIGKILL to its Erlang VM. Quorum queues are written
# to their logs before they confirm, so a killed development node loses nothing it confirmed.
stop_rabbitmq_node() {
    local attempt pids
    for attempt in 1 2; do
        if timeout 60 rabbitmqctl -q stop >/dev/null 2>&1; then
            return 0
        fi
        log "rabbitmqctl stop did not stop the node (attempt $attempt)"
        sleep 5
    done
    for signal in TERM KILL; do
        pids=$(rabbitmq_node_pids)
        [ -n "$pids" ] || break
        log "sending SIG$signal to the RabbitMQ node (pid $pids)"
        # shellcheck disable=SC2086 # one pid per word
        kill -s "$signal" $pids 2>/dev/null || true
        for _ in $(seq 30); do
            [ -z "$(rabbitmq_node_pids)" ] && break
            sleep 1
        done
    done
    [ -z "$(rabbitmq_node_pids)" ] && amqp_closed
}

ensure_broker_file_handles() {
    is_root || return 0
    command -v rabbitmqctl >/dev/null 2>&1 || return 0
    local limit want
    limit=$(broker_file_handles) || {
        log "could not read RabbitMQ's file handle limit (rabbitmqctl); leaving the node as it is"
        return 0
    }
    [[ "$limit" =~ ^[0-9]+$ ]] || return 0
    if [ "$limit" -ge "$BROKER_MIN_FILE_HANDLES" ]; then
        log "RabbitMQ file handle limit $limit"
        return 0
    fi
    want=$(broker_open_files)
    if [ "$want" -le "$((limit + 200))" ]; then
        log "RabbitMQ file handle limit $limit and no higher open-files limit to give it; a long test run may hang at the AMQP handshake"
        return 0
    fi
    log "RabbitMQ file handle limit $limit is below $BROKER_MIN_FILE_HANDLES: restarting the node with ulimit -n $want"
    stop_rabbitmq_node || die "could not stop RabbitMQ to raise its open-files limit"
    launch_rabbitmq "$want" || log "rabbitmq-server returned non-zero; waiting for the node anyway"
    wait_for "RabbitMQ ($AMQP_HOST:$AMQP_PORT)" amqp_ready
    await_rabbitmq_boot
    log "RabbitMQ file handle limit now $(broker_file_handles || echo unknown)"
}

# Each service logs in as its own broker account (its events are believed only from it).
ensure_broker_accounts() {
    if ! command -v rabbitmqctl >/dev/null 2>&1; then
        log "no rabbitmqctl here: create the services' broker users with deploy/rabbitmq/service_users.sh on the broker host"
        return 0
    fi
    timeout 60 bash deploy/rabbitmq/service_users.sh --development |
        sed 's/^/[ensure_infra] /' ||
        die "could not create the services' broker users (deploy/rabbitmq/service_users.sh --development)"
}

# --- printing (WeasyPrint) ----------------------------------------------------------------------

# WeasyPrint lays out the printed documents with pango; without a CJK font every Chinese
# character of a PDF would be a missing-glyph box.
ensure_print_libraries() {
    local missing=()
    ldconfig -p 2>/dev/null | grep -q 'libpango-1\.0\.so' || missing+=(libpango-1.0-0)
    ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1\.0\.so' || missing+=(libpangoft2-1.0-0)
    if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh family 2>/dev/null)" ]; then
        missing+=(fonts-noto-cjk)
    fi
    if ((${#missing[@]})); then
        apt_install "${missing[@]}"
    else
        log "print libraries (pango, CJK fonts) are installed"
    fi
}

# --- uv and the project environment ------------------------------------------------------------

ensure_uv() {
    if ! command -v uv >/dev/null 2>&1; then
        command -v python3 >/dev/null 2>&1 || apt_install python3 python3-pip
        python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
        log "installing uv with pip"
        # Debian's own Python refuses pip installs (PEP 668); uv has no dependencies, so a
        # system-wide install cannot break other packages. (pip ignores these variables where
        # it does not know them.)
        PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
            python3 -m pip install --quiet uv
        if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
        hash -r
        command -v uv >/dev/null 2>&1 ||
            die "uv was installed but is not on PATH; add $(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))') to PATH"
    fi
    log "uv sync --frozen"
    uv sync --frozen --quiet
}

main() {
    if [ "${SKIP_ENSURE_INFRA:-0}" = 1 ]; then
        log "SKIP_ENSURE_INFRA=1: not checking PostgreSQL and RabbitMQ"
    else
        ensure_postgres
        ensure_database_roles
        ensure_rabbitmq
        ensure_broker_file_handles
        ensure_broker_accounts
    fi
    ensure_print_libraries
    ensure_uv
}

main "$@"
