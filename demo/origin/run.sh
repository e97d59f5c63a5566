#!/usr/bin/env bash
# Run the hlsmesh origin (nginx) in the foreground on 127.0.0.1:PORT.
#
#   demo/origin/run.sh --port P --media DIR --root REPO_ROOT --log FILE
#
#   /media/...  -> DIR          (m3u8: Cache-Control no-cache; .ts: cacheable; CORS; Range)
#   /...        -> REPO_ROOT    (read-only static files)
#   FILE        access log, one JSON object per request (see nginx.conf.template)
#
# nginx gets a private prefix (config, pid, temp dirs) under a mktemp dir, which
# is removed on exit; nothing from /etc/nginx is read. Prints
# "origin listening http://127.0.0.1:P" once the port accepts connections.
# Stop it with SIGTERM/SIGINT to this script's pid.
set -euo pipefail

usage() { echo "usage: $0 --port P --media DIR --root REPO_ROOT --log FILE [--limit-rate BYTES_PER_S]" >&2; exit 2; }
port="" media="" root="" log="" limit_rate=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --port) port=${2:-}; shift 2 ;;
    --media) media=${2:-}; shift 2 ;;
    --root) root=${2:-}; shift 2 ;;
    --log) log=${2:-}; shift 2 ;;
    --limit-rate) limit_rate=${2:-}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
done
[[ -n $port && -n $media && -n $root && -n $log ]] || usage
[[ $port =~ ^[0-9]+$ ]] || { echo "run.sh: bad port $port" >&2; exit 2; }
[[ $limit_rate =~ ^[0-9]+$ ]] || { echo "run.sh: bad --limit-rate $limit_rate" >&2; exit 2; }
command -v nginx >/dev/null || { echo "run.sh: nginx not found (run scripts/ensure-tools.sh)" >&2; exit 1; }

mkdir -p "$media" "$(dirname "$log")"
media=$(readlink -f "$media")
root=$(readlink -f "$root")
log=$(readlink -f "$log")
for p in "$media" "$root" "$log"; do
  [[ $p != *'|'* && $p != *' '* && $p != *';'* ]] || { echo "run.sh: unsupported character in path $p" >&2; exit 2; }
done

here=$(dirname "$(readlink -f "$0")")
prefix=$(mktemp -d "${TMPDIR:-/tmp}/hlsmesh-origin.XXXXXX")
nginx_pid=""
cleanup() {
  if [[ -n $nginx_pid ]] && kill -0 "$nginx_pid" 2>/dev/null; then
    kill -TERM "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  fi
  rm -rf "$prefix"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" -e "s|@MEDIA@|$media|g" \
    -e "s|@ROOT@|$root|g" -e "s|@LOG@|$log|g" -e "s|@LIMIT_RATE@|$limit_rate|g" \
    "$here/nginx.conf.template" >"$prefix/nginx.conf"

nginx -e stderr -p "$prefix/" -c "$prefix/nginx.conf" &
nginx_pid=$!

for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "origin listening http://127.0.0.1:$port"
    break
  fi
  kill -0 "$nginx_pid" 2>/dev/null || { wait "$nginx_pid" || exit $?; exit 1; }
  sleep 0.05
done
wait "$nginx_pid"
