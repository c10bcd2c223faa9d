"""`vj bench control`: how fast a hand reaches the show, with the show running.

The receiving side is what `vj run` runs: the demo set's controls, the control process (OSC, and
with --midi a MIDI input under JACK), and in this process a render loop doing what
`vj run --headless --out` does each frame (pull the control store, composite at the output size,
read back from the GPU), paced at --fps.

- OSC: a separate process sends /vj/param/feedback.amount with a rising value every 1/rate
  seconds and records when it sent each; the control process records (--trace) when each value
  landed in the shared parameter store, which is what the next snapshot is built from.
  Latency = the time its value (or a newer one that overtook it) landed - sent, on one monotonic
  clock for all processes.
- Burst: the same sender fires --burst messages as fast as it can; did the last one win, how long
  until it did, and the render loop's rate during the burst against its rate before.
- MIDI (--midi, needs a JACK server): a separate process with a virtual JACK MIDI port sends CC 0
  (mapped to feedback.amount), values cycling 0..127, at the same rate.
"""

from __future__ import annotations

import bisect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

OSC_SENDER = r"""
import socket, sys, time, json
from pythonosc.osc_message_builder import OscMessageBuilder
port, rate, seconds, burst = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def msg(v):
    b = OscMessageBuilder("/vj/param/feedback.amount"); b.add_arg(v); return b.build().dgram
if burst:
    for i in range(burst):
        v = (i + 1) / (burst + 1) * 0.9
        s.sendto(msg(v), ("127.0.0.1", port))
    print(json.dumps({"last": v}))
    sys.exit(0)
sent, n, period = [], int(rate * seconds), 1.0 / rate
t0 = time.perf_counter()
for i in range(n):
    delay = t0 + i * period - time.perf_counter()
    if delay > 0:
        time.sleep(delay)  # not a busy wait: on two cores it would take one from the show
    v = 0.01 + 0.9 * i / n
    t = time.perf_counter_ns()
    s.sendto(msg(v), ("127.0.0.1", port))
    sent.append((round(v, 7), t))
print(json.dumps(sent))
"""

MIDI_SENDER = r"""
import mido, sys, time, json
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
be = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
out = be.open_output("ctrl", virtual=True, client_name="benchcontroller")
print("ready", flush=True)
sys.stdin.readline()  # go
sent, n, period = [], int(rate * seconds), 1.0 / rate
t0 = time.perf_counter()
for i in range(n):
    delay = t0 + i * period - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    v = i % 128
    t = time.perf_counter_ns()
    out.send(mido.Message("control_change", control=0, value=v))
    sent.append((v, t))
time.sleep(0.5)
print(json.dumps(sent))
"""


def _percentiles(lat_ms: list[float]) -> dict:
    lat_ms = sorted(lat_ms)
    if not lat_ms:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"n": len(lat_ms), "p50_ms": round(statistics.median(lat_ms), 3),
            "p99_ms": round(lat_ms[int(0.99 * (len(lat_ms) - 1))], 3), "max_ms": round(lat_ms[-1], 3)}


class _RenderLoad:
    """The main thread's frame work of a headless show with a recorder: pull the controls,
    composite, read back."""

    def __init__(self, size: tuple[int, int], fps: float) -> None:
        from vj.render.compositor import Compositor
        from vj.render.context import open_headless

        self.surface = open_headless()
        self.comp = Compositor(self.surface.ctx, size, "kaleido")
        self.fps = fps
        self.frames: list[float] = []

    def run_until(self, done: threading.Event, controls) -> None:
        from types import MappingProxyType

        from vj.core.snapshot import Snapshot

        period = 1.0 / self.fps
        nxt = time.perf_counter()
        i = 0
        while not done.is_set():
            controls.apply_pending()  # pulls the control store, as the engine does before a snapshot
            snap = Snapshot(i, i * period, MappingProxyType(dict(controls.params.values())), tuple(controls.prompts), 1)
            self.comp.render(snap)
            self.comp.read_rgba()
            self.frames.append(time.perf_counter())
            i += 1
            nxt += period
            delay = nxt - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                nxt = time.perf_counter()

    def rate_between(self, t0: float, t1: float) -> float:
        n = sum(1 for t in self.frames if t0 <= t <= t1)
        return n / (t1 - t0) if t1 > t0 else 0.0


