#!/usr/bin/env bash
# The remote generator's figures in BENCHMARKS.md come from this script (run it from anywhere, as
# root: the network paths run in network namespaces it makes and deletes).
# Each line is a real command; its output is printed under it.
set -euo pipefail
cd "$(dirname "$0")/.."
VJ=${VJ:-.venv/bin/vj}
run() { echo "\$ vj $*"; "$VJ" "$@" 2>/dev/null; echo; }

uptime
# the same stand-in frames (paced like a GPU) through the local process, vj serve on loopback (raw,
# JPEG), two boxes alternating, and 20 +- 5 ms each way with 0 / 0.5 % / 2 % loss (four connections,
# and one)
run bench remote --json
# with a GPU: the real sd-turbo architecture (random weights) made by the local process and by
# vj serve on the same machine, over loopback
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  run bench remote --model random:sd-turbo --device cuda --paths local,loopback --sizes 512x512 --json
fi
