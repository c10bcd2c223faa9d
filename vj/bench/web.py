"""`vj bench web`: what the browser remote costs the show, and how fast it answers.

The show's side is what `vj run --headless --web` runs: the demo set's controls, the control process
serving the remote (and OSC), and in this process a render loop doing a headless show's frame work
(pull the controls, composite at --size, a recording's read-back, or with --output display the frame
finished as a display's swap finishes it; hand the program frame to the remote's feed and run its
hook), paced at --fps. With a recording the preview takes the picture read back; without, it draws a
small copy on the GPU and reads that back. The pages are another process:
page clients (vj/web/client.py) that take everything a page takes (the state, the ticks, the
preview's JPEGs) and one of them moves a fader as a hand drags it.

- page move -> snapshot: the mover sends /vj/param/feedback.amount with a rising value --rate times
  a second; the render loop notes, per frame, when it took its snapshot and the value it had. The
  latency of a move is the first snapshot with its value (or a later one) - its sending, on one
  monotonic clock for every process of the machine.
  Half a period after each, the same kind of move goes by OSC to another parameter: the floor of the
  path in the same run (on a loaded machine the render loop's own late frames set both p99s).
- OSC move -> page: another value sent by OSC (a surface beside the page) until every page has it.
- preview frame age: from the read-back on the render thread to a page holding the JPEG.
- render rate: with no page and with --pages pages open (the preview on), in interleaved rounds.
- CPU: what each process spent while the pages were open (the pages' own would be on phones).
"""

from __future__ import annotations

import bisect
import json
import os
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
url, osc_port, pages, rate, seconds, rounds = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
                                               float(sys.argv[5]), int(sys.argv[6]))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print("ready", flush=True)
for line in sys.stdin:
    if not line.startswith("go"):
        break
    r = int(line.split()[1])
    ages = []
    def on_preview(data, now):
        ages.append((now - read_preview_frame(data)[3]) * 1e3)
    t_open, cpu_open = time.perf_counter(), time.process_time()
    clients = [PageClient(url, preview=True, on_preview=on_preview) for _ in range(pages)]
    for c in clients:
        c.wait(lambda p: p.state is not None and p.frame is not None, what="a first state")
    time.sleep(1.0)  # the pages settle (their first preview frames)
    sent, osc_sent, n, period = [], [], int(rate * seconds), 1.0 / rate
    t0 = time.perf_counter()
    for i in range(n):  # a fader dragged: the value rises through every round
        delay = t0 + i * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        v = round(0.01 + 0.9 * (r * n + i) / (rounds * n), 7)
        t = time.perf_counter_ns()
        clients[0].osc("/vj/param/feedback.amount", v)
        sent.append((v, t))
        delay = t0 + (i + 0.5) * period - time.perf_counter()  # and, half a period later, the same by OSC
        if delay > 0:
            time.sleep(delay)
        v = round(0.3 + 3.6 * (r * n + i) / (rounds * n), 7)
        b = OscMessageBuilder("/vj/param/fx.kaleido.zoom"); b.add_arg(float(v))
        t = time.perf_counter_ns()
        s.sendto(b.build().dgram, ("127.0.0.1", osc_port))
        osc_sent.append((v, t))
    t1 = time.perf_counter()
    follow = []  # an OSC move (a surface beside the pages) until every page shows it
    for i in range(20):
        v = round(1.0 + (r * 20 + i) * 0.5, 3)
        b = OscMessageBuilder("/vj/param/noise.walk"); b.add_arg(float(v))
        t = time.perf_counter()
        s.sendto(b.build().dgram, ("127.0.0.1", osc_port))
        for c in clients:
            c.wait(lambda p: p.values.get("noise.walk") == v, what="the OSC move")
        follow.append((time.perf_counter() - t) * 1e3)
        time.sleep(0.05)
    frames = [len(c.previews) for c in clients]
    t_close, cpu = time.perf_counter(), time.process_time() - cpu_open
    for c in clients:
        c.close()
    print(json.dumps({"sent": sent, "osc_sent": osc_sent, "ages": ages, "follow": follow, "open": [t_open, t_close], "move": [t0, t1],
                      "preview_frames": frames, "cpu": cpu}), flush=True)
