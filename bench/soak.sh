#!/usr/bin/env bash
# A long show under a performer's hands: does anything grow? `vj run` plays the demo set headless,
# recording, while oscsend changes prompts (new text every time: the embedding cache churns),
# weights, parameters, scenes and seeds four times a second. Every 10 s the resident memory of
# the show's processes (the render process, the generator, the control process) is printed;
# at the end, each one's growth after the first minute (warm-up: model, shaders, caches).
#
#     bash bench/soak.sh [SECONDS]        (default 600)
set -euo pipefail
cd "$(dirname "$0")/.."
VJ=${VJ:-.venv/bin/vj}
SECONDS_TOTAL=${1:-600}
PORT=${PORT:-9177}
OUT=$(mktemp -d)
trap 'kill $show 2>/dev/null || true; rm -rf "$OUT"' EXIT

echo "\$ vj run --headless --model tiny-random --duration $SECONDS_TOTAL --out $OUT/soak.mp4 --audio sets/demo-beat.ogg --no-monitor --osc-port $PORT --seed 1"
"$VJ" run --headless --model tiny-random --duration "$SECONDS_TOTAL" --out "$OUT/soak.mp4" \
  --audio sets/demo-beat.ogg --no-monitor --osc-port "$PORT" --seed 1 2>"$OUT/show.log" &
show=$!
for _ in $(seq 600); do grep -q "playing" "$OUT/show.log" 2>/dev/null && break; sleep 0.2; done

rss() {  # resident KiB of a pid, 0 when gone
  local r; r=$(ps -o rss= -p "$1" 2>/dev/null | tr -d ' '); echo "${r:-0}"
}
words=(flooded burning frozen rusted singing hollow drowned electric)
stuff=(glass flesh circuitry salt moss bone chrome paper)
t0=$(date +%s)
next_sample=0
printf "%6s %10s %10s %12s %10s\n" "t (s)" "render MiB" "gen MiB" "control+ MiB" "ffmpeg MiB"
first=""
i=0
while kill -0 $show 2>/dev/null; do
  now=$(( $(date +%s) - t0 ))
  w=${words[$((RANDOM % 8))]}; s=${stuff[$((RANDOM % 8))]}
  oscsend localhost "$PORT" /vj/prompt s "a $w cathedral of $s, take $i {at dawn|at night|underwater}" || true
  oscsend localhost "$PORT" /vj/param/feedback.amount f "0.$((RANDOM % 9))" || true
  oscsend localhost "$PORT" /vj/param/fx/kaleido/sides f "$((2 + RANDOM % 20)).5" || true
  (( i % 8 == 0 )) && { oscsend localhost "$PORT" /vj/scene i $((RANDOM % 3)) || true; }
  (( i % 20 == 0 )) && { oscsend localhost "$PORT" /vj/seed i $RANDOM || true; }
  i=$((i + 1))
  if (( now >= next_sample )); then
    # children: the generator (the python child holding torch: the largest), the control process
    # and multiprocessing's resource tracker (the other python children), the ffmpeg recorder
    gen=0; other=0; ff=0
    while read -r pid r comm; do
      if [ "$comm" = ffmpeg ]; then ff=$((ff + r))
      elif (( r > gen )); then other=$((other + gen)); gen=$r
      else other=$((other + r)); fi
    done < <(ps --ppid $show -o pid=,rss=,comm= 2>/dev/null || true)
    main=$(rss $show)
    awk -v t="$now" -v a="$main" -v b="$gen" -v c="$other" -v d="$ff" \
      'BEGIN { printf "%6d %10.1f %10.1f %12.1f %10.1f\n", t, a / 1024, b / 1024, c / 1024, d / 1024 }'
    if (( now >= 60 )) && [ -z "$first" ]; then first="$main $gen $other $now"; fi
    last="$main $gen $other $now"
    next_sample=$(( next_sample + 10 ))
  fi
  sleep 0.25
done
wait $show || true
grep -E "show:|recorded|error|lost|gone" "$OUT/show.log" | sed 's/^/  /'
if [ -n "$first" ]; then
  read -r m0 g0 c0 t1 <<<"$first"; read -r m1 g1 c1 t2 <<<"$last"
    awk -v t1="$t1" -v t2="$t2" -v m="$((m1 - m0))" -v g="$((g1 - g0))" -v c="$((c1 - c0))" 'BEGIN { printf "growth from %d s to %d s: render %+.1f MiB, generator %+.1f MiB, control and tracker %+.1f MiB\n", t1, t2, m / 1024, g / 1024, c / 1024 }'
fi
