#!/usr/bin/env bash
# Private PostgreSQL 15 + TimescaleDB (Apache edition) cluster for development and CI.
#
#   scripts/db.sh [setup]   install what is missing, build TimescaleDB if missing,
#                           initdb if missing, start, create role/db (idempotent)
#   scripts/db.sh start     start the cluster (no-op when already running)
#   scripts/db.sh stop      stop the cluster
#   scripts/db.sh status    exit 0 when running
#   scripts/db.sh url       print the DATABASE_URL
#   scripts/db.sh psql ...  psql as tsapi on the tsapi database
#
# Environment: TSAPI_PG_PORT (default 54329).
# Everything lives under <repo>/.data (git-ignored); nothing system-wide is
# configured except installing Debian packages and the TimescaleDB extension
# files into PostgreSQL 15's directories.
set -euo pipefail

PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BIN/pg_config
PORT=${TSAPI_PG_PORT:-54329}
DB_USER=tsapi
DB_PASS=tsapi
DB_NAME=tsapi
# The Debian release whose source package of timescaledb we build (none in bookworm).
TS_SOURCE_SUITE=trixie

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DATA_DIR=$REPO/.data
BUILD_DIR=$DATA_DIR/build
APT_DIR=$DATA_DIR/apt
# Short per-clone id, used for fallback dirs outside the repo.
REPO_ID=$(printf '%s' "$REPO" | sha256sum | cut -c1-12)

log() { printf 'db.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

url() { printf 'postgres://%s:%s@127.0.0.1:%s/%s\n' "$DB_USER" "$DB_PASS" "$PORT" "$DB_NAME"; }

# ---------------------------------------------------------------------------
# Users: PostgreSQL refuses to run as root, so as root the cluster belongs to
# the `postgres` OS user; otherwise it belongs to whoever runs this script.
# ---------------------------------------------------------------------------
if [[ $EUID -eq 0 ]]; then
    PG_OS_USER=postgres
else
    PG_OS_USER=$(id -un)
fi

# Run a command as the cluster owner. cd / first, so that a working directory
# the owner cannot read does not trip up initdb/pg_ctl.
as_pg() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

# Run a command with root rights (package installs, extension install).
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------
APT_UPDATED=0
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    # Index refresh once per run, and only when something must be installed.
    mkdir -p "$DATA_DIR"
    local apt_log=$DATA_DIR/apt-install.log
    if [[ $APT_UPDATED -eq 0 ]]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$apt_log" 2>&1 \
            || { tail -n 20 "$apt_log" >&2; die "apt-get update failed"; }
        APT_UPDATED=1
    fi
    log "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$apt_log" 2>&1 \
        || { tail -n 20 "$apt_log" >&2; die "apt-get install failed; see $apt_log"; }
}

# Installing postgresql-15 also makes Debian's own `main` cluster (port 5432);
# it is harmless and unrelated to ours.
install_server_packages() {
    apt_install postgresql-$PG_MAJOR postgresql-client-$PG_MAJOR
    id "$PG_OS_USER" >/dev/null 2>&1 || die "OS user $PG_OS_USER does not exist"
}

# ---------------------------------------------------------------------------
# TimescaleDB: built from Debian trixie's source package, because bookworm has
# no timescaledb package. apt runs with a private source list and state dir so
# the system's apt configuration is left untouched.
# ---------------------------------------------------------------------------
timescaledb_installed() {
    [[ -x $PG_CONFIG ]] || return 1
    local share lib
    share=$("$PG_CONFIG" --sharedir)
    lib=$("$PG_CONFIG" --pkglibdir)
    [[ -f $share/extension/timescaledb.control && -f $lib/timescaledb.so ]]
}

