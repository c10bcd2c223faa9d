"""`vj bench remote`: the generator over the network beside the local process, in one run.

For each size, the same frames (bench/standin.py: the seedling scaled up, with grain, paced like a
GPU; or, with --model, a real model on --device) are made by the local generator process, then by
`vj serve` reached
    loopback        on this machine (the codec the show picks: raw), and loopback-jpeg
    half-box        one box half as fast as the local generator (stand-in paced at twice --gen-ms)
    two-boxes       two such boxes alternating frames: together as fast as the local one
    20ms            across two network namespaces, 20 +- 5 ms each way (netlab's delaying relay)
    20ms-0.5%       the same with 0.5 % of the packets lost each way (iptables)
    20ms-2%         the same with 2 % lost
    20ms-2%-one     the same over one TCP connection instead of four (what the rotation is for)
Each path is a live headless show of --seconds (after a warm-up), measured as `vj run` plays:
gesture to photon (a snapshot taken -> the first output frame showing its picture), generated
frames per second, the gaps between new frames (a stall: over STALL_MS and twice the usual gap),
bytes per frame on the wire, this machine's CPU per frame spent decoding. The added latency and
the fps kept are against the local process at the same size, measured in the same run.
"""

from __future__ import annotations

import contextlib
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STALL_MS = 250.0
PATHS = ("local", "loopback", "loopback-jpeg", "half-box", "two-boxes", "20ms", "20ms-0.5%", "20ms-2%", "20ms-2%-one")
LOSS = {"20ms": 0.0, "20ms-0.5%": 0.005, "20ms-2%": 0.02, "20ms-2%-one": 0.02}
DELAY_MS, JITTER_MS = 20.0, 5.0
PORT = 9310


# -- one path, measured in a process of its own (inside the show's namespace for the network paths) ---
class Timed:
    """The generator the engine plays, with the frames it hands over noted (a bench's recorder: it
    passes everything through unchanged)."""

    def __init__(self, gen) -> None:
        self.gen = gen
        self.taken = None  # the frame handed over this render frame, until the frame is shown

    size = property(lambda self: self.gen.size)
    state = property(lambda self: self.gen.state)
    frames = property(lambda self: self.gen.frames)
    errors = property(lambda self: self.gen.errors)
    last_error = property(lambda self: self.gen.last_error)
    link = property(lambda self: self.gen.link)
    want_input = property(lambda self: self.gen.want_input,
                          lambda self, v: setattr(self.gen, "want_input", v))

    def start(self) -> None:
        self.gen.start()

    def submit(self, snap) -> None:
        self.gen.submit(snap)

    def latest(self):
        frame = self.gen.latest()
        if frame is not None:
            self.taken = frame
        return frame

    def fps(self) -> float:
        return self.gen.fps()

    def stop(self, timeout: float = 10.0) -> None:
        self.gen.stop(timeout)

    def link_status(self) -> str:
        return self.gen.link_status()

    def link_figures(self):
        return self.gen.link_figures()


def measure(path: str, size: tuple[int, int], model: str, device: str, wrap: str | None, args,
            boxes: list[str] = (), keys: list[str] = (), codec: str = "auto") -> dict:
    """One path as a headless live show: the figures after the warm-up."""
    from vj import assemble
    from vj.audio.sources import SilentInput
    from vj.clock import FramePacer, RealClock
    from vj.generate.process import GeneratorConfig
    from vj.render.context import open_headless
    from vj.resources import find_set
    from vj.show.setfile import load_set, with_overrides

    fps, seconds, warmup = args.fps, args.seconds, args.warmup
    show = with_overrides(load_set(find_set("demo")), model=model, size=size, fps=fps)
    surface = open_headless()
    controls = assemble.build_controls(show, 1)
    # the stand-in scales the seedling's own size up; a real model makes frames at the size measured
    cfg = GeneratorConfig(model, device, 1, None if wrap else size, 1, 1 if device == "cpu" else None, wrap)
    if not boxes:
        from vj.generate.process import ProcessGenerator

        gen = ProcessGenerator(cfg)
        gen.start(wait_ready=True)
    else:
        from vj.remote.client import RemoteGenerator

        gen = RemoteGenerator.from_settings(boxes, keys, cfg, codec=codec,
                                            connections=1 if path.endswith("-one") else 4)
        gen.start(wait_ready=True, timeout=300)
    timed = Timed(gen)
    clock = RealClock()
    seen = {"lat": [], "gaps": [], "last": None, "frames": 0}

    def shown(snap) -> None:  # after the outputs: as the engine's own latency figure is taken
        f, timed.taken = timed.taken, None
        if f is None or snap.t < warmup:
            return
        now = clock.now()
        seen["lat"].append(now - f.t_snapshot)
        if seen["last"] is not None:
            seen["gaps"].append(now - seen["last"])
        seen["last"] = now
        seen["frames"] += 1

    engine = assemble.make_engine(controls, assemble.make_compositor(surface.ctx, show, live=True), timed,
                                  clock=clock, audio=SilentInput(), outputs=[], on_frame=[shown])
    clock.reset()
    engine.run_live(warmup + seconds, FramePacer(fps, clock))
    return _figures(path, size, gen, seen, seconds, bool(boxes))


