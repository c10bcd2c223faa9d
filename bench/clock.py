"""The show clock's figures: its phase error against an Ableton Link peer, and the jitter of MIDI
clock out.

    .venv/bin/python bench/clock.py [--seconds 60] [--jack-period 64]     (as root: ip netns)

- Link: a network namespace of its own with nothing but loopback (so Link's multicast never
  leaves it); inside it, a plain aalink peer at 128 BPM and the show's LinkSession + ShowClock,
  ticked 60 times a second as the render thread does. Each frame the show's beat is compared with
  the peer's, read at the same moment; the error is in milliseconds at the tempo.
- MIDI clock out: a JACK server of its own (dummy backend, --jack-period frames at 48 kHz), the
  show's MidiClockOut following a clock at 128 BPM (the render thread's 60 snapshots a second),
  a JACK MIDI input port reading it back. Tick intervals are measured where they are sent (our
  scheduling) and where they arrive (through JACK, which delivers MIDI once a period).

Prints one JSON object and a summary.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent

LINK = r"""
import json, sys, time
from vj.core.features import Features
from vj.sync.link import LinkSession
from vj.sync.sandbox import plain_peer
from vj.sync.showclock import ShowClock
seconds = float(sys.argv[1])
peer = plain_peer(128.0)
show = ShowClock(4, link=LinkSession(120.0, 4))
t0 = time.perf_counter()
while show.tick(time.perf_counter() - t0, Features()).source != "link":
    time.sleep(0.01)
peer.tempo = 128.0
while abs(show.tick(time.perf_counter() - t0, Features()).bpm - 128.0) > 0.01:
    time.sleep(0.01)
time.sleep(0.5)
errs, end = [], time.monotonic() + seconds
while time.monotonic() < end:
    s = show.tick(time.perf_counter() - t0, Features())
    b = peer.beat
    errs.append(abs(((s.beat - b + 2.0) % 4.0 - 2.0) * 60.0 / s.bpm * 1000.0))
    time.sleep(1 / 60)
print(json.dumps(errs))
"""


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def link_phase(seconds: float) -> dict:
    if os.geteuid() != 0 or not shutil.which("ip"):
        return {"skipped": "needs root and ip (iproute2) for a network namespace"}
    from vj.sync.sandbox import loopback_namespace

    with loopback_namespace("vjbench") as ns:
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", LINK, str(seconds)], capture_output=True,
                           text=True, cwd=ROOT, timeout=seconds + 60)
    if r.returncode != 0:
        return {"failed": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}
    errs = json.loads(r.stdout.strip().splitlines()[-1])
    return {"frames": len(errs), "p50_ms": round(pct(errs, 0.5), 3), "p99_ms": round(pct(errs, 0.99), 3),
            "max_ms": round(max(errs), 3)}


class TimedPort:
    """Our clock-out port, with the time each message left noted (the bench's, not the show's)."""

    def __init__(self, port):
        self.port, self.sent = port, []

    def send(self, msg):
        self.port.send(msg)
        if msg.type == "clock":
            self.sent.append(time.perf_counter())

    def close(self):
        self.port.close()


def midi_jitter(seconds: float, period: int) -> dict:
    import mido

    name = f"vjbench{os.getuid()}"
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1"}
    jackd = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", str(period)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1",
                      MIDO_BACKEND="mido.backends.rtmidi/UNIX_JACK")
    try:
        deadline = time.monotonic() + 15
        while subprocess.run(["jack_lsp"], env=env, capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                return {"failed": "jackd did not start"}
            time.sleep(0.1)
        from vj.sync.midi_out import MidiClockOut

        got = []
        be = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
        rx = be.open_input("clockin", virtual=True, client_name="benchrx",
                           callback=lambda m: got.append(time.perf_counter()) if m.type == "clock" else None)
        t0 = time.perf_counter()
        now = lambda: time.perf_counter() - t0  # noqa: E731
        out = MidiClockOut("benchrx", now)
        out.port = timed = TimedPort(out.port)  # before the first frame: the thread has sent nothing yet
        end = time.monotonic() + seconds
        while time.monotonic() < end:  # the render thread: 60 snapshots a second at 128 BPM
            t = now()
            out.frame(SimpleNamespace(t=t, clock=SimpleNamespace(beat=t * 128 / 60, bpm=128.0)))
            time.sleep(1 / 60)
        out.close()
        time.sleep(0.2)
        rx.close()
    finally:
        jackd.terminate()
        jackd.wait(10)
    ideal = 60.0 / 128 / 24 * 1000

    def summary(times):
        iv = [(b - a) * 1000 for a, b in zip(times, times[1:])]
        dev = [abs(x - ideal) for x in iv]
        return {"ticks": len(times), "interval_p50_ms": round(statistics.median(iv), 3),
                "deviation_p50_ms": round(pct(dev, 0.5), 3), "deviation_p99_ms": round(pct(dev, 0.99), 3),
                "deviation_max_ms": round(max(dev), 3)}

    return {"ideal_interval_ms": round(ideal, 3), "jack_period_ms": round(period / 48.0, 3),
            "sent": summary(timed.sent), "received": summary(got), "lost": len(timed.sent) - len(got)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--jack-period", type=int, default=64, help="JACK's period in frames at 48 kHz")
    a = ap.parse_args()
    r = {"link_phase_error": link_phase(a.seconds), "midi_clock_out": midi_jitter(a.seconds, a.jack_period)}
    print(json.dumps(r))
    lp, mc = r["link_phase_error"], r["midi_clock_out"]
    if "p50_ms" in lp:
        print(f"Link phase error over {a.seconds:g} s ({lp['frames']} frames): p50 {lp['p50_ms']} ms, "
              f"p99 {lp['p99_ms']} ms, max {lp['max_ms']} ms")
    if "sent" in mc:
        for side in ("sent", "received"):
            s = mc[side]
            print(f"MIDI clock out, {side}: {s['ticks']} ticks, interval p50 {s['interval_p50_ms']} ms "
                  f"(ideal {mc['ideal_interval_ms']}), |deviation| p50 {s['deviation_p50_ms']} / p99 "
                  f"{s['deviation_p99_ms']} / max {s['deviation_max_ms']} ms")


if __name__ == "__main__":
    main()
