#!/usr/bin/env bash
# The audio figures in BENCHMARKS.md come from this script: the cost of the whole feature set per
# 512-sample hop, and the onset latency through the live streaming path.
set -euo pipefail
cd "$(dirname "$0")/.."
VJ=${VJ:-.venv/bin/vj}
echo "\$ vj bench audio --seconds 60 --accuracy"
"$VJ" bench audio --seconds 60 --accuracy