def _figures(path: str, size: tuple[int, int], gen, seen: dict, seconds: float, remote: bool) -> dict:
    lat, gaps = sorted(seen["lat"]), seen["gaps"]
    f = gen.figures() if remote else None
    usual = statistics.median(gaps) if gaps else 0.0
    stalls = [g for g in gaps if g * 1e3 > max(STALL_MS, 2e3 * usual)]
    out = {"path": path, "size": f"{size[0]}x{size[1]}", "link": gen.link if not remote else f"{gen.link} ({f.codec})",
           "latency_ms_p50": _q(lat, 0.5), "latency_ms_p95": _q(lat, 0.95), "gen_fps": round(seen["frames"] / seconds, 2),
           "stalls": len(stalls), "longest_gap_ms": round(1e3 * max(gaps), 1) if gaps else None}
    if remote:
        out.update(bytes_per_frame=round(f.bytes_per_frame), decode_ms_per_frame=round(f.decode_ms_per_frame, 3),
                   round_trip_ms=None if f.round_trip_ms is None else round(f.round_trip_ms, 2),
                   frame_age_ms=None if f.frame_age_ms is None else round(f.frame_age_ms, 1), stale=f.stale,
                   late_credits=f.late_credits, connections=gen.connections)
    return out


def _q(xs: list[float], q: float) -> float | None:
    return round(1e3 * xs[min(len(xs) - 1, int(q * len(xs)))], 1) if xs else None


# -- the run: boxes, namespaces, one worker per path -----------------------------------------------------
def _worker(ns: str | None, path: str, size: str, plan: dict, args, boxes: list[str] = (), keys: list[str] = (),
            codec: str = "auto") -> dict:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + [
        sys.executable, "-m", "vj", "bench", "remote", "--worker", path, "--sizes", size, "--model", plan["model"],
        "--device", plan["device"], "--seconds", str(args.seconds), "--warmup", str(args.warmup), "--fps",
        str(args.fps), "--json"] + (["--wrap", plan["wrap"]] if plan["wrap"] else [])
    if boxes:
        cmd += ["--box", ",".join(boxes), "--key", ",".join(keys), "--codec", codec]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + args.warmup + 900)
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    if r.returncode != 0 or not lines:
        raise RuntimeError(f"bench remote: the {path} worker failed ({r.returncode}): {r.stderr.strip()[-800:]}")
    return json.loads(lines[-1])


