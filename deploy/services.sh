#!/usr/bin/env bash
# Provision and run the real services the tests need, on one machine, for tests only:
#   PostgreSQL (Debian package)      127.0.0.1:$PG_PORT            (default 55432)
#   Apache Kafka, KRaft, one node    127.0.0.1:$KAFKA_PORT         (default 59092, controller 59093)
#   toxiproxy (built with go)        127.0.0.1:$TOXIPROXY_PORT     (default 58474)
#   SIPp (Debian package sip-tester) nothing to start; Kamailio and baresip (Debian) are started
#                                    by the SIP tests themselves (test/support/kamailio.ts, baresip.ts)
#
#   bash deploy/services.sh up       install what is missing, start what is not answering, write env.sh
#   bash deploy/services.sh status   one line per service: answering or not
#   bash deploy/services.sh down     stop what `up` started
#
# Everything downloaded, built or stored goes under $SERVICES_DIR (default .services/ at the
# repo root, gitignored). `up` is idempotent: a service that already answers a real probe is
# reused, caches are reused, so a second `up` takes a second or two. Every wait is bounded.
# Tests source $SERVICES_DIR/env.sh (see write_env below for the contract).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${SERVICES_DIR:-$ROOT/.services}"
PG_PORT="${PG_PORT:-55432}"
KAFKA_PORT="${KAFKA_PORT:-59092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-59093}"
TOXIPROXY_PORT="${TOXIPROXY_PORT:-58474}"
TOXIPROXY_VERSION="v2.12.0"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
PG_START_TIMEOUT_S=60
KAFKA_START_TIMEOUT_S=120
TOXIPROXY_START_TIMEOUT_S=20
STOP_TIMEOUT_S=30

APT_PACKAGES=(postgresql sip-tester kamailio baresip protobuf-compiler librdkafka-dev)

say() { printf '[%3ss] %s\n' "$SECONDS" "$*"; }
line() { printf '%s\n' "$*"; }
die() {
  printf 'services.sh: ERROR: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" > /dev/null 2>&1; }

mkdir -p "$SERVICES_DIR"
SERVICES_DIR="$(cd "$SERVICES_DIR" && pwd)"

# One `up`/`down` at a time per $SERVICES_DIR (parallel test runs wait here, then reuse).
# Long-lived children are started with fd 9 closed so they never hold the lock.
lock() {
  exec 9> "$SERVICES_DIR/.lock"
  flock -w 900 9 || die "another deploy/services.sh holds $SERVICES_DIR/.lock for more than 900s"
}

# ---------------------------------------------------------------------------------------------
# Debian packages

dpkg_installed() { dpkg-query -W -f='${Status}' "$1" 2> /dev/null | grep -q 'install ok installed'; }

apt_step() {
  local want=("${APT_PACKAGES[@]}") missing=() p
  have java || want+=(openjdk-17-jdk-headless)
  have mvn || want+=(maven)
  for p in "${want[@]}"; do dpkg_installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then
    say "apt: packages present (${want[*]})"
    return
  fi
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})"
  have apt-get || die "missing Debian packages: ${missing[*]}, and apt-get is not available"
  say "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq || die "apt-get update failed (needed for: ${missing[*]})"
  timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" > "$SERVICES_DIR/apt.log" 2>&1 ||
    {
      tail -n 20 "$SERVICES_DIR/apt.log" >&2
      die "apt-get install failed for: ${missing[*]} (log: $SERVICES_DIR/apt.log)"
    }
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

pg_bin_dir() {
  local v
  [ -d /usr/lib/postgresql ] || return 1
  v="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2> /dev/null | sort -V | tail -n 1)"
  [ -n "$v" ] && [ -x "/usr/lib/postgresql/$v/bin/initdb" ] || return 1
  printf '/usr/lib/postgresql/%s/bin' "$v"
}

