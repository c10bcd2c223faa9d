#!/usr/bin/env bash
# The generator figures in BENCHMARKS.md come from this script: our streaming loop against a plain
# diffusers pipeline call on sd-turbo's real architecture with random weights (speed does not
# depend on weights), 1 step, both sides in one run: text-to-image and image-to-image, with and
# without deep-feature caching. On a CPU at 256x256 in fp32 and bf16; on a CUDA GPU at 512x512 in
# fp16 (pass GPU=1), and 2 steps with the stream batch.
set -euo pipefail
cd "$(dirname "$0")/.."
VJ=${VJ:-.venv/bin/vj}
run() { echo "\$ vj bench generator $*"; "$VJ" bench generator "$@"; }
if [ "${GPU:-0}" = 1 ]; then
  for mode in "" "--img2img"; do
    run --model random:sd-turbo --size 512x512 --steps 1 --dtype fp16 --frames 100 $mode
    run --model random:sd-turbo --size 512x512 --steps 1 --dtype fp16 --frames 100 --deep-cache 2 $mode
    run --model random:sd-turbo --size 512x512 --steps 2 --dtype fp16 --frames 100 --stream-batch $mode
  done
  exit
fi
for dtype in fp32 bf16; do
  for mode in "" "--img2img"; do
    run --model random:sd-turbo --size 256x256 --steps 1 --dtype "$dtype" --frames 6 $mode
    run --model random:sd-turbo --size 256x256 --steps 1 --dtype "$dtype" --frames 6 --deep-cache 2 $mode
  done
done
