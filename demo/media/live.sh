#!/usr/bin/env bash
# Serve a never-ending live HLS stream from the pre-encoded source, in the foreground.
#
#   demo/media/live.sh OUTDIR        (OUTDIR as given to make-stream.sh)
#
# Wipes OUTDIR/live, writes OUTDIR/live/master.m3u8 at once, then execs ffmpeg,
# which loops OUTDIR/source/source.mkv in real time (-re -stream_loop -1, stream
# copy, next to no CPU) into OUTDIR/live/v{0,1,2}/index.m3u8 (sliding window of
# LIVE_WINDOW (default 6) x 2-s segments) + segNNNNN.ts. Segments are never deleted, and their names
# carry the media sequence number, so they are unique across the run and tests
# can compare what players received with the bytes on disk afterwards.
#
# The process id stays the same (exec): stop it with `kill PID` (SIGTERM/SIGINT;
# ffmpeg then ends the playlists with EXT-X-ENDLIST).
#
# Playlists are replaced atomically (hls_flags temp_file: written to *.tmp, then
# renamed), so the origin never serves a half-written playlist.
#
# The master playlist is ours, not ffmpeg's master_pl_name: under stream copy
# ffmpeg only knows the audio bit rate, and writes BANDWIDTH without video and no
# CODECS. make-stream.sh measured both; we copy its master playlist (atomically,
# before the first segment exists, so the master URL works from the start).
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
out=$1
src="$out/source/source.mkv"
if [[ ! -f $src || ! -f "$out/source/master.m3u8" ]]; then
  echo "live: $src missing; run demo/media/make-stream.sh $out first" >&2
  exit 1
fi

live="$out/live"
rm -rf "$live"
mkdir -p "$live/v0" "$live/v1" "$live/v2"
cp "$out/source/master.m3u8" "$live/.master.m3u8.tmp"
mv "$live/.master.m3u8.tmp" "$live/master.m3u8"

exec ffmpeg -hide_banner -loglevel error -nostdin -y \
  -re -stream_loop -1 -i "$src" \
  -map 0:v:0 -map 0:a:0 -map 0:v:1 -map 0:a:0 -map 0:v:2 -map 0:a:0 -c copy \
  -f hls -hls_time 2 -hls_list_size "${LIVE_WINDOW:-6}" \
  -hls_flags temp_file+independent_segments+program_date_time \
  -hls_segment_filename "$live/v%v/seg%05d.ts" \
  -var_stream_map "v:0,a:0 v:1,a:1 v:2,a:2" \
  "$live/v%v/index.m3u8"