# The directory holding the data dir and the socket dir. postgres (the OS user) must be able to
# reach it; if $SERVICES_DIR sits under a path it cannot traverse, use a directory under /tmp.
pg_root() {
  local f="$SERVICES_DIR/pg.root"
  if [ -s "$f" ]; then
    cat "$f"
    return
  fi
  local root="$SERVICES_DIR/pg"
  mkdir -p "$root"
  if ! as_pg test -x "$root" 2> /dev/null; then
    local alt
    alt="/tmp/services-pg-$(printf '%s' "$SERVICES_DIR" | md5sum | cut -c1-12)"
    say "postgres: $SERVICES_DIR is not traversable by user postgres; keeping the data dir in $alt instead" >&2
    root="$alt"
    mkdir -p "$root"
    chmod 0755 "$root"
  fi
  printf '%s\n' "$root" > "$f"
  printf '%s' "$root"
}

# postgres refuses to run as root: as root, run its tools as the OS user postgres.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@" 9>&-
  else
    "$@" 9>&-
  fi
}

pg_probe() {
  local bin="$1"
  timeout 5 "$bin/psql" -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c 'SELECT 1' 2> /dev/null | grep -qx 1
}

pg_up() {
  local bin root data run
  bin="$(pg_bin_dir)" || die "PostgreSQL server binaries not found under /usr/lib/postgresql/<version>/bin (Debian package 'postgresql')"
  PG_BIN_DIR="$bin"
  if pg_probe "$bin"; then
    say "postgres: already answering on 127.0.0.1:$PG_PORT"
    return
  fi
  if [ "$(id -u)" -eq 0 ]; then
    id postgres > /dev/null 2>&1 || die "OS user 'postgres' is missing (it comes with the Debian package 'postgresql')"
  fi
  root="$(pg_root)"
  data="$root/data"
  run="$root/run"
  mkdir -p "$root" "$run"
  [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$root" "$run"
  local major
  major="$(basename "$(dirname "$bin")")"
  if [ -s "$data/PG_VERSION" ] && [ "$(cat "$data/PG_VERSION")" != "$major" ]; then
    # Test data is throwaway: a data dir from another major version is recreated, not upgraded.
    say "postgres: $data was made by PostgreSQL $(cat "$data/PG_VERSION"), the installed one is $major; recreating it"
    rm -rf "$data"
  fi
  if [ ! -s "$data/PG_VERSION" ]; then
    say "postgres: initdb $data ($bin)"
    rm -rf "$data"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync \
      > "$root/initdb.log" 2>&1 || {
      tail -n 20 "$root/initdb.log" >&2
      die "postgres: initdb failed (log: $root/initdb.log)"
    }
    printf "\ninclude_if_exists = 'services.conf'\n" >> "$data/postgresql.conf"
  else
    say "postgres: data dir $data exists"
  fi
  # Rewritten on every start so PG_PORT and the socket dir always match this run.
  cat > "$data/services.conf" << EOF
# Written by deploy/services.sh: a throwaway server for tests only.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$run'
max_connections = 300
# Tests only: durability is traded for speed. Never use these settings for real data.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$data/services.conf"
  if [ -f "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$data" status > /dev/null 2>&1; then
    say "postgres: running from $data but not answering on 127.0.0.1:$PG_PORT; restarting it"
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t "$STOP_TIMEOUT_S" stop > /dev/null ||
      die "postgres: could not stop the server in $data"
  fi
  say "postgres: starting on 127.0.0.1:$PG_PORT"
  if ! as_pg "$bin/pg_ctl" -D "$data" -l "$root/postgres.log" -w -t "$PG_START_TIMEOUT_S" start > /dev/null; then
    tail -n 20 "$root/postgres.log" >&2 || true
    die "postgres: did not start within ${PG_START_TIMEOUT_S}s (log: $root/postgres.log)"
  fi
  pg_probe "$bin" || die "postgres: started but 'SELECT 1' on 127.0.0.1:$PG_PORT fails (log: $root/postgres.log)"
  say "postgres: ready"
}

pg_down() {
  local bin root
  bin="$(pg_bin_dir)" || {
    say "postgres: not installed"
    return
  }
  [ -s "$SERVICES_DIR/pg.root" ] || {
    say "postgres: nothing to stop (never started from $SERVICES_DIR)"
    return
  }
  root="$(cat "$SERVICES_DIR/pg.root")"
  if [ -f "$root/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$root/data" status > /dev/null 2>&1; then
    say "postgres: stopping"
    as_pg "$bin/pg_ctl" -D "$root/data" -m fast -w -t "$STOP_TIMEOUT_S" stop > /dev/null ||
      die "postgres: did not stop within ${STOP_TIMEOUT_S}s"
  else
    say "postgres: not running"
  fi
}

# ---------------------------------------------------------------------------------------------
# Processes we start ourselves (Kafka, toxiproxy): a pid file, checked against the command line
# so a recycled pid is never signalled.

pid_alive() {
  local pidfile="$1" pattern="$2" pid
  [ -s "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$pattern"
}

stop_pid() {
  local name="$1" pidfile="$2" pattern="$3" pid i
  if ! pid_alive "$pidfile" "$pattern"; then
    say "$name: not running (no live process from $pidfile)"
    rm -f "$pidfile"
    return
  fi
  pid="$(cat "$pidfile")"
  say "$name: stopping pid $pid"
  kill -TERM "$pid" 2> /dev/null || true
  for ((i = 0; i < STOP_TIMEOUT_S * 5; i++)); do
    [ -d "/proc/$pid" ] || break
    sleep 0.2
  done
  if [ -d "/proc/$pid" ]; then
    say "$name: still running after ${STOP_TIMEOUT_S}s, sending SIGKILL"
    kill -KILL "$pid" 2> /dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2> /dev/null; }

# ---------------------------------------------------------------------------------------------
# Kafka

KAFKA_DIR="$SERVICES_DIR/kafka"
KAFKA_LIB_DIR="$KAFKA_DIR/lib"

kafka_java() { java -Djava.awt.headless=true -Dlog4j.configuration="file:$KAFKA_DIR/tools-log4j.properties" -cp "$KAFKA_LIB_DIR/*" "$@"; }

# A real protocol probe without starting a JVM: send a Metadata v4 request (correlation id 42,
# no topics) and expect a response carrying correlation id 42 and at least one live broker.
# A KRaft broker lists itself only once it has caught up with the metadata log and is unfenced.
kafka_probe() {
  local hex
  # shellcheck disable=SC2016 # expanded by the inner bash
  hex="$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\x00\x00\x00\x14\x00\x03\x00\x04\x00\x00\x00\x2a\x00\x05probe\x00\x00\x00\x00\x00" >&3
    head -c 16 <&3 | od -An -tx1 | tr -d " \n"
  ' _ "$KAFKA_PORT" 2> /dev/null)" || return 1
  [ "${#hex}" -eq 32 ] && [ "${hex:8:8}" = "0000002a" ] && [ "${hex:24:8}" != "00000000" ]
}

kafka_jars() {
  local pom="$ROOT/deploy/kafka/pom.xml" stamp want
  want="$(md5sum < "$pom" | cut -c1-32)"
  stamp="$KAFKA_LIB_DIR/.complete"
  if [ -s "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "kafka: jars cached ($(find "$KAFKA_LIB_DIR" -name '*.jar' | wc -l) in $KAFKA_LIB_DIR)"
    return
  fi
  have mvn || die "kafka: Maven ('mvn', Debian package 'maven') is needed to fetch the Kafka jars"
  say "kafka: fetching jars from Maven Central (deploy/kafka/pom.xml -> $KAFKA_LIB_DIR)"
  rm -rf "$KAFKA_LIB_DIR"
  mkdir -p "$KAFKA_LIB_DIR"
  if ! timeout 600 mvn -q -B -f "$pom" -Dmaven.repo.local="$SERVICES_DIR/m2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB_DIR" \
    > "$KAFKA_DIR/mvn.log" 2>&1; then
    tail -n 30 "$KAFKA_DIR/mvn.log" >&2
    die "kafka: mvn dependency:copy-dependencies failed (log: $KAFKA_DIR/mvn.log)"
  fi
  ls "$KAFKA_LIB_DIR"/kafka_2.13-*.jar > /dev/null 2>&1 || die "kafka: mvn finished but no kafka_2.13 jar in $KAFKA_LIB_DIR"
  printf '%s\n' "$want" > "$stamp"
  say "kafka: $(find "$KAFKA_LIB_DIR" -name '*.jar' | wc -l) jars fetched"
}

# Waits (bounded) for the broker with this pid to answer; fails if it exits or stays silent.
kafka_wait() {
  local pid="$1" i
  for ((i = 0; i < KAFKA_START_TIMEOUT_S * 2; i++)); do
    [ -d "/proc/$pid" ] || return 1
    kafka_probe && return 0
    sleep 0.5
  done
  kafka_probe
}

kafka_up() {
  have java || die "kafka: Java ('java', Debian package 'openjdk-17-jdk-headless') is missing"
  mkdir -p "$KAFKA_DIR"
  kafka_jars
  cp "$ROOT/deploy/kafka/log4j.properties" "$ROOT/deploy/kafka/tools-log4j.properties" "$KAFKA_DIR/"
  if kafka_probe; then
    say "kafka: already answering on 127.0.0.1:$KAFKA_PORT"
    return
  fi
  if pid_alive "$KAFKA_DIR/kafka.pid" kafka.Kafka; then
    say "kafka: pid $(cat "$KAFKA_DIR/kafka.pid") runs but does not answer yet; waiting up to ${KAFKA_START_TIMEOUT_S}s"
    if kafka_wait "$(cat "$KAFKA_DIR/kafka.pid")"; then
      say "kafka: ready"
      return
    fi
    say "kafka: still not answering; restarting it"
    kafka_down
  fi
  port_open "$KAFKA_PORT" && die "kafka: port $KAFKA_PORT is open but does not answer the Kafka protocol; free it or set KAFKA_PORT"
  port_open "$KAFKA_CONTROLLER_PORT" && die "kafka: controller port $KAFKA_CONTROLLER_PORT is already in use; free it or set KAFKA_CONTROLLER_PORT"
  local data="$KAFKA_DIR/data" props="$KAFKA_DIR/server.properties" log="$KAFKA_DIR/kafka.log"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@KAFKA_DATA_DIR@|$data|g" "$ROOT/deploy/kafka/server.properties.template" > "$props"
  if [ ! -s "$data/meta.properties" ]; then
    local cluster_id
    # A Kafka Uuid: 16 random bytes, url-safe base64 without padding.
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    say "kafka: formatting storage $data (cluster id $cluster_id)"
    rm -rf "$data"
    timeout 120 java -Xmx256m -Dlog4j.configuration="file:$KAFKA_DIR/tools-log4j.properties" -cp "$KAFKA_LIB_DIR/*" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$props" > "$KAFKA_DIR/format.log" 2>&1 || {
      cat "$KAFKA_DIR/format.log" >&2
      die "kafka: storage format failed (log: $KAFKA_DIR/format.log)"
    }
  else
    say "kafka: storage $data already formatted"
  fi
  say "kafka: starting broker+controller on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT, log $log)"
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of JVM flags
  setsid nohup java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
    -cp "$KAFKA_LIB_DIR/*" kafka.Kafka "$props" > "$log" 2>&1 < /dev/null 9>&- &
  local pid=$!
  printf '%s\n' "$pid" > "$KAFKA_DIR/kafka.pid"
  if ! kafka_wait "$pid"; then
    tail -n 30 "$log" >&2
    [ -d "/proc/$pid" ] || die "kafka: the broker exited during start (log: $log)"
    die "kafka: no answer on 127.0.0.1:$KAFKA_PORT within ${KAFKA_START_TIMEOUT_S}s (log: $log; stop it with: bash deploy/services.sh down)"
  fi
  say "kafka: ready (pid $pid)"
}

kafka_down() { stop_pid kafka "$KAFKA_DIR/kafka.pid" kafka.Kafka; }

# ---------------------------------------------------------------------------------------------
# toxiproxy

TOXIPROXY_BIN="$SERVICES_DIR/bin/toxiproxy-server"
TOXIPROXY_DIR="$SERVICES_DIR/toxiproxy"

toxiproxy_probe() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET /version HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3
    head -n 1 <&3 | grep -q " 200 "
  ' _ "$TOXIPROXY_PORT" 2> /dev/null
}

go_cmd() {
  if have go; then
    command -v go
  elif [ -x /usr/local/go/bin/go ]; then
    printf '/usr/local/go/bin/go'
  else
    return 1
  fi
}

toxiproxy_cached() { [ -x "$TOXIPROXY_BIN" ] && [ "$(cat "$SERVICES_DIR/bin/toxiproxy-server.version" 2> /dev/null)" = "$TOXIPROXY_VERSION" ]; }

toxiproxy_build() {
  local stamp="$SERVICES_DIR/bin/toxiproxy-server.version" go
  if toxiproxy_cached; then
    say "toxiproxy: binary cached ($TOXIPROXY_BIN, $TOXIPROXY_VERSION)"
    return
  fi
  go="$(go_cmd)" || die "toxiproxy: Go is missing ('go' not on PATH nor /usr/local/go/bin/go); toxiproxy $TOXIPROXY_VERSION is built with 'go install' (Go >= 1.22)"
  say "toxiproxy: go install github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
  mkdir -p "$SERVICES_DIR/bin" "$TOXIPROXY_DIR"
  # Module and build caches live under $SERVICES_DIR too (-modcacherw so `rm -rf` can clean them).
  if ! GOBIN="$SERVICES_DIR/bin" GOMODCACHE="$SERVICES_DIR/go/mod" GOCACHE="$SERVICES_DIR/go/cache" \
    GOPATH="$SERVICES_DIR/go" GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0 \
    timeout 600 "$go" install -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=${TOXIPROXY_VERSION#v}" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" > "$TOXIPROXY_DIR/build.log" 2>&1; then
    tail -n 30 "$TOXIPROXY_DIR/build.log" >&2
    die "toxiproxy: go install failed (log: $TOXIPROXY_DIR/build.log)"
  fi
  mv -f "$SERVICES_DIR/bin/server" "$TOXIPROXY_BIN"
  printf '%s\n' "$TOXIPROXY_VERSION" > "$stamp"
  say "toxiproxy: built $TOXIPROXY_BIN"
}

toxiproxy_up() {
  toxiproxy_build
  if toxiproxy_probe; then
    say "toxiproxy: already answering on 127.0.0.1:$TOXIPROXY_PORT"
    return
  fi
  port_open "$TOXIPROXY_PORT" && die "toxiproxy: port $TOXIPROXY_PORT is open but GET /version fails; free it or set TOXIPROXY_PORT"
  mkdir -p "$TOXIPROXY_DIR"
  local log="$TOXIPROXY_DIR/toxiproxy.log" pid i
  say "toxiproxy: starting on 127.0.0.1:$TOXIPROXY_PORT (log $log)"
  setsid nohup "$TOXIPROXY_BIN" -host 127.0.0.1 -port "$TOXIPROXY_PORT" > "$log" 2>&1 < /dev/null 9>&- &
  pid=$!
  printf '%s\n' "$pid" > "$TOXIPROXY_DIR/toxiproxy.pid"
  for ((i = 0; i < TOXIPROXY_START_TIMEOUT_S * 5; i++)); do
    if ! [ -d "/proc/$pid" ]; then
      tail -n 20 "$log" >&2
      die "toxiproxy: exited during start (log: $log)"
    fi
    toxiproxy_probe && break
    sleep 0.2
  done
  if ! toxiproxy_probe; then
    tail -n 20 "$log" >&2
    die "toxiproxy: GET /version on 127.0.0.1:$TOXIPROXY_PORT did not answer within ${TOXIPROXY_START_TIMEOUT_S}s (log: $log)"
  fi
  say "toxiproxy: ready (pid $pid)"
}

toxiproxy_down() { stop_pid toxiproxy "$TOXIPROXY_DIR/toxiproxy.pid" toxiproxy-server; }

# ---------------------------------------------------------------------------------------------
# SIPp

SIPP_BIN="${SIPP_BIN:-/usr/bin/sipp}"

sipp_version() { "$SIPP_BIN" -v 2> /dev/null | grep -o 'SIPp v[^ ]*' | head -n 1 | sed 's/\.$//' || true; }

sipp_pcap_dir() {
  local f
  f="$(dpkg -L sip-tester 2> /dev/null | grep -m 1 '/g711a\.pcap$' || true)"
  [ -n "$f" ] || f="$(dpkg -L sip-tester 2> /dev/null | grep -m 1 '\.pcap$' || true)"
  [ -n "$f" ] && dirname "$f"
}

sipp_check() {
  [ -x "$SIPP_BIN" ] || die "sipp: $SIPP_BIN is missing (Debian package 'sip-tester')"
  SIPP_PCAP_DIR="$(sipp_pcap_dir)" || true
  [ -n "${SIPP_PCAP_DIR:-}" ] || die "sipp: no pcap files listed by 'dpkg -L sip-tester'"
  say "sipp: $(sipp_version) at $SIPP_BIN, pcaps in $SIPP_PCAP_DIR"
}

# ---------------------------------------------------------------------------------------------
# env.sh: the contract with the tests (test/run.sh sources it).

write_env() {
  local f="$SERVICES_DIR/env.sh"
  cat > "$f.tmp" << EOF
# Written by deploy/services.sh up. Source it before running tests that use real services.
export SERVICES_DIR='$SERVICES_DIR'
export TEST_PG_URL='postgres://postgres@127.0.0.1:$PG_PORT/postgres'
export PG_BIN_DIR='$PG_BIN_DIR'
export KAFKA_BROKERS='127.0.0.1:$KAFKA_PORT'
export KAFKA_LIB_DIR='$KAFKA_LIB_DIR'
export KAFKA_TOOLS_LOG4J='$KAFKA_DIR/tools-log4j.properties'
export TOXIPROXY_URL='http://127.0.0.1:$TOXIPROXY_PORT'
export SIPP_BIN='$SIPP_BIN'
export SIPP_PCAP_DIR='$SIPP_PCAP_DIR'
EOF
  mv -f "$f.tmp" "$f"
  say "env: wrote $f"
}

# ---------------------------------------------------------------------------------------------

cmd_up() {
  local t0=$SECONDS build_pid="" build_out="$SERVICES_DIR/toxiproxy-build.out"
  lock
  apt_step
  # A cold toxiproxy build is CPU-bound and the Kafka jar fetch is network-bound: overlap them.
  if ! toxiproxy_cached; then
    say "toxiproxy: building in the background while Postgres and Kafka start"
    (toxiproxy_build) > "$build_out" 2>&1 &
    build_pid=$!
  fi
  pg_up
  kafka_up
  if [ -n "$build_pid" ]; then
    if ! wait "$build_pid"; then
      cat "$build_out" >&2
      die "toxiproxy: build failed"
    fi
    cat "$build_out"
    rm -f "$build_out"
  fi
  toxiproxy_up
  sipp_check
  write_env
  say "services: up in $((SECONDS - t0))s"
}

cmd_down() {
  lock
  toxiproxy_down
  kafka_down
  pg_down
}

cmd_status() {
  local bin rc=0
  if bin="$(pg_bin_dir)" && pg_probe "$bin"; then
    line "postgres   up    127.0.0.1:$PG_PORT ($bin)"
  else
    line "postgres   DOWN  127.0.0.1:$PG_PORT"
    rc=1
  fi
  if kafka_probe; then
    line "kafka      up    127.0.0.1:$KAFKA_PORT"
  else
    line "kafka      DOWN  127.0.0.1:$KAFKA_PORT"
    rc=1
  fi
  if toxiproxy_probe; then
    line "toxiproxy  up    http://127.0.0.1:$TOXIPROXY_PORT"
  else
    line "toxiproxy  DOWN  http://127.0.0.1:$TOXIPROXY_PORT"
    rc=1
  fi
  if [ -x "$SIPP_BIN" ]; then
    line "sipp       ok    $(sipp_version) ($SIPP_BIN)"
  else
    line "sipp       MISSING $SIPP_BIN"
    rc=1
  fi
  return "$rc"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *)
    echo "usage: bash deploy/services.sh up|down|status" >&2
    exit 2
    ;;
esac