def _box(ns: str | None, plan: dict, state: Path, port: int):
    """`vj serve` (the stand-in, or the model asked for), in the box's namespace if there is one;
    (process, key) once it says its key."""
    cmd = (["ip", "netns", "exec", ns] if ns else []) + [
        sys.executable, "-m", "vj", "serve", "--model", plan["model"], "--device", plan["device"],
        "--bind", f"{'0.0.0.0' if ns else '127.0.0.1'}:{port}", "--state", str(state), "-q"]
    cmd += (["--threads", "1", "--wrap", plan["wrap"]] if plan["wrap"] else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if line.startswith("key: "):
            return proc, line[5:].strip()
    proc.wait()
    raise RuntimeError("bench remote: vj serve did not start")


def _paths(args, size: str, plan: dict, local: dict) -> list[dict]:
    """Every path but the local one, against `local`: the boxes in a namespace of their own when a
    network path is asked for (loopback inside it), else on this machine's loopback. The two
    alternating boxes are each half as fast as the local generator (the show can only use distinct
    snapshots: at --fps 30 two full-speed boxes would outrun it), and one of them alone is measured
    too: two keep the local rate where one keeps half."""
    from vj.remote.netlab import lab

    paths = [p for p in args.paths.split(",") if p != "local"]
    netted = any(p in LOSS for p in paths)
    rows = []
    with contextlib.ExitStack() as stack:
        net = stack.enter_context(lab("relay", DELAY_MS, JITTER_MS, tag="b")) if netted else None
        ns = net.box if net else None

        def box(port: int, p: dict) -> tuple[str, str]:
            state = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            proc, key = _box(ns, p, state, port)
            stack.callback(lambda: (proc.terminate(), proc.wait(30)))
            return f"127.0.0.1:{port}", key

        one = box(PORT, plan)
        halves = []
        if any(p in ("two-boxes", "half-box") for p in paths):
            half = dict(plan, wrap=plan["wrap"].replace(f"_{args.gen_ms}ms", f"_{2 * args.gen_ms}ms")) if plan["wrap"] else plan
            halves = [box(PORT + 1, half), box(PORT + 2, half)]
        for path in paths:
            use = {"two-boxes": halves, "half-box": halves[:1]}.get(path, [one])
            if path in LOSS:
                net.loss(LOSS[path])
                # JPEG, as a box on another machine sends (both namespaces are this machine: "auto" gives raw)
                row = _worker(net.show, path, size, plan, args, [f"{net.box_addr}:{PORT}"], [one[1]], "jpeg")
            else:
                row = _worker(ns, path, size, plan, args, [b for b, _ in use], [k for _, k in use],
                              "jpeg" if path == "loopback-jpeg" else "auto")
            rows.append(_against(row, local))
    return rows


def run(args) -> list[dict]:
    from vj.show.setfile import parse_size

    rows = []
    for size_text in args.sizes.split(","):
        w, h = parse_size(size_text, "--sizes")
        size = f"{w}x{h}"
        plan = {"model": args.model or "seedling", "device": args.device if args.model else "cpu",
                "wrap": None if args.model else f"vj.bench.standin:paced_{size}_{args.gen_ms}ms"}
        local = _worker(None, "local", size, plan, args)
        rows.append(local)
        rows += _paths(args, size, plan, local)
    return rows


def _against(row: dict, local: dict) -> dict:
    """The added latency and the fps kept, against the local process at the same size."""
    for q in ("p50", "p95"):
        a, b = row[f"latency_ms_{q}"], local[f"latency_ms_{q}"]
        row[f"added_latency_ms_{q}"] = None if a is None or b is None else round(a - b, 1)
    row["fps_kept"] = round(row["gen_fps"] / local["gen_fps"], 3) if local["gen_fps"] else None
    return row


def main(args) -> int:
    if args.worker:
        from vj.show.setfile import parse_size

        boxes = args.box.split(",") if args.box else []
        row = measure(args.worker, parse_size(args.sizes, "--sizes"), args.model or "seedling", args.device,
                      args.wrap, args, boxes, args.key.split(",") if args.key else [], args.codec)
        print(json.dumps(row), flush=True)
        return 0
    t0 = time.monotonic()
    rows = run(args)
    for row in rows:
        row.setdefault("added_latency_ms_p50", 0.0)
        row.setdefault("added_latency_ms_p95", 0.0)
        row.setdefault("fps_kept", 1.0)
        if args.json:
            print(json.dumps(row), flush=True)
    if not args.json:
        _table(rows)
    print(f"# {len(rows)} paths in {time.monotonic() - t0:.0f} s on {platform.machine()}, "
          f"{platform.processor() or 'cpu'}, python {platform.python_version()}; stand-in frames paced at "
          f"{args.gen_ms} ms", file=sys.stderr if args.json else sys.stdout)
    return 0


def _table(rows: list[dict]) -> None:
    cols = ("size", "path", "latency_ms_p50", "latency_ms_p95", "added_latency_ms_p50", "added_latency_ms_p95",
            "gen_fps", "fps_kept", "stalls", "longest_gap_ms", "bytes_per_frame", "decode_ms_per_frame",
            "round_trip_ms")
    print("  ".join(c for c in cols))
    for r in rows:
        print("  ".join(str(r.get(c, "")) for c in cols))