def run(rate: float = 1000.0, seconds: float = 5.0, burst: int = 10000, size=(1280, 720), fps: float = 60.0,
        midi: bool = False) -> dict:
    from vj import assemble
    from vj.show.setfile import load_set
    from vj.control.process import ControlProcess
    from vj.resources import find_set

    controls = assemble.build_controls(load_set(find_set("demo")), 1)
    tmp = Path(tempfile.mkdtemp(prefix="vj-bench-"))
    trace = tmp / "trace.json"
    midi_cfg, midi_sender = None, None
    if midi:
        os.environ.setdefault("MIDO_BACKEND", "mido.backends.rtmidi/UNIX_JACK")
        (tmp / "bench.toml").write_text('[device]\nmatch = "benchcontroller"\n[[control]]\ntype = "cc"\nchannel = 1\n'
                                        'number = 0\ntarget = "feedback.amount"\ntakeover = "jump"\n')
        midi_sender = subprocess.Popen([sys.executable, "-c", MIDI_SENDER, str(rate), str(seconds)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        midi_sender.stdout.readline()  # its port exists
        midi_cfg = (("benchcontroller",), tmp / "bench.toml")
    proc = ControlProcess(controls, ("127.0.0.1", 0, ()), midi_cfg, trace=str(trace))
    proc.start()
    controls.listen_to(proc)
    port = proc.info.osc[1]
    load = _RenderLoad(size, fps)
    out: dict = {"renderer": load.surface.renderer, "size": f"{size[0]}x{size[1]}", "render_fps_target": fps}
    done = threading.Event()
    marks: dict = {}

    def drive() -> None:
        try:
            time.sleep(1.0)  # the render loop settles
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", OSC_SENDER, str(port), str(rate), str(seconds), "0"],
                               capture_output=True, text=True, check=True)
            marks["osc"] = (t0, time.perf_counter(), json.loads(r.stdout))
            time.sleep(0.5)
            b0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", OSC_SENDER, str(port), "0", "0", str(burst)],
                               capture_output=True, text=True, check=True)
            last = json.loads(r.stdout)["last"]
            deadline = time.monotonic() + 10
            while abs(controls.params.target("feedback.amount") - last) > 1e-6 and time.monotonic() < deadline:
                time.sleep(0.005)
            marks["burst"] = (b0, time.perf_counter(), abs(controls.params.target("feedback.amount") - last) < 1e-6)
            if midi_sender is not None:
                time.sleep(0.5)
                m0 = time.perf_counter()
                midi_sender.stdin.write("go\n")
                midi_sender.stdin.flush()
                text, _ = midi_sender.communicate(timeout=seconds + 30)
                marks["midi"] = (m0, time.perf_counter(), json.loads(text))
            time.sleep(0.3)
        except Exception as e:  # reported, and the render loop below ends
            marks["error"] = f"{type(e).__name__}: {e}"
        finally:
            done.set()

    th = threading.Thread(target=drive, daemon=True)
    th.start()
    load.run_until(done, controls)
    th.join()
    counters = proc.store.counter_dict()
    proc.stop()
    if "error" in marks:
        out["error"] = marks["error"]
        return out
    writes = [w for w in json.loads(trace.read_text()) if w[0] == "feedback.amount"]
    t0, t1, sent = marks["osc"]
    # The sender's values rise with every message. A message is in the store when its value, or
    # a later one, is: when two wait in the socket at once the older is skipped (latest wins),
    # and its latency runs until the newer one landed, so the queueing is counted, not hidden.
    burst_ns = marks["burst"][0] * 1e9
    osc_writes = [(round(v, 7), t) for _, v, t in writes if sent[0][1] <= t < burst_ns]
    values = [v for v, _ in osc_writes]
    lat, exact = [], 0
    for v, t in sent:
        j = bisect.bisect_left(values, v)
        if j < len(osc_writes):
            lat.append((osc_writes[j][1] - t) / 1e6)
            exact += osc_writes[j][0] == v
    out["osc"] = dict(_percentiles(lat), sent=len(sent), landed=len(lat), coalesced=len(lat) - exact, rate=rate,
                      render_fps=round(load.rate_between(t0, t1), 1))
    b0, b1, won = marks["burst"]
    out["burst"] = {"messages": burst, "latest_won": won, "applied_in_ms": round((b1 - b0) * 1e3, 1),
                    "render_fps_before": out["osc"]["render_fps"],
                    "render_fps_during": round(load.rate_between(b0, max(b1, b0 + 0.5)), 1)}
    if "midi" in marks:
        m0, m1, msent = marks["midi"]
        span = controls.params.spec("feedback.amount")
        midi_writes = [(round(span.norm(v) * 127), t) for _, v, t in writes if t >= msent[0][1]]
        mlat, j = [], 0
        for v, t in msent:
            while j < len(midi_writes) and midi_writes[j][1] < t:
                j += 1
            if j < len(midi_writes) and midi_writes[j][0] == v:
                mlat.append((midi_writes[j][1] - t) / 1e6)
                j += 1
        out["midi"] = dict(_percentiles(mlat), sent=len(msent), landed=len(mlat), rate=rate,
                           render_fps=round(load.rate_between(m0, m1), 1))
    out["counters"] = counters
    return out


def main(args) -> int:
    r = run(args.rate, args.seconds, args.burst, tuple(int(x) for x in args.size.split("x")), args.fps, args.midi)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"render load: {r['renderer']}, {r['size']}, paced at {r['render_fps_target']:g} fps (composite + readback)")
    if "error" in r:
        print(f"error: {r['error']}")
        return 1
    o = r["osc"]
    print(f"OSC -> parameter store: {o['landed']}/{o['sent']} messages at {o['rate']:g}/s "
          f"({o['coalesced']} overtaken by a newer value before they were parsed): p50 {o['p50_ms']} ms, "
          f"p99 {o['p99_ms']} ms, max {o['max_ms']} ms (render loop {o['render_fps']} fps meanwhile)")
    b = r["burst"]
    print(f"burst of {b['messages']}: latest value won: {b['latest_won']}, applied within {b['applied_in_ms']} ms, "
          f"render loop {b['render_fps_before']} -> {b['render_fps_during']} fps")
    if "midi" in r:
        m = r["midi"]
        print(f"MIDI -> parameter store (JACK): {m['landed']}/{m['sent']} messages at {m['rate']:g}/s: "
              f"p50 {m['p50_ms']} ms, p99 {m['p99_ms']} ms, max {m['max_ms']} ms (render loop {m['render_fps']} fps)")
    return 0
