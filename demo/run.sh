#!/usr/bin/env bash
# `make demo`: the origin (nginx), a WebTorrent tracker and a live stream, on loopback.
#
#   demo/run.sh                 serve on 127.0.0.1 and print the page URL (open it in two tabs)
#   VIEWERS=N demo/run.sh       also run N headless viewers and print their bytes from
#                               peers vs CDN every few seconds (inside a loopback-only
#                               network namespace, so the page URL is theirs alone)
#   DEMO_SECONDS=S              stop after S seconds (default: run until Ctrl-C)
#   DEMO_PORT / TRACKER_PORT    ports (default 8080 / 8000)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
viewers=${VIEWERS:-0}

if [[ $viewers -gt 0 && ${HLSMESH_IN_NETNS:-} != 1 ]]; then
  exec env HLSMESH_IN_NETNS=1 tests/support/netns-run "$0" "$@"
fi

port=${DEMO_PORT:-8080}
tport=${TRACKER_PORT:-8000}
run=target/demo
mkdir -p "$run"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM


demo/media/make-stream.sh target/media
node tests/support/tracker.mjs --port "$tport" >"$run/tracker.log" 2>&1 &
pids+=($!)
demo/origin/run.sh --port "$port" --media target/media --root "$root" --log "$run/access.log" >"$run/origin.log" 2>&1 &
pids+=($!)
demo/media/live.sh target/media >"$run/live.log" 2>&1 &
pids+=($!)
tests/support/wait-for-line "$run/tracker.log" "tracker listening" 20
tests/support/wait-for-line "$run/origin.log" "origin listening" 20
for _ in $(seq 200); do [[ -f target/media/live/master.m3u8 ]] && break; sleep 0.1; done

page="http://127.0.0.1:$port/demo/index.html"
live="http://127.0.0.1:$port/media/live/master.m3u8"
vod="http://127.0.0.1:$port/media/vod/master.m3u8"
tracker="ws://127.0.0.1:$tport"
cat <<MSG

hlsmesh demo
  page     $page   (open it in two or more tabs)
  live     $live
  VOD      $page?src=$vod
  tracker  $tracker
  logs     $run/ (access.log counts what the origin served)

MSG

if [[ $viewers -gt 0 ]]; then
  node demo/viewers.mjs --page "$page" --tracker "$tracker" --viewers "$viewers" \
    --seconds "${DEMO_SECONDS:-0}" --access-log "$run/access.log"
else
  echo "Ctrl-C to stop."
  if [[ -n ${DEMO_SECONDS:-} ]]; then sleep "$DEMO_SECONDS"; else wait; fi
fi