"""


# the demo set with a scene graph whose ways out take minutes (the moves are made by hand): what the
# remote's tests and its screenshots play
GRAPH = """
[graph]
start = "calm"
quantize = "bar"

[[edge]]
from = "calm"
to = "storm"
after = "64 bars"

[[edge]]
from = "storm"
to = "drowned"
after = "64 bars"
chance = 0.5

[[edge]]
from = "drowned"
to = "burning"
energy = [0.9, 1.0]
after = "32 bars"

[[edge]]
from = "burning"
to = "calm"
after = "64 bars"

[[edge]]
from = "*"
to = "storm"
note = "midi.1.note.45"
"""
CHROMEDRIVER = "/usr/bin/chromedriver"  # Debian's chromium-driver: never a browser download
CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--hide-scrollbars")


def demo_with_graph(folder) -> "Path":
    """The demo set and GRAPH, written into `folder` (its sound track named by its full path)."""
    from pathlib import Path

    from vj.resources import find_set

    demo = Path(find_set("demo"))
    text = demo.read_text().replace('audio = "demo-beat.ogg"', f'audio = "{demo.parent / "demo-beat.ogg"}"')
    path = Path(folder) / "demo-graph.toml"
    path.write_text(text + GRAPH)
    return path


def chromium(profile: str, width: int, height: int):
    """Debian's Chromium through selenium, headless, with the profile folder given."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    o = webdriver.ChromeOptions()
    for a in CHROMIUM_ARGS + (f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        o.add_argument(a)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), seconds."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _percentiles(xs: list[float]) -> dict:
    xs = sorted(xs)
    if not xs:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"n": len(xs), "p50_ms": round(statistics.median(xs), 2), "p99_ms": round(xs[int(0.99 * (len(xs) - 1))], 2),
            "max_ms": round(xs[-1], 2)}


class _Show:
    """The show's frame work with the remote: pull the controls, composite, the feed."""

    def __init__(self, size: tuple[int, int], fps: float, output: str) -> None:
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
        self.fps, self.output = fps, output  # "record": read back every frame; "display": finish it, as a swap
        self.frames: list[float] = []  # perf_counter when each frame's snapshot was taken
        self.feed_ms: list[tuple[float, float]] = []  # the remote's share of each frame on the render thread:
        # (its output's present: the preview picture; its frame hook: the numbers, the state), ms
        self.values: dict[str, list[float]] = {"feedback.amount": [], "fx.kaleido.zoom": []}  # in each snapshot

    def run_until(self, done: threading.Event) -> None:
        from types import MappingProxyType

        from vj.clock import FramePacer, RealClock
        from vj.core.snapshot import Snapshot
        from vj.output.base import ProgramFrame
        from vj.render.overlay import OverlayInfo

        c = self.controls
        info = OverlayInfo(("render", "scene"), (), ())
        pacer, i = FramePacer(self.fps, RealClock()), 0  # as `vj run --headless` paces its loop
        while not done.is_set():
            c.apply_pending()
            t = time.perf_counter()
            snap = Snapshot(i, t, MappingProxyType(dict(c.params.values())), tuple(c.prompts), c.seed)
            self.frames.append(t)
            for name, got in self.values.items():
                got.append(c.params.target(name))
            self.comp.render(snap)
            frame = ProgramFrame(self.comp, t, i, lambda: info)
            if self.output == "record":
                frame.rgba()  # a recording's read-back, before the remote's feed (which then takes it)
            else:
                self.surface.ctx.finish()  # a display's swap: the frame drawn, nothing read back
            f0 = time.perf_counter()
            self.feed.present(frame)
            f1 = time.perf_counter()
            self.feed.frame(snap)
            self.feed_ms.append(((f1 - f0) * 1e3, (time.perf_counter() - f1) * 1e3))
            i += 1
            pacer.wait()

    def feed_between(self, spans: list, part: int) -> list[float]:
        return [ms[part] for t, ms in zip(self.frames, self.feed_ms) if any(a <= t <= b for a, b in spans)]

    def rate_between(self, t0: float, t1: float) -> float:
        n = sum(1 for t in self.frames if t0 <= t <= t1)
        return n / (t1 - t0) if t1 > t0 else 0.0

    def latencies(self, sent: list, name: str) -> tuple[list[float], int]:
        """Per move: the first snapshot with its value or a later one (values rise), minus its sending;
        and how many moves were in the very first snapshot taken after they were sent."""
        frames, values = self.frames, self.values[name]
        out, first = [], 0
        for v, t_ns in sent:
            t = t_ns / 1e9
            j = k = bisect.bisect_left(frames, t)
            while j < len(frames) and values[j] < v - 1e-5 * max(1.0, abs(v)):  # OSC carries float32
                j += 1
            if j < len(frames):
                out.append((frames[j] - t) * 1e3)
                first += j == k
        return out, first

    def close(self) -> None:
        self.proc.stop()
        self.feed.close()
        self.comp.close()


