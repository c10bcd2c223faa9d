"""`vj bench web`: what the browser remote costs the show, and how fast it answers.

The show's side is what `vj run --headless --web` runs: the demo set's controls, the control process
serving the remote (and OSC), and in this process a render loop doing a headless show's frame work
(pull the controls, composite at --size, hand the program frame to the remote's feed and run its
hook; with --read-back a recording's read-back too), paced at --fps. The pages are another process:
page clients (vj/web/client.py) that take everything a page takes (the state, the ticks, the
preview's JPEGs) and one of them moves a fader as a hand drags it.

- page move -> snapshot: the mover sends /vj/param/feedback.amount with a rising value --rate times
  a second; the render loop notes, per frame, when it took its snapshot and the value it had. The
  latency of a move is the first snapshot with its value (or a later one) - its sending, on one
  monotonic clock for every process of the machine.
- OSC move -> page: another value sent by OSC (a surface beside the page) until a page has it.
- preview frame age: from the read-back on the render thread to a page holding the JPEG.
- render rate: with no page, with --pages pages open (the preview on), and with none again.
"""

from __future__ import annotations

import bisect
import json
import statistics
import subprocess
import sys
import threading
import time

PAGES = r"""
import json, socket, sys, time
from pythonosc.osc_message_builder import OscMessageBuilder
from vj.web.client import PageClient
from vj.web.protocol import read_preview_frame
url, osc_port, pages, rate, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
ages = []
def on_preview(data, now):
    ages.append((now - read_preview_frame(data)[3]) * 1e3)
print("ready", flush=True)
sys.stdin.readline()
t_open = time.perf_counter()
clients = [PageClient(url, preview=True, on_preview=on_preview) for _ in range(pages)]
for c in clients:
    c.wait(lambda p: p.state is not None and p.frame is not None, what="a first state")
time.sleep(1.0)  # the pages settle (their first preview frames)
sent, n, period = [], int(rate * seconds), 1.0 / rate
t0 = time.perf_counter()
for i in range(n):
    delay = t0 + i * period - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    v = round(0.01 + 0.9 * i / n, 7)
    t = time.perf_counter_ns()
    clients[0].osc("/vj/param/feedback.amount", v)
    sent.append((v, t))
follow = []  # an OSC move (a surface beside the pages) until every page shows it
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(40):
    v = round(1.0 + i * 0.5, 3)
    b = OscMessageBuilder("/vj/param/noise.walk"); b.add_arg(float(v))
    t = time.perf_counter()
    s.sendto(b.build().dgram, ("127.0.0.1", osc_port))
    for c in clients:
        c.wait(lambda p: p.values.get("noise.walk") == v, what="the OSC move")
    follow.append((time.perf_counter() - t) * 1e3)
    time.sleep(0.05)
frames = [len(c.previews) for c in clients]
t_close = time.perf_counter()
for c in clients:
    c.close()
print(json.dumps({"sent": sent, "ages": ages, "follow": follow, "open": [t_open, t_close],
                  "move": [t0, t0 + seconds], "preview_frames": frames}))
"""


def _percentiles(xs: list[float]) -> dict:
    xs = sorted(xs)
    if not xs:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"n": len(xs), "p50_ms": round(statistics.median(xs), 2), "p99_ms": round(xs[int(0.99 * (len(xs) - 1))], 2),
            "max_ms": round(xs[-1], 2)}


class _Show:
    """The show's frame work with the remote: pull the controls, composite, the feed."""

    def __init__(self, size: tuple[int, int], fps: float, read_back: bool) -> None:
        from vj import assemble
        from vj.control.process import ControlProcess
        from vj.render.compositor import Compositor
        from vj.render.context import open_headless
        from vj.resources import find_set
        from vj.show.setfile import load_set
        from vj.web.feed import WebFeed
        from vj.web.server import WebConfig

        self.controls = assemble.build_controls(load_set(find_set("demo")), 1)
        self.surface = open_headless()
        self.comp = Compositor(self.surface.ctx, size, "kaleido")
        self.feed = WebFeed(self.controls, "demo", 5.0, 480)
        self.proc = ControlProcess(self.controls, ("127.0.0.1", 0, ()), None,
                                   web=WebConfig("127.0.0.1", 0, None, self.feed.view.name))
        self.proc.start()
        self.controls.listen_to(self.proc)
        self.url = f"http://127.0.0.1:{self.proc.info.web[1]}/"
        self.osc_port = self.proc.info.osc[1]
        self.fps, self.read_back = fps, read_back
        self.frames: list[float] = []  # perf_counter when each frame's snapshot was taken
        self.values: list[float] = []  # feedback.amount in it

    def run_until(self, done: threading.Event) -> None:
        from types import MappingProxyType

        from vj.core.snapshot import Snapshot
        from vj.output.base import ProgramFrame
        from vj.render.overlay import OverlayInfo

        c = self.controls
        info = OverlayInfo(("render", "scene"), (), ())
        period = 1.0 / self.fps
        nxt, i = time.perf_counter(), 0
        while not done.is_set():
            c.apply_pending()
            t = time.perf_counter()
            snap = Snapshot(i, t, MappingProxyType(dict(c.params.values())), tuple(c.prompts), c.seed)
            self.frames.append(t)
            self.values.append(c.params.target("feedback.amount"))
            self.comp.render(snap)
            frame = ProgramFrame(self.comp, t, i, lambda: info)
            if self.read_back:
                frame.rgba()  # a recording's read-back, before the remote's feed
            self.feed.present(frame)
            self.feed.frame(snap)
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

    def latencies(self, sent: list) -> list[float]:
        """Per move: the first snapshot with its value or a later one (values rise), minus its sending."""
        frames, values = self.frames, self.values
        out = []
        for v, t_ns in sent:
            t = t_ns / 1e9
            j = bisect.bisect_left(frames, t)
            while j < len(frames) and values[j] < v - 1e-9:
                j += 1
            if j < len(frames):
                out.append((frames[j] - t) * 1e3)
        return out

    def close(self) -> None:
        self.proc.stop()
        self.feed.close()
        self.comp.close()


