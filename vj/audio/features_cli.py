"""`vj features AUDIO [--json]`: the analysis as it runs in a show, one line per hop.

A file goes through FileInput (the same streaming Analyzer, hop by hop, as fast as it goes); a
device through DeviceInput (its analysis thread), printed as the hops arrive until Ctrl-C or
--duration.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from vj.core.features import Features
from vj.core.errors import VJError

KEYS = ("t", "level", "bass", "mid", "high", "onset", "beat", "bpm", "beat_phase", "bar_phase", "confidence",
        "bass_hit", "mid_hit", "high_hit", "bass_pulse", "mid_pulse", "high_pulse", "centroid", "flux")


def line(f: Features, as_json: bool) -> str:
    if as_json:
        d = {}
        for k in KEYS:
            v = getattr(f, k)
            d[k] = v if isinstance(v, bool) else round(float(v), 4)
        return json.dumps(d)
    events = " ".join(name for name, on in (("ONSET", f.onset), ("BEAT", f.beat), ("b", f.bass_hit),
                                             ("m", f.mid_hit), ("h", f.high_hit)) if on)
    tempo = f"{f.bpm:6.1f} BPM  beat {f.beat_phase:4.2f}  bar {f.bar_phase:4.2f}  conf {f.confidence:4.2f}" \
        if f.bpm else "   --- BPM"
    return (f"{f.t:8.3f}  lvl {f.level:4.2f}  bass {f.bass:4.2f}  mid {f.mid:4.2f}  high {f.high:4.2f}  "
            f"{tempo}  {events}")


def main(args, analyzer_config, hold_bpm) -> int:
    from vj.audio.sources import FileInput, StreamInput, open_audio
    from vj.show.setfile import load_set
    from vj.core.spec import ShowSet
    from vj.mailbox import BoundedInbox
    from vj.resources import find_set

    show = load_set(find_set(args.set)) if args.set else ShowSet(None)
    cfg = analyzer_config(show, args)
    channel = args.audio_channel or show.audio_channel
    out = sys.stdout
    every = max(1, args.every)
    n = 0

    def emit(f: Features) -> None:
        nonlocal n
        if n % every == 0 or f.onset or f.beat:
            out.write(line(f, args.json) + "\n")
        n += 1

    if Path(args.audio).expanduser().is_file():
        src = FileInput(Path(args.audio).expanduser(), cfg, channel)
        hold_bpm(src, args)
        limit = args.duration if args.duration is not None else src.duration
        try:
            while True:
                f = src.next_hop()
                if f.t > limit + 1e-9:
                    break
                emit(f)
        except BrokenPipeError:  # `vj features x.wav | head`
            return 0
        finally:
            src.close()
        return 0

    src = open_audio(args.audio, live=True, config=cfg, channel=channel, samplerate=args.audio_rate,
                     blocksize=args.audio_block)
    if not isinstance(src, StreamInput):
        raise VJError(f"vj features: {args.audio!r} is not a file or an input device")
    hold_bpm(src, args)
    inbox: BoundedInbox[Features] = BoundedInbox(4096)
    src.listener = inbox.put
    src.start()
    print(f"# {src.status}", file=sys.stderr)
    t0 = time.monotonic()
    try:
        while args.duration is None or time.monotonic() - t0 < args.duration:
            for f in inbox.drain():
                emit(f)
            out.flush()
            time.sleep(0.01)  # a printing loop, not a real-time one: the analysis thread never waits for it
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        src.close()
    if inbox.dropped:
        print(f"# {inbox.dropped} hops not printed (the terminal was slower than the audio)", file=sys.stderr)
    return 0
