#!/usr/bin/env bash
# The control figures in BENCHMARKS.md come from this script: OSC -> parameter store at
# 1,000 messages/s and a burst of 10,000, under a headless show's render load (720p at 60 fps,
# then the demo set's 640x360 at 24), and MIDI through a JACK server (dummy backend, real-time
# scheduling as a rig runs it) at 1,000 messages/s, at the JACK periods a rig would run.
set -euo pipefail
cd "$(dirname "$0")/.."
VJ=${VJ:-.venv/bin/vj}
echo "\$ vj bench control --seconds 5 --rate 1000 --size 1280x720 --fps 60"
"$VJ" bench control --seconds 5 --rate 1000 --size 1280x720 --fps 60
echo "\$ vj bench control --seconds 5 --rate 1000 --size 640x360 --fps 24"
"$VJ" bench control --seconds 5 --rate 1000 --size 640x360 --fps 24
export JACK_DEFAULT_SERVER=vjbench JACK_NO_AUDIO_RESERVATION=1 MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK
for period in 256 64 32; do
  jackd -R -n vjbench -d dummy -r 48000 -p "$period" >/dev/null 2>&1 &
  jack=$!
  trap 'kill $jack 2>/dev/null || true' EXIT
  for _ in $(seq 50); do jack_lsp >/dev/null 2>&1 && break; sleep 0.1; done
  echo "\$ jackd -R -d dummy -r 48000 -p $period &"
  echo "\$ MIDO_BACKEND=$MIDO_BACKEND vj bench control --seconds 5 --rate 1000 --midi --size 640x360 --fps 24"
  "$VJ" bench control --seconds 5 --rate 1000 --midi --size 640x360 --fps 24
  kill $jack; wait $jack 2>/dev/null || true
done
