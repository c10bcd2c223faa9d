#!/usr/bin/env bash
# The generator figures in BENCHMARKS.md come from this script: our streaming loop against a plain
# diffusers pipeline call on sd-turbo's real architecture with random weights (speed does not
# depend on weights), 1 step, both sides in one run. On a CPU at 256x256 in fp32 and bf16; on a
# CUDA GPU at 512x512 in fp16 (pass GPU=1).
set -euo pipefail
cd "$(dirname "$0")/.."
VJ=${VJ:-.venv/bin/vj}
if [ "${GPU:-0}" = 1 ]; then
  echo "\$ vj bench generator --model random:sd-turbo --size 512x512 --steps 1 --dtype fp16 --frames 50"
  "$VJ" bench generator --model random:sd-turbo --size 512x512 --steps 1 --dtype fp16 --frames 50
  exit
fi
for dtype in fp32 bf16; do
  echo "\$ vj bench generator --model random:sd-turbo --size 256x256 --steps 1 --dtype $dtype --frames 6"
  "$VJ" bench generator --model random:sd-turbo --size 256x256 --steps 1 --dtype "$dtype" --frames 6
done