def run(pages: int = 3, rate: float = 30.0, seconds: float = 10.0, size=(1280, 720), fps: float = 30.0,
        read_back: bool = False, quiet_seconds: float = 5.0) -> dict:
    show = _Show(size, fps, read_back)
    out: dict = {"renderer": show.surface.renderer, "size": f"{size[0]}x{size[1]}", "render_fps_target": fps,
                 "pages": pages, "read_back": read_back}
    done, marks = threading.Event(), {}
    client = subprocess.Popen([sys.executable, "-c", PAGES, show.url, str(show.osc_port), str(pages), str(rate),
                               str(seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def drive() -> None:
        try:
            client.stdout.readline()  # its imports done
            time.sleep(2.0)  # the render loop settles
            q0 = time.perf_counter()
            time.sleep(quiet_seconds)
            marks["quiet"] = (q0, time.perf_counter())
            client.stdin.write("go\n")
            client.stdin.flush()
            text, _ = client.communicate(timeout=seconds + 120)
            marks["pages"] = json.loads(text)
            time.sleep(1.0)  # the pages gone
            q0 = time.perf_counter()
            time.sleep(quiet_seconds)
            marks["after"] = (q0, time.perf_counter())
        except Exception as e:  # reported; the render loop below ends
            marks["error"] = f"{type(e).__name__}: {e}"
        finally:
            done.set()

    th = threading.Thread(target=drive, daemon=True)
    th.start()
    try:
        show.run_until(done)
        th.join()
        out["counters"] = {k: v for k, v in show.proc.store.counter_dict().items() if k.startswith("web_")}
    finally:
        if client.poll() is None:
            client.kill()
        show.close()
    if "error" in marks:
        out["error"] = marks["error"]
        return out
    p = marks["pages"]
    lat = show.latencies(p["sent"])
    out["move_to_snapshot"] = dict(_percentiles(lat), sent=len(p["sent"]), landed=len(lat), rate=rate,
                                   frame_ms=round(1e3 / fps, 1))
    out["osc_to_page"] = _percentiles(p["follow"])
    out["preview_age"] = _percentiles(p["ages"])
    span = p["open"][1] - p["open"][0]
    out["preview_fps_per_page"] = round(statistics.mean(p["preview_frames"]) / span, 1) if span > 0 else None
    out["render_fps"] = {"no_page": round(show.rate_between(*marks["quiet"]), 2),
                         f"{pages}_pages": round(show.rate_between(*p["move"]), 2),
                         "no_page_after": round(show.rate_between(*marks["after"]), 2)}
    return out


def main(args) -> int:
    size = tuple(int(x) for x in args.size.split("x"))
    r = run(args.pages, args.rate, args.seconds, size, args.fps, args.read_back)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"render load: {r['renderer']}, {r['size']}, paced at {r['render_fps_target']:g} fps "
          f"(composite{' + a recording read-back' if r['read_back'] else ''} + the remote's feed)")
    if "error" in r:
        print(f"error: {r['error']}")
        return 1
    m, o, a = r["move_to_snapshot"], r["osc_to_page"], r["preview_age"]
    print(f"page move -> snapshot: {m['landed']}/{m['sent']} moves at {m['rate']:g}/s: p50 {m['p50_ms']} ms, "
          f"p99 {m['p99_ms']} ms, max {m['max_ms']} ms (a render frame is {m['frame_ms']} ms)")
    print(f"OSC move -> every page: p50 {o['p50_ms']} ms, p99 {o['p99_ms']} ms ({o['n']} moves)")
    print(f"preview frame age (read-back -> JPEG at a page): p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms; "
          f"{r['preview_fps_per_page']} frames a second a page")
    f = r["render_fps"]
    print("render rate: " + ", ".join(f"{k.replace('_', ' ')} {v} fps" for k, v in f.items()))
    print(f"web counters: {r['counters']}")
    return 0