# Base URI of the Debian archive already configured for this machine (skipping
# the security archive), so the same mirror serves the trixie sources.
debian_mirror() {
    local files=() f
    [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] && files+=("$f")
    done
    local uris="" uri=""
    if [[ ${#files[@]} -gt 0 ]]; then
        uris=$(awk '
            # a stanza never spans files
            FNR == 1 { if (en != "no") printf "%s", uris; uris = ""; en = "" }
            # one-line format: deb [opts] URI suite components
            /^[[:space:]]*deb(-src)?[[:space:]]/ {
                sub(/\[[^]]*\]/, ""); print $2; next
            }
            # deb822 format: URIs: a b c  (an "Enabled: no" stanza is skipped)
            /^[[:space:]]*$/ { if (en != "no") printf "%s", uris; uris = ""; en = ""; next }
            tolower($1) == "enabled:" { en = tolower($2) }
            tolower($1) == "uris:" { for (i = 2; i <= NF; i++) uris = uris $i "\n" }
            END { if (en != "no") printf "%s", uris }
        ' "${files[@]}")
    fi
    # Prefer a *.debian.org host (deb., ftp.XX., snapshot.), then any .../debian
    # mirror; debian-security never matches.
    uri=$(grep -m1 -E '^(https?|ftp)://[^/]*debian\.[^/]+/([^ ]*/)?debian(/[^ ]*)?$' <<<"$uris" || true)
    [[ -n $uri ]] || uri=$(grep -m1 -E '^(https?|ftp)://[^ ]*/debian/?$' <<<"$uris" || true)
    uri=${uri:-http://deb.debian.org/debian}
    printf '%s\n' "${uri%/}"
}

build_timescaledb() {
    if timescaledb_installed; then
        return 0
    fi
    apt_install postgresql-server-dev-$PG_MAJOR cmake gcc make dpkg-dev xz-utils libssl-dev ca-certificates
    # Installing server-dev may have upgraded PostgreSQL and so the extension
    # dir; check again before spending time on a build.
    if timescaledb_installed; then return 0; fi

    local mirror keyring opts
    mirror=$(debian_mirror)
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/parts" "$APT_DIR/cache/archives/partial"
    printf 'deb-src [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$TS_SOURCE_SUITE" >"$APT_DIR/sources.list"
    opts=(
        -o Dir::Etc::SourceList="$APT_DIR/sources.list"
        -o Dir::Etc::SourceParts="$APT_DIR/parts"
        -o Dir::State::Lists="$APT_DIR/lists"
        -o Dir::Cache="$APT_DIR/cache"
        -o Dir::Cache::pkgcache=
        -o Dir::Cache::srcpkgcache=
        -o Acquire::Languages=none
        # The private dirs may sit where apt's unprivileged _apt user cannot write.
        -o APT::Sandbox::User="$(id -un)"
    )
    log "fetching timescaledb source ($TS_SOURCE_SUITE, $mirror)"
    apt-get "${opts[@]}" -q update >"$APT_DIR/update.log" 2>&1 \
        || { tail -n 20 "$APT_DIR/update.log" >&2; die "apt-get update (trixie sources) failed"; }

    rm -rf "$BUILD_DIR"
    mkdir -p "$BUILD_DIR"
    # apt-get source downloads the .dsc + tarballs and unpacks them with
    # dpkg-source (applying Debian's patches).
    (cd "$BUILD_DIR" && apt-get "${opts[@]}" -q source timescaledb) >"$BUILD_DIR/source.log" 2>&1 \
        || { tail -n 20 "$BUILD_DIR/source.log" >&2; die "apt-get source timescaledb failed"; }
    local src
    src=$(find "$BUILD_DIR" -mindepth 1 -maxdepth 1 -type d -name 'timescaledb-*' | head -n1)
    [[ -n $src ]] || die "timescaledb source not found in $BUILD_DIR"

    log "building $(basename "$src") (about a minute on 2 cores)"
    # GIT_EXECUTABLE=false: the build dir sits inside this git repo; keep
    # TimescaleDB's version probe from picking up our commit.
    (
        cd "$src"
        ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
            -DWARNINGS_AS_ERRORS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DPG_CONFIG="$PG_CONFIG" -DGIT_EXECUTABLE=/bin/false
        make -C build -j"$(nproc)"
    ) >"$BUILD_DIR/build.log" 2>&1 || { tail -n 40 "$BUILD_DIR/build.log" >&2; die "build failed; see $BUILD_DIR/build.log"; }
    as_root make -C "$src/build" install >>"$BUILD_DIR/build.log" 2>&1 \
        || { tail -n 20 "$BUILD_DIR/build.log" >&2; die "install failed; see $BUILD_DIR/build.log"; }
    timescaledb_installed || die "timescaledb still missing after install"
    log "timescaledb installed"
}

# ---------------------------------------------------------------------------
# Cluster layout. PG_BASE holds data/, run/ (socket) and log/, all owned by the
# cluster owner. It is <repo>/.data/pg when the owner can reach it; otherwise
# (e.g. a clone under /root as root) it lives in /var/tmp and .data/pg is a
# symlink to it.
# ---------------------------------------------------------------------------
resolve_layout() {
    local link=$DATA_DIR/pg
    if [[ -L $link ]]; then
        PG_BASE=$(readlink "$link")
    elif [[ -d $link ]]; then
        PG_BASE=$link
    else
        PG_BASE=""
    fi
    set_paths
}

set_paths() {
    PGDATA=${PG_BASE:+$PG_BASE/data}
    LOG_FILE=${PG_BASE:+$PG_BASE/log/postgresql.log}
    # Unix socket paths are limited to ~107 bytes; fall back to /tmp if needed.
    SOCK_DIR=${PG_BASE:+$PG_BASE/run}
    if [[ -n $SOCK_DIR && $((${#SOCK_DIR} + 20)) -gt 100 ]]; then
        SOCK_DIR=/tmp/tsapi-pg-$REPO_ID
    fi
}

create_layout() {
    mkdir -p "$DATA_DIR"
    resolve_layout
    if [[ -z $PG_BASE ]]; then
        chmod 755 "$DATA_DIR"
        if as_pg test -x "$DATA_DIR" -a -r "$DATA_DIR"; then
            PG_BASE=$DATA_DIR/pg
            mkdir -p "$PG_BASE"
        else
            PG_BASE=/var/tmp/tsapi-pg-$REPO_ID
            log "$PG_OS_USER cannot reach $DATA_DIR; cluster lives in $PG_BASE"
            mkdir -p "$PG_BASE"
            ln -sfn "$PG_BASE" "$DATA_DIR/pg"
        fi
    elif [[ ! -d $PG_BASE ]]; then
        mkdir -p "$PG_BASE" # symlink target vanished: start over there
    fi
    set_paths
    mkdir -p "$PGDATA" "$SOCK_DIR" "$(dirname "$LOG_FILE")"
    # Never adopt a directory someone else made in /tmp or /var/tmp.
    local d
    for d in "$PG_BASE" "$SOCK_DIR"; do
        if [[ $EUID -eq 0 ]]; then chown "$PG_OS_USER": "$d"; fi
        [[ $(stat -c %U "$d") == "$PG_OS_USER" ]] || die "$d is not owned by $PG_OS_USER"
    done
    if [[ $EUID -eq 0 ]]; then chown "$PG_OS_USER": "$PGDATA" "$(dirname "$LOG_FILE")"; fi
    # Only the owner (and root) may use the socket, which trusts local users.
    chmod 700 "$PG_BASE" "$PGDATA" "$SOCK_DIR"
}

write_config() {
    # Regenerated on every start so edits here (or TSAPI_PG_PORT) take effect.
    as_pg tee "$PGDATA/tsapi.conf" >/dev/null <<EOF
# Managed by scripts/db.sh; regenerated on start.
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK_DIR'
max_connections = 300
shared_buffers = 256MB
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
password_encryption = 'scram-sha-256'
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
    as_pg tee "$PGDATA/pg_hba.conf" >/dev/null <<'EOF'
# Managed by scripts/db.sh. The socket dir is private to the cluster owner.
local   all  all                 trust
host    all  all  127.0.0.1/32   scram-sha-256
host    all  all  ::1/128        scram-sha-256
EOF
}

init_cluster() {
    if [[ -f $PGDATA/PG_VERSION ]]; then
        return 0
    fi
    log "initdb $PGDATA"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$PG_BASE/log/initdb.log" 2>&1 \
        || { cat "$PG_BASE/log/initdb.log" >&2; die "initdb failed"; }
    printf "\ninclude_if_exists = 'tsapi.conf'\n" | as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null
}

is_running() {
    [[ -n ${PGDATA:-} && -f $PGDATA/PG_VERSION && -x $PG_BIN/pg_ctl ]] || return 1
    as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

start_cluster() {
    if is_running; then
        log "already running (port $(running_port))"
        return 0
    fi
    [[ -f ${PGDATA:-}/PG_VERSION ]] || die "no cluster yet; run: scripts/db.sh setup"
    timescaledb_installed || die "timescaledb is not installed; run: scripts/db.sh setup"
    create_layout # recreates a socket dir in /tmp lost to a reboot
    write_config
    log "starting on 127.0.0.1:$PORT (log: $LOG_FILE)"
    # 9>&-: the server must not inherit setup's lock fd, or it would hold the
    # lock for its whole lifetime and block the next setup.
    as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA" -l "$LOG_FILE" -w -t 60 >/dev/null 9>&- \
        || { tail -n 20 "$LOG_FILE" >&2; die "start failed"; }
    local _
    for _ in $(seq 1 60); do
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && return 0
        sleep 0.5
    done
    die "server did not become ready; see $LOG_FILE"
}

running_port() {
    sed -n '4p' "$PGDATA/postmaster.pid" 2>/dev/null || echo "?"
}

stop_cluster() {
    if ! is_running; then
        log "not running"
        return 0
    fi
    log "stopping"
    as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w >/dev/null
}

# Superuser psql over the private socket.
admin_psql() {
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$(running_port)" -U postgres "$@"
}

create_role_and_db() {
    # Dev-only cluster: tsapi is superuser so tests can create databases and extensions.
    admin_psql -d postgres <<EOF
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN SUPERUSER PASSWORD '$DB_PASS';
  ELSE
    ALTER ROLE $DB_USER LOGIN SUPERUSER PASSWORD '$DB_PASS';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME')\gexec
EOF
    # Sanity check: the preloaded extension is available to the app's database.
    [[ $(admin_psql -d "$DB_NAME" -tA -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'") == 1 ]] \
        || die "timescaledb extension not available in the cluster"
}

setup() {
    mkdir -p "$DATA_DIR"
    # Serialise concurrent setups from the same clone.
    exec 9>"$DATA_DIR/.setup.lock"
    flock 9
    install_server_packages
    build_timescaledb
    create_layout
    init_cluster
    start_cluster
    create_role_and_db
    log "ready: $(url)"
}

cmd=${1:-setup}
[[ $# -gt 0 ]] && shift
resolve_layout
case $cmd in
    setup) setup ;;
    start) start_cluster ;;
    stop) stop_cluster ;;
    status)
        if is_running; then
            log "running on port $(running_port), data $PGDATA"
        else
            log "not running"
            exit 3
        fi
        ;;
    url) url ;;
    psql)
        [[ -x $PG_BIN/psql ]] || die "psql not installed; run: scripts/db.sh setup"
        exec "$PG_BIN/psql" "$(url)" "$@"
        ;;
    -h | --help | help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command: $cmd (try: setup start stop status url psql)" ;;
esac
