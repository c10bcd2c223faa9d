#!/usr/bin/env bash
# docs/playing.png, the README's picture: `vj run tour` (what make demo renders) in its window on a virtual screen (Xvfb),
# the status overlay on, photographed from the X server at a bar of the given scene.
#   bash bench/playing_screenshot.sh [SECONDS_INTO_THE_SHOW] [OUT.png]
# (the demo's track: dawn 0-4 s, garden 4-12 s, smoke 12-15 s, storm from 15 s at 124 BPM)
set -euo pipefail
cd "$(dirname "$0")/.."
AT=${1:-20}
OUT=${2:-docs/playing.png}
VJ=${VJ:-.venv/bin/vj}
DISPLAY_NUM=:97
Xvfb "$DISPLAY_NUM" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
trap 'kill $XVFB 2>/dev/null || true' EXIT
for _ in $(seq 50); do xdpyinfo -display "$DISPLAY_NUM" >/dev/null 2>&1 && break; sleep 0.1; done
# the show plays its own track as its sound (a file input), so the scenes follow the graph as in `vj render`
DISPLAY=$DISPLAY_NUM "$VJ" run tour --audio sets/demo-show.ogg --no-monitor --overlay --no-osc --state none --seed 7 \
  --duration $((AT + 3)) 2>/tmp/playing-screenshot.log &
SHOW=$!
# wait for the show's clock to reach AT (its status line says t N s)
for _ in $(seq 600); do
  t=$(grep -o 'vj: t *[0-9]*' /tmp/playing-screenshot.log | tail -1 | grep -o '[0-9]*$' || true)
  [ -n "$t" ] && [ "$t" -ge "$AT" ] && break
  kill -0 $SHOW 2>/dev/null || break
  sleep 0.2
done
DISPLAY=$DISPLAY_NUM import -window root "$OUT"
wait $SHOW || true
convert "$OUT" -trim +repage "$OUT"
echo "wrote $OUT"
