"""A show's generator without the rest of the show, for the remote tests: a RemoteGenerator against
real `vj serve` boxes, fed a snapshot every 1/30 s (the prompt and the noise walk moving), printing
one JSON line per frame as it arrives (its snapshot index, which boxes have made frames, the state),
until it has `frames` frames or stdin closes. Run it as a process (inside a network namespace if
need be): python tests/remote_probe.py HOST:PORT[,HOST:PORT] KEY[,KEY] FRAMES [jpeg|raw|auto]"""

from __future__ import annotations

import json
import sys
import threading
import time
from types import MappingProxyType

from vj.core.snapshot import Snapshot
from vj.log import setup
from vj.remote import wire
from vj.remote.client import RemoteGenerator


def main() -> int:
    boxes, keys, want = sys.argv[1].split(","), sys.argv[2].split(","), int(sys.argv[3])
    codec = sys.argv[4] if len(sys.argv) > 4 else "auto"
    setup()
    gen = RemoteGenerator(boxes, keys if len(keys) == len(boxes) else keys * len(boxes), wire.Settings(seed=3),
                          codec=codec)
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    gen.start()
    got, i, t0 = 0, 0, time.perf_counter()
    try:
        while got < want and not closed.is_set():
            t = time.perf_counter() - t0
            values = {"noise.walk": 6.0, "noise.phase": (t / 4) % 1.0, "prompt.1.weight": 1.0}
            gen.submit(Snapshot(i, t, MappingProxyType(values), ("glowing red rings on black",), 3))
            i += 1
            frame = gen.latest()
            if frame is not None:
                got += 1
                f = gen.figures()
                print(json.dumps({"index": frame.index, "size": list(gen.size), "state": gen.state,
                                  "boxes": {b: n for b, _, n in f.boxes},
                                  "stale": f.stale, "mean": float(frame.pixels.mean())}), flush=True)
            time.sleep(1 / 30)
    finally:
        gen.stop()
    print(json.dumps({"done": got, "status": gen.link_status()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
