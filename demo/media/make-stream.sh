#!/usr/bin/env bash
# Generate the synthetic test stream used by the demo and the end-to-end tests.
#
#   demo/media/make-stream.sh OUTDIR
#
# Produces (about 120 s, 25 fps, H.264 Main + AAC-LC, keyframe every 2 s):
#   OUTDIR/source/source.mkv           3 video renditions + 1 audio, the input of live.sh
#   OUTDIR/source/master.m3u8          master playlist template (v0/v1/v2 relative URIs)
#   OUTDIR/vod/master.m3u8             VOD master (BANDWIDTH, AVERAGE-BANDWIDTH, RESOLUTION, CODECS)
#   OUTDIR/vod/v{0,1,2}/index.m3u8     VOD media playlists + segNNNNN.ts (2-s segments)
#
# Encodes once (the source), then remuxes the VOD from it with stream copy, so the
# VOD and the live stream carry exactly the same coded pictures.
#
# Idempotent: OUTDIR/.stamp holds this script's SHA-256; when it matches and the
# outputs exist, nothing is done.
#
# Why Matroska for the source: with `-stream_loop -1 -c copy`, the MPEG-TS demuxer
# does not flag the first picture after the loop seek as a keyframe, so the HLS
# muxer cannot cut there and emits a 4-s segment at every loop. Matroska keeps it.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
out=$1
self=$(readlink -f "$0")
sum=$(sha256sum "$self" | cut -d' ' -f1)

if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$sum" \
   && -f "$out/source/source.mkv" && -f "$out/source/master.m3u8" \
   && -f "$out/vod/master.m3u8" && -f "$out/vod/v2/index.m3u8" ]]; then
  exit 0
fi

command -v ffmpeg >/dev/null || { echo "make-stream: ffmpeg not found (run scripts/ensure-tools.sh)" >&2; exit 1; }

start=$(date +%s.%N)
DURATION=120
FPS=25
GOP=$((FPS * 2))
# name width height video-kbps
RENDITIONS=("v0 256 144 150" "v1 426 240 300" "v2 640 360 600")
AUDIO_KBPS=64

rm -rf "$out/source" "$out/vod" "$out/.stamp"
mkdir -p "$out/source" "$out/vod"

font=/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf
fontopt=""
[[ -f $font ]] && fontopt="fontfile=$font:"

# Filter graph: one moving test pattern with a burnt-in frame counter and
# timecode, split and scaled per rendition, each labelled with its name.
graph="[0:v]drawtext=${fontopt}text='frame %{frame_num}  %{pts\\:hms}':x=12:y=12:fontsize=30:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=6,split=${#RENDITIONS[@]}"
for i in "${!RENDITIONS[@]}"; do graph+="[s$i]"; done
encargs=()
for i in "${!RENDITIONS[@]}"; do
  read -r name w h kbps <<<"${RENDITIONS[$i]}"
  graph+=";[s$i]scale=${w}:${h},setsar=1,drawtext=${fontopt}text='${name} ${h}p':x=w-tw-8:y=h-th-8:fontsize=$((h / 8)):fontcolor=yellow:box=1:boxcolor=black@0.6[v$i]"
  encargs+=(-map "[v$i]" "-b:v:$i" "${kbps}k" "-maxrate:v:$i" "$((kbps * 11 / 10))k" "-bufsize:v:$i" "$((kbps * 2))k")
done

ffmpeg -hide_banner -loglevel error -nostdin -y \
  -f lavfi -i "testsrc2=size=640x360:rate=${FPS}:duration=${DURATION}" \
  -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=${DURATION}" \
  -filter_complex "$graph" \
  "${encargs[@]}" -map 1:a \
  -c:v libx264 -preset veryfast -profile:v main -pix_fmt yuv420p \
  -g "$GOP" -keyint_min "$GOP" -sc_threshold 0 -force_key_frames "expr:gte(t,n_forced*2)" \
  -c:a aac -b:a "${AUDIO_KBPS}k" -ac 2 \
  "$out/source/source.tmp.mkv"
mv "$out/source/source.tmp.mkv" "$out/source/source.mkv"

# VOD: remux with stream copy. ffmpeg's master playlist lacks BANDWIDTH/CODECS
# under stream copy (it only knows the audio bitrate), so we write our own.
maps=()
vsm=""
for i in "${!RENDITIONS[@]}"; do
  maps+=(-map "0:v:$i" -map 0:a:0)
  vsm+="v:$i,a:$i "
done
ffmpeg -hide_banner -loglevel error -nostdin -y -i "$out/source/source.mkv" \
  "${maps[@]}" -c copy \
  -f hls -hls_time 2 -hls_playlist_type vod -hls_flags independent_segments \
  -hls_segment_filename "$out/vod/v%v/seg%05d.ts" \
  -var_stream_map "${vsm% }" "$out/vod/v%v/index.m3u8"

# avc1.PPCCLL from the first SPS of each rendition.
avc1() {
  ffmpeg -v error -nostdin -i "$out/source/source.mkv" -map "0:v:$1" -c copy -frames:v 1 \
    -bsf:v h264_mp4toannexb -f h264 - | od -An -tx1 -v | tr -d ' \n' \
    | grep -oE '0000000?1(67|27)[0-9a-f]{6}' | head -1 | tail -c 7
}

{
  echo "#EXTM3U"
  echo "#EXT-X-VERSION:6"
  echo "#EXT-X-INDEPENDENT-SEGMENTS"
  for i in "${!RENDITIONS[@]}"; do
    read -r name w h kbps <<<"${RENDITIONS[$i]}"
    pl="$out/vod/$name/index.m3u8"
    # peak and average bit rate over the segments, in bit/s
    read -r peak avg < <(
      awk -F'[:,]' '/^#EXTINF/ {d=$2; next} /^[^#]/ {print d, $0}' "$pl" |
        while read -r d f; do echo "$d $(stat -c %s "$out/vod/$name/$f")"; done |
        awk '{r=$2*8/$1; if (r>p) p=r; b+=$2*8; t+=$1} END {printf "%d %d\n", p, b/t}'
    )
    codec=$(avc1 "$i")
    [[ -n $codec ]] || { echo "make-stream: no SPS found in rendition $i" >&2; exit 1; }
    echo "#EXT-X-STREAM-INF:BANDWIDTH=$peak,AVERAGE-BANDWIDTH=$avg,RESOLUTION=${w}x${h},FRAME-RATE=${FPS}.000,CODECS=\"avc1.$codec,mp4a.40.2\""
    echo "$name/index.m3u8"
  done
} >"$out/source/master.m3u8"
cp "$out/source/master.m3u8" "$out/vod/master.m3u8"

echo "$sum" >"$out/.stamp"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v o="$out" 'BEGIN { printf "make-stream: wrote %s/{source,vod} in %.1f s\n", o, e - s }'
