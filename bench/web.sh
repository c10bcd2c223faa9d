#!/usr/bin/env bash
# The browser remote's figures in BENCHMARKS.md come from this script: three pages open (the
# preview on, one dragging a fader at 30 moves a second) beside a headless show's frame work: the
# demo set's 640x360 at 24 fps with a recording (the preview takes its read-back), the same shown on
# a display (nothing read back: the preview draws a small copy of its own), and 720p at 30.
set -euo pipefail
cd "$(dirname "$0")/.."
VJ=${VJ:-.venv/bin/vj}
for args in "--size 640x360 --fps 24" "--size 640x360 --fps 24 --output display" "--size 1280x720 --fps 30"; do
  echo "\$ vj bench web --pages 3 --seconds 8 --rounds 3 $args"
  # shellcheck disable=SC2086
  "$VJ" bench web --pages 3 --seconds 8 --rounds 3 $args
done