def run(pages: int = 3, rate: float = 30.0, seconds: float = 8.0, size=(1280, 720), fps: float = 30.0,
        output: str = "record", rounds: int = 3, quiet_seconds: float = 6.0) -> dict:
    """Rounds of a quiet stretch (no page) and a stretch with the pages open, then a quiet one: the
    render rate of each kind is the median of its stretches (other load on the machine comes and
    goes; interleaving keeps it from landing on one side)."""
    show = _Show(size, fps, output)
    out: dict = {"renderer": show.surface.renderer, "size": f"{size[0]}x{size[1]}", "render_fps_target": fps,
                 "pages": pages, "output": output, "rounds": rounds}
    done, marks = threading.Event(), {"quiet": [], "rounds": [], "cpu": []}
    client = subprocess.Popen([sys.executable, "-c", PAGES, show.url, str(show.osc_port), str(pages), str(rate),
                               str(seconds), str(rounds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def quiet() -> None:
        q0 = time.perf_counter()
        time.sleep(quiet_seconds)
        marks["quiet"].append((q0, time.perf_counter()))

    def drive() -> None:
        try:
            client.stdout.readline()  # its imports done
            time.sleep(2.0)  # the render loop settles
            for r in range(rounds):
                quiet()
                cpu0 = {"control process (server)": _cpu_seconds(show.proc.pid),
                        "this process (render loop, feed)": _cpu_seconds(os.getpid())}
                client.stdin.write(f"go {r}\n")
                client.stdin.flush()
                got = json.loads(client.stdout.readline())
                span = got["open"][1] - got["open"][0]
                cpu = {k: (_cpu_seconds(p) - cpu0[k]) / span * 100 for k, p in
                       (("control process (server)", show.proc.pid), ("this process (render loop, feed)", os.getpid()))}
                cpu["the pages' process"] = got["cpu"] / span * 100
                marks["rounds"].append(got)
                marks["cpu"].append(cpu)
                time.sleep(1.0)  # the pages gone
            quiet()
            client.stdin.write("end\n")
            client.stdin.flush()
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
    rs = marks["rounds"]
    sent = [m for r in rs for m in r["sent"]]
    lat, first = show.latencies(sent, "feedback.amount")
    out["move_to_snapshot"] = dict(_percentiles(lat), sent=len(sent), landed=len(lat), rate=rate,
                                   frame_ms=round(1e3 / fps, 1), in_next_snapshot=first)
    osc, osc_first = show.latencies([m for r in rs for m in r["osc_sent"]], "fx.kaleido.zoom")
    out["osc_move_to_snapshot"] = dict(_percentiles(osc), in_next_snapshot=osc_first)  # the same moves by OSC
    gaps = [(b - a) * 1e3 for r in rs for a, b in zip(show.frames, show.frames[1:]) if r["move"][0] <= a <= r["move"][1]]
    out["frame_gap"] = _percentiles(gaps)  # the render loop's own pace while the pages were open
    pages_on = [r["move"] for r in rs]
    out["feed_ms"] = {"present_no_page": _percentiles(show.feed_between(marks["quiet"], 0)),
                      "present_pages": _percentiles(show.feed_between(pages_on, 0)),
                      "hook_no_page": _percentiles(show.feed_between(marks["quiet"], 1)),
                      "hook_pages": _percentiles(show.feed_between(pages_on, 1))}
    out["load_average"] = os.getloadavg()[0]
    out["osc_to_page"] = _percentiles([x for r in rs for x in r["follow"]])
    out["preview_age"] = _percentiles([x for r in rs for x in r["ages"]])
    out["preview_fps_per_page"] = round(statistics.mean(statistics.mean(r["preview_frames"]) / (r["open"][1] - r["open"][0])
                                                        for r in rs), 1)
    out["cpu_percent_with_pages"] = {k: round(statistics.mean(c[k] for c in marks["cpu"]), 1) for k in marks["cpu"][0]}
    quiet_rates = [round(show.rate_between(*q), 2) for q in marks["quiet"]]
    page_rates = [round(show.rate_between(*r["move"]), 2) for r in rs]
    out["render_fps"] = {"no_page": statistics.median(quiet_rates), f"{pages}_pages": statistics.median(page_rates),
                         "no_page_each": quiet_rates, "pages_each": page_rates}
    return out


def main(args) -> int:
    size = tuple(int(x) for x in args.size.split("x"))
    r = run(args.pages, args.rate, args.seconds, size, args.fps, args.output, args.rounds)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"render load: {r['renderer']}, {r['size']}, paced at {r['render_fps_target']:g} fps "
          f"(composite, {'a recording read-back' if r['output'] == 'record' else 'finished as a display swaps'}, "
          f"the remote's feed)")
    if "error" in r:
        print(f"error: {r['error']}")
        return 1
    m, o, a = r["move_to_snapshot"], r["osc_to_page"], r["preview_age"]
    print(f"page move -> snapshot: {m['landed']}/{m['sent']} moves at {m['rate']:g}/s: p50 {m['p50_ms']} ms, "
          f"p99 {m['p99_ms']} ms, max {m['max_ms']} ms (a render frame is {m['frame_ms']} ms); "
          f"{m['in_next_snapshot']} in the first snapshot taken after them")
    b, g = r["osc_move_to_snapshot"], r["frame_gap"]
    print(f"   the same moves by OSC -> snapshot: p50 {b['p50_ms']} ms, p99 {b['p99_ms']} ms, {b['in_next_snapshot']} in "
          f"the first snapshot after them; the render loop's frame "
          f"gaps meanwhile: p50 {g['p50_ms']} ms, p99 {g['p99_ms']} ms, max {g['max_ms']} ms")
    print(f"OSC move -> every page: p50 {o['p50_ms']} ms, p99 {o['p99_ms']} ms ({o['n']} moves)")
    print(f"preview frame age (read-back -> JPEG at a page): p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms; "
          f"{r['preview_fps_per_page']} frames a second a page")
    fm = r["feed_ms"]
    print("the remote on the render thread, a frame (p50/p99/max ms): " + "; ".join(
        f"{k.replace('_', ' ')} {v['p50_ms']}/{v['p99_ms']}/{v['max_ms']}" for k, v in fm.items()) +
        " (present: the preview's picture; hook: the frame's numbers and the state)")
    f = r["render_fps"]
    print(f"render rate (median of {r['rounds']} rounds): no page {f['no_page']} fps, {r['pages']} pages open "
          f"{f[str(r['pages']) + '_pages']} fps (each stretch: no page {f['no_page_each']}, pages {f['pages_each']})")
    print("CPU while the pages were open (% of one core): " +
          ", ".join(f"{k} {v}" for k, v in r["cpu_percent_with_pages"].items()))
    print(f"web counters: {r['counters']}; load average at the end {r['load_average']:.1f} "
          f"({os.cpu_count()} cores; other work on the machine included)")
    return 0
