#!/usr/bin/env bash
# Local servers for tests and for users: nats-server (JetStream) and clickhouse-server on free
# loopback ports with temp data dirs. Installs them with apt when missing.
#
#   scripts/services.sh start DIR   start both; writes DIR/env (NATS_URL, CLICKHOUSE_URL, …)
#   scripts/services.sh stop DIR    stop both and remove DIR
#   scripts/services.sh install     install the Debian packages only
set -euo pipefail

PACKAGES=(curl nats-server clickhouse-server clickhouse-client protobuf-compiler chromium)

need_install() {
  command -v curl >/dev/null 2>&1 || return 0
  command -v nats-server >/dev/null 2>&1 || return 0
  [ -x /usr/sbin/clickhouse-server ] || return 0
  command -v chromium >/dev/null 2>&1 || return 0
  return 1
}

install() {
  if ! need_install; then return 0; fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  echo "services: installing ${PACKAGES[*]} with apt" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >&2
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

wait_http() { # url, what
  local i
  for i in $(seq 1 150); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "services: $2 did not become ready at $1" >&2
  return 1
}

write_clickhouse_config() { # dir http_port tcp_port
  local dir=$1
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/log"
  cat >"$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
XML
  cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$2</http_port>
  <tcp_port>$3</tcp_port>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
XML
}

start() {
  local dir=$1
  install
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local nats_port nats_mon ch_http ch_tcp
  nats_port=$(free_port); nats_mon=$(free_port); ch_http=$(free_port); ch_tcp=$(free_port)

  mkdir -p "$dir/nats"
  nats-server -a 127.0.0.1 -p "$nats_port" -m "$nats_mon" -js -sd "$dir/nats" >"$dir/nats.log" 2>&1 &
  echo $! >"$dir/nats.pid"

  write_clickhouse_config "$dir/clickhouse" "$ch_http" "$ch_tcp"
  /usr/sbin/clickhouse-server --config-file="$dir/clickhouse/config.xml" >"$dir/clickhouse.log" 2>&1 &
  echo $! >"$dir/clickhouse.pid"

  wait_http "http://127.0.0.1:$nats_mon/healthz?js-enabled-only=true" nats-server
  wait_http "http://127.0.0.1:$ch_http/ping" clickhouse-server
  cat >"$dir/env" <<ENV
NATS_URL=nats://127.0.0.1:$nats_port
NATS_MONITOR_URL=http://127.0.0.1:$nats_mon
CLICKHOUSE_URL=http://127.0.0.1:$ch_http
CLICKHOUSE_TCP_PORT=$ch_tcp
SERVICES_DIR=$dir
ENV
  echo "services: nats on $nats_port, clickhouse on $ch_http (env in $dir/env)" >&2
}

stop() {
  local dir=$1 name pid
  for name in nats clickhouse; do
    if [ -f "$dir/$name.pid" ]; then
      pid=$(cat "$dir/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$dir"
}

case "${1:-}" in
  start) start "${2:?usage: services.sh start DIR}" ;;
  stop) stop "${2:?usage: services.sh stop DIR}" ;;
  install) install ;;
  *) echo "usage: $0 start DIR | stop DIR | install" >&2; exit 2 ;;
esac
