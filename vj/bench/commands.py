"""`vj bench`: its verbs, their options and which module measures each (one place for benchmarks:
the parsers here, the measuring in the modules beside this one). Imported by the command line at
start, so nothing heavy here: each module is imported when its verb runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from vj.core.errors import VJError
from vj.core.spec import SCHEDULERS

# verb -> the module of vj/bench that measures it (its main(args))
MODULES = {"engine": "engine", "generator": "generator", "compositor": "compositor", "audio": "audio",
           "control": "control", "web": "web", "onset": "onset", "adherence": "seedling", "diversity": "seedling", "sheets": "seedling",
           "guided": "guided", "remote": "remote"}


def run(args) -> int:
    if args.what not in MODULES:
        raise VJError("vj bench: say what to measure: " + ", ".join(MODULES))
    import importlib

    return importlib.import_module(f"vj.bench.{MODULES[args.what]}").main(args)


def add(bench) -> None:
    bsub = bench.add_subparsers(dest="what", metavar="WHAT")
    eng = bsub.add_parser("engine", help="the whole live loop, headless: render fps, generator fps, latency")
    eng.add_argument("--model", default="tiny-random")
    eng.add_argument("--size", default="1280x720", metavar="WxH", help="program output size")
    eng.add_argument("--gen-size", metavar="WxH", help="generator size (default: the model's native size)")
    eng.add_argument("--seconds", type=float, default=10.0)
    eng.add_argument("--fps", type=float, default=60.0, help="pace the live render loop at N fps (a display's rate; 0: unpaced)")
    eng.add_argument("--device", default="auto")
    eng.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: half the cores on a CPU)")
    eng.add_argument("--generator", choices=("process", "thread"), default="process", help="as in `vj run`")
    eng.add_argument("--json", action="store_true", help="print one JSON object")
    gen = bsub.add_parser("generator", help="our loop against a plain diffusers pipeline call: fps, latency, ratio")
    gen.add_argument("--model", default="random:sd-turbo", help="a registry name, folder or hub id (default: "
                     "random:sd-turbo, the real architecture with random weights)")
    gen.add_argument("--size", default="512x512", metavar="WxH")
    gen.add_argument("--steps", type=int, default=1)
    gen.add_argument("--device", default="auto")
    gen.add_argument("--dtype", choices=("auto", "fp32", "fp16", "bf16"), default="auto",
                     help="both sides (auto: fp16 on a GPU, fp32 on a CPU)")
    gen.add_argument("--frames", type=int, default=8, help="timed frames on each side (after a warm-up)")
    gen.add_argument("--threads", type=int, metavar="N", help="torch CPU threads, both sides (default: all cores)")
    gen.add_argument("--full-vae", action="store_true", help="ours decodes with the full VAE instead of TAESD")
    gen.add_argument("--img2img", action="store_true", help="image-to-image at strength 0.5 on both sides (ours: feedback)")
    gen.add_argument("--deep-cache", type=int, default=1, metavar="N", help="ours reuses the UNet's deep features "
                     "for N-1 frames of N (default 1: off)")
    gen.add_argument("--stream-batch", action="store_true", help="ours runs the steps of consecutive frames in one "
                     "UNet call (for --steps 2..4)")
    gen.add_argument("--guidance", type=float, default=0.0, metavar="G", help="classifier-free guidance on both "
                     "sides (> 1: on, with a negative prompt; default 0: off, as turbo models want)")
    gen.add_argument("--scheduler", choices=tuple(SCHEDULERS), help="swap the model's scheduler (both sides)")
    gen.add_argument("--json", action="store_true", help="one JSON object: ours_fps, plain_fps, ratio, device, ...")
    cmp = bsub.add_parser("compositor", help="ms per composited frame: 4 layers, 3 effects, readback, headless")
    cmp.add_argument("--size", metavar="WxH", help="default: 1280x720, or the set's size with --set")
    cmp.add_argument("--frames", type=int, default=200)
    cmp.add_argument("--set", metavar="SET", help="measure this set's layers and effects (its [params] as set) "
                     "instead of the standard scene")
    cmp.add_argument("--json", action="store_true", help="one JSON object: ms_per_frame, size, renderer, ...")
    ctl = bsub.add_parser("control", help="OSC and MIDI to a parameter, with a render loop running: latency, bursts")
    ctl.add_argument("--rate", type=float, default=1000.0, help="OSC messages a second")
    ctl.add_argument("--seconds", type=float, default=5.0)
    ctl.add_argument("--burst", type=int, default=10000, help="messages in the burst test")
    ctl.add_argument("--size", default="1280x720", help="the render loop's output size")
    ctl.add_argument("--fps", type=float, default=60.0, help="the render loop's pace")
    ctl.add_argument("--midi", action="store_true", help="also MIDI through JACK (needs a running JACK server)")
    ctl.add_argument("--json", action="store_true")
    _bench_web(bsub)
    ons = bsub.add_parser("onset", help="onset to photon: an onset in the sound to the first output frame it "
                          "changed, through a route (p50, p95)")
    ons.add_argument("--model", default="seedling")
    ons.add_argument("--size", default="640x360", metavar="WxH")
    ons.add_argument("--fps", type=float, default=60.0, help="the display's rate (the loop is paced at it)")
    ons.add_argument("--seconds", type=float, default=60.0)
    ons.add_argument("--steps", type=int, default=2)
    ons.add_argument("--threads", type=int, metavar="N", help="the generator's torch threads")
    ons.add_argument("--json", action="store_true")
    adh = bsub.add_parser("adherence", help="the built-in model: do colours, shapes, blends and seeds do what "
                          "the words say (tables for BENCHMARKS.md)")
    adh.add_argument("--model", default="seedling", help="seedling or seedling@early|middle|final")
    adh.add_argument("--steps", type=int, default=2)
    adh.add_argument("--seeds", type=int, default=6, help="pictures per measurement")
    adh.add_argument("--json", action="store_true")
    div = bsub.add_parser("diversity", help="the built-in model: how much seeds differ and how the noise walk moves "
                          "the picture, checkpoints side by side (tables for BENCHMARKS.md)")
    div.add_argument("--models", default="seedling-1,seedling", help="checkpoints to compare, by comma")
    div.add_argument("--steps", type=int, default=1, help="the loop's steps (the demo's: 1)")
    div.add_argument("--seeds", type=int, default=8, metavar="N", help="seeds per prompt")
    div.add_argument("--json", action="store_true")
    sht = bsub.add_parser("sheets", help="the built-in model's contact sheets and loss curve, as PNGs")
    sht.add_argument("--out", type=Path, default=Path("docs"), metavar="DIR")
    sht.add_argument("--steps", type=int, default=1)
    _bench_guided(bsub)
    _bench_remote(bsub)
    aud = bsub.add_parser("audio", help="the audio analysis: microseconds per hop (median, p99)")
    aud.add_argument("--seconds", type=float, default=60.0, help="seconds of synthesised drums to analyse")
    aud.add_argument("--accuracy", action="store_true", help="also score onsets, BPM and beats on 352 synthesised tracks "
                     "of five genres and on drum & bass and breaks in families (56 tracks each, one family held out)")
    aud.add_argument("--families", action="store_true", help="score the drum & bass and breaks families only")
    aud.add_argument("--json", action="store_true")


def _bench_web(bsub) -> None:
    web = bsub.add_parser("web", help="the browser remote: page move -> snapshot, preview age, the render rate with "
                          "and without pages open")
    web.add_argument("--pages", type=int, default=3, help="pages open at once (each takes the preview)")
    web.add_argument("--rate", type=float, default=30.0, help="moves a second from one page (a fader dragged)")
    web.add_argument("--seconds", type=float, default=8.0, help="seconds of moves in each round")
    web.add_argument("--rounds", type=int, default=3, help="rounds of a stretch without pages and one with them")
    web.add_argument("--size", default="1280x720", help="the render loop's output size")
    web.add_argument("--fps", type=float, default=30.0, help="the render loop's pace")
    web.add_argument("--output", choices=("record", "display"), default="record", help="record: a recording reads "
                     "every frame back (the preview takes that picture); display: each frame is finished as a "
                     "display's swap does, nothing read back (the preview draws a small copy of its own)")
    web.add_argument("--json", action="store_true")


def _bench_guided(bsub) -> None:
    gui = bsub.add_parser("guided", help="ControlNets: preprocessors' cost, a control's cost in the loop, camera to "
                          "twin latency, and whether the output's edges follow the input's (vj/bench/guided.py)")
    gui.add_argument("part", nargs="?", choices=("cost", "follow", "latency", "all"), default="all")
    gui.add_argument("--model", default="seedling")
    gui.add_argument("--control", default="seedling-edges", help="a ControlNet folder or hub id, seedling-edges, or "
                     "random (random weights from the model's UNet: for timing real architectures)")
    gui.add_argument("--size", metavar="WxH", help="the generator's size (default: the model's own)")
    gui.add_argument("--steps", type=int, default=1)
    gui.add_argument("--device", default="auto")
    gui.add_argument("--threads", type=int, metavar="N")
    gui.add_argument("--seconds", type=float, default=20.0, help="latency: how long the live loop runs")
    gui.add_argument("--fps", type=float, default=60.0, help="latency: the render loop's pace")
    gui.add_argument("--sheet", type=Path, metavar="PNG", help="also draw the contact sheets (input | map | twin off | on; from noise, and "
                     "image-to-image at 0.85 beside it as NAME-img2img.png)")
    gui.add_argument("--json", action="store_true")


def _bench_remote(bsub) -> None:
    rem = bsub.add_parser("remote", help="the generator over the network (vj serve) beside the local process: added "
                          "latency, fps kept, stalls, bytes and decoding per frame; loopback and a 20 ms lossy link")
    rem.add_argument("--sizes", default="512x512,640x360", metavar="WxH[,WxH]", help="frame sizes (default 512x512 "
                     "and the demo's 640x360)")
    rem.add_argument("--paths", default="local,loopback,loopback-jpeg,half-box,two-boxes,20ms,20ms-0.5%,20ms-2%,"
                     "20ms-2%-one",
                     help="which paths (local is always measured: the others are against it)")
    rem.add_argument("--seconds", type=float, default=20.0, help="seconds measured per path (after the warm-up)")
    rem.add_argument("--warmup", type=float, default=3.0)
    rem.add_argument("--fps", type=float, default=30.0, help="the show's render rate")
    rem.add_argument("--gen-ms", type=int, default=40, help="the stand-in model's frame time (a GPU's pace), ms")
    rem.add_argument("--model", help="a real model instead of the stand-in (e.g. random:sd-turbo on a GPU)")
    rem.add_argument("--device", default="auto", help="with --model: its torch device")
    rem.add_argument("--json", action="store_true", help="one JSON line per path")
    for hidden in ("--worker", "--wrap", "--box", "--key"):
        rem.add_argument(hidden, help=argparse.SUPPRESS)
    rem.add_argument("--codec", default="auto", help=argparse.SUPPRESS)
