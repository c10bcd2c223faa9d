#!/usr/bin/env bash
# The engine figures in BENCHMARKS.md come from this script (run it from anywhere).
# Each line is a real command; its output is printed under it.
set -euo pipefail
cd "$(dirname "$0")/.."
VJ=${VJ:-.venv/bin/vj}
run() { echo "\$ vj $*"; "$VJ" "$@" 2>/dev/null; echo; }

run bench engine --model tiny-random --size 640x360 --fps 24 --seconds 10
run bench engine --model tiny-random --size 1280x720 --fps 60 --seconds 10
run bench engine --model tiny-random --size 1280x720 --fps 60 --seconds 10 --generator thread
run bench engine --model tiny-random --size 1280x720 --fps 60 --seconds 10 --threads 2
echo "\$ time vj render sets/demo.toml --model tiny-random --out /tmp/bench-demo.mp4 --duration 8 --seed 1"
/usr/bin/time -f "%e s wall for 192 frames (8 s at 24 fps, 640x360, encoded with audio)" \
  "$VJ" render sets/demo.toml --model tiny-random --out /tmp/bench-demo.mp4 --duration 8 --seed 1 -q 2>&1 | tail -1
