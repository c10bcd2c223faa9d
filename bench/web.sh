#!/usr/bin/env bash
# The browser remote's figures in BENCHMARKS.md come from this script: three pages open (the
# preview on, one dragging a fader at 30 moves a second) beside a headless show's frame work, at
# 720p/30 (a rig's program; the preview drawn small on the GPU), then the demo set's 640x360 at 24
# with a recording's read-back (the preview takes that picture), and at 720p/60 (a frame of 16.7 ms).
set -euo pipefail
cd "$(dirname "$0")/.."
VJ=${VJ:-.venv/bin/vj}
for args in "--size 1280x720 --fps 30" "--size 640x360 --fps 24 --read-back" "--size 1280x720 --fps 60"; do
  echo "\$ vj bench web --pages 3 --seconds 8 --rounds 3 $args"
  # shellcheck disable=SC2086
  "$VJ" bench web --pages 3 --seconds 8 --rounds 3 $args
done
