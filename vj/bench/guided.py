"""`vj bench guided`: guided generation measured (issue 27).

    cost      the preprocessors' cost per frame (canny, softedge, lines) at three sizes, and a control's
              cost in the loop: ms per frame with the control at scale 1 against scale 0 (not run),
              its map kept (a still picture), the preprocessor off the generator's thread
    latency   camera to twin: a video file read live (ffmpeg paced at its rate, standing in for a
              camera) -> the generator in its own process (image-to-image + the control) -> the
              compositor -> an output; for each new generated frame, the time from its camera frame's
              arrival to the first output frame that shows it (p50, p95)
    follow    does the output's structure follow the input's? For pictures the seedling never saw
              (ffmpeg's test card, letters, polygons, a house) and prompts it was not trained on:
              the correlation of the output's edges (softedge) with the input's canny edges (both
              blurred by 1.5 px), with the control on, off (scale 0), and on a shuffled input's map; and a
              contact sheet (input | its map | the twin without control | with it) with --sheet

--control random: a ControlNet with random weights made from the model's UNet (diffusers' from_unet),
for timing real architectures where no weights are at hand (random:sd-turbo on a GPU).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

import numpy as np

FOLLOW_PROMPTS = ("purple checker", "yellow spiral", "cyan triangles", "orange grid", "pink waves",
                  "green rings", "crimson velvet", "emerald glass", "a thunderstorm at night")  # none trained on


def _pct(xs: list[float], q: float) -> float | None:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 2) if xs else None


def test_pictures(w: int, h: int) -> list[tuple[str, np.ndarray]]:
    """Structures the seedling's painter never makes: a test card, letters, polygons, a house."""
    import cv2
    import subprocess

    raw = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={w}x{h}:rate=1", "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    card = np.frombuffer(raw, np.uint8).reshape(h, w, 3).copy()
    letters = np.full((h, w, 3), 40, np.uint8)
    cv2.putText(letters, "VJ", (w // 8, int(h * 0.8)), cv2.FONT_HERSHEY_SIMPLEX, h / 28, (230, 230, 230), max(2, h // 16))
    rng = np.random.default_rng(5)
    poly = np.full((h, w, 3), 20, np.uint8)
    for _ in range(3):
        pts = (rng.random((5, 2)) * (w, h)).astype(np.int32)
        cv2.fillPoly(poly, [pts], tuple(int(c) for c in rng.integers(80, 255, 3)))
    house = np.full((h, w, 3), (70, 110, 160), np.uint8)
    cv2.rectangle(house, (w // 3, h // 2), (2 * w // 3, h - 4), (200, 180, 150), -1)
    cv2.fillPoly(house, [np.array([(w // 3 - 6, h // 2), (w // 2, h // 6), (2 * w // 3 + 6, h // 2)], np.int32)],
                 (150, 40, 30))
    return [("test card", card), ("letters", letters), ("polygons", poly), ("house", house)]


def load(model: str, control: str, size: tuple[int, int], steps: int, device: str = "auto"):
    """A model with one control ('edges', canny of the input) and its loop."""
    import torch

    from vj.core.spec import ControlSpec
    from vj.generate import device as torch_device
    from vj.generate import registry
    from vj.generate.loop import StreamLoop

    dev, dtype = torch_device.pick(device)
    spec = registry.resolve(model)
    if control == "random":
        with tempfile.TemporaryDirectory() as d:
            from diffusers import ControlNetModel

            base = registry.load(spec, dev, dtype)
            ControlNetModel.from_unet(base.unet).save_pretrained(d)
            m = registry.load(spec, dev, dtype, controls=[ControlSpec("edges", d, "canny", "input")])
    else:
        m = registry.load(spec, dev, dtype, controls=[ControlSpec("edges", control, "canny", "input")])
    if not m.controls:
        raise SystemExit(f"vj bench guided: the control {control} did not load (see the line above)")
    return m, StreamLoop(m, size, steps, seed=1, input="feedback")  # twin() hands the pictures in itself


def _snap(loop, prompt: str, scale: float, seed: int = 1):
    from vj.core.snapshot import Snapshot

    return Snapshot(0, 0.0, MappingProxyType({"control.edges.scale": scale, "prompt.fade": 0.0, "input.similarity": 1.0}),
                    (prompt,), seed)


def twin(loop, picture: np.ndarray, cmap: np.ndarray | None, prompt: str, strength: float, seed: int = 1):
    """One frame of the loop from `picture` (image-to-image at `strength`; 1: from noise alone),
    guided by `cmap` (None: control off), as the loop makes it."""
    import torch

    from vj.generate import inputs
    from vj.generate.guided import FrameGuide

    c = loop.model.controls[0]
    s = _snap(loop, prompt, 1.0, seed)
    with torch.inference_mode():
        fg = None
        if cmap is not None:
            key = hash(cmap.tobytes())  # the map's own version: the same map, the same tensor
            fg = FrameGuide([(c, c.tensor(key, cmap, loop.device, loop.dtype), 1.0)], None, loop.steps)
        start = None
        if strength < 1.0:
            start = loop.encode_image(inputs.to_tensor(picture, loop.device))
        x0 = loop.denoise(loop.latents(s), loop.conditioning(s), start, strength, None, fg)
        img = loop.decode(x0)
    return (img[0] * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


EDGE_BLUR = 1.5 / 64  # the blur, a share of the picture's height: 1.5 px at the first season's 64 rows


def edge_agreement(out: np.ndarray, cmap: np.ndarray, blur: float = EDGE_BLUR) -> float:
    """Pearson correlation of the output's edges (graded: the softedge map, since a one-step model's
    edges are soft and canny's thresholds would call a soft edge none) with the input's canny map,
    both blurred by `blur` times the picture's height (1.5 px at 64 rows, 3 at 128: an edge drawn a
    pixel off counts the same at any size). 0: unrelated (a flat output is 0), 1: the same edges."""
    import cv2

    from vj.maps.preprocess import softedge

    sigma = blur * out.shape[0]
    a = cv2.GaussianBlur(softedge(out).astype(np.float32), (0, 0), sigma).ravel()
    b = cv2.GaussianBlur(cmap.astype(np.float32), (0, 0), sigma).ravel()
    if a.std() < 1e-6 or b.std() < 1e-6:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def follow(loop, strengths=(1.0, 0.7), prompts=FOLLOW_PROMPTS, seeds=(1, 2)) -> dict:
    """Edge agreement with the control on, off and on a shuffled input's map, per strength."""
    from vj.maps.preprocess import canny

    w, h = loop.size
    pics = test_pictures(w, h)
    maps = [canny(p) for _, p in pics]
    out: dict = {"pictures": [n for n, _ in pics], "prompts": list(prompts), "seeds": list(seeds)}
    for strength in strengths:
        rows = {"on": [], "off": [], "shuffled": []}
        for i, (_, pic) in enumerate(pics):
            other = maps[(i + 1) % len(maps)]
            for prompt in prompts:
                for seed in seeds:
                    rows["on"].append(edge_agreement(twin(loop, pic, maps[i], prompt, strength, seed), maps[i]))
                    rows["off"].append(edge_agreement(twin(loop, pic, None, prompt, strength, seed), maps[i]))
                    rows["shuffled"].append(edge_agreement(twin(loop, pic, other, prompt, strength, seed), maps[i]))
        on, off, sh = (np.array(rows[k]) for k in ("on", "off", "shuffled"))
        out[f"strength {strength:g}"] = {
            **{k: {"mean": round(float(v.mean()), 3), "sd": round(float(v.std()), 3)} for k, v in
               (("on", on), ("off", off), ("shuffled", sh))},
            "cases": len(on), "on_beats_off": round(float((on > off).mean()), 3),
            "on_beats_shuffled": round(float((on > sh).mean()), 3)}
    return out


def sheet(loop, path: Path, prompts=("emerald glass", "a thunderstorm at night"), strength: float = 1.0) -> Path:
    """Rows: the test pictures; columns: the input, its canny map, the twin without control and with
    it, for each prompt. Pixels doubled (nearest) so the 112x64 pictures can be seen."""
    from PIL import Image

    from vj.maps.preprocess import as_rgb, canny

    w, h = loop.size
    rows = []
    for _, pic in test_pictures(w, h):
        m = canny(pic)
        cells = [pic, as_rgb(m)]
        for p in prompts:
            cells += [twin(loop, pic, None, p, strength), twin(loop, pic, m, p, strength)]
        rows.append(np.concatenate([np.pad(c, ((2, 2), (2, 2), (0, 0)), constant_values=255) for c in cells], 1))
    grid = np.concatenate(rows, 0)
    img = Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def _depth_cost(device: str, repeats: int = 6) -> dict:
    """The depth preprocessor at three sizes: Depth Anything V2 Small's architecture (DINOv2-S and
    its DPT head, 25 M parameters) with random weights, saved and loaded through the real code (no
    hub here: the weights are not what is timed)."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    from vj.maps.depth import DepthMap

    cfg = DepthAnythingConfig(backbone_config=Dinov2Config(image_size=518, hidden_size=384, num_attention_heads=6,
                                                           out_indices=[3, 6, 9, 12], reshape_hidden_states=False))
    out = {}
    with tempfile.TemporaryDirectory() as d:
        DepthAnythingForDepthEstimation(cfg).save_pretrained(d)
        depth = DepthMap(d, device)
        for w, h in ((112, 64), (512, 288), (1280, 720)):
            pic = test_pictures(w, h)[3][1]
            depth(pic)  # warm-up
            out[f"depth {w}x{h}"] = _timed(depth, pic, repeats)
    return out


def _timed(fn, pic: np.ndarray, repeats: int) -> dict:
    """fn(pic), `repeats` times: p50 and p95 in ms."""
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(pic)
        ts.append((time.perf_counter() - t0) * 1e3)
    return {"p50": _pct(ts, 0.5), "p95": _pct(ts, 0.95)}


def cost(loop, frames: int = 20) -> dict:
    """Preprocessors per frame at three sizes; the control's cost in the loop (ms per frame)."""
    from vj.maps.preprocess import PREPROCESSORS

    out: dict = {"preprocessors_ms": {}}
    for w, h in ((112, 64), (512, 288), (1280, 720)):
        pic = test_pictures(w, h)[0][1]
        for name in ("canny", "softedge", "lines"):
            out["preprocessors_ms"][f"{name} {w}x{h}"] = _timed(PREPROCESSORS[name], pic, 60)
    out["preprocessors_ms"].update(_depth_cost(str(loop.device)))
    w, h = loop.size
    pic = test_pictures(w, h)[3][1]
    from vj.maps.preprocess import canny

    m = canny(pic)
    for label, cmap in (("control off", None), ("control on", m), ("control off", None), ("control on", m)):
        twin(loop, pic, cmap, "emerald glass", 1.0)  # warm-up, then timed (twice each, interleaved: fair under load)
        ts = []
        for _ in range(frames // 2):
            t0 = time.perf_counter()
            twin(loop, pic, cmap, "emerald glass", 1.0)
            ts.append((time.perf_counter() - t0) * 1e3)
        out.setdefault(f"{label} ms", []).extend(ts)
    for k in ("control off ms", "control on ms"):
        ts = out[k]
        out[k] = {"p50": _pct(ts, 0.5), "p95": _pct(ts, 0.95)}
    return out


LATENCY_SET = """
[show]
name = "twin-bench"
size = [{ow}, {oh}]
fps = {fps}
[generator]
model = "{model}"
steps = {steps}
size = [{w}, {h}]
input = "{video}"
[[prompt]]
text = "emerald glass"
[[control]]
name = "edges"
model = "{control}"
preprocessor = "canny"
source = "input"
[[layer]]
source = "control"
fit = "contain"
[[layer]]
source = "generator"
fit = "contain"
[params]
"strength" = 0.8
"layer.1.x" = -0.25
"layer.2.x" = 0.25
"""


def latency(model: str, control: str, size: tuple[int, int], steps: int, seconds: float, fps: float,
            threads: int | None) -> dict:
    """Camera to twin through the live path (see the module's docstring)."""
    import subprocess

    from vj import assemble
    from vj.clock import FramePacer, RealClock
    from vj.generate.process import ProcessGenerator
    from vj.output.base import Output
    from vj.render.context import open_headless
    from vj.show.setfile import load_set

    class Timed(ProcessGenerator):  # notes when each new frame's camera frame arrived
        pending = 0.0

        def latest(self):
            f = super().latest()
            if f is not None and f.t_input:
                self.pending = f.t_input
            return f

    class Photon(Output):  # reads each output frame back, as a recorder or a projector's driver would
        name = "photon"

        def __init__(self) -> None:
            self.ms: list[float] = []

        def present(self, frame) -> None:
            frame.rgba()
            if gen.pending:
                self.ms.append((time.monotonic() - gen.pending) * 1e3)
                gen.pending = 0.0

        def close(self) -> None:
            pass

    w, h = size
    with tempfile.TemporaryDirectory() as d:
        video = Path(d) / "camera.mp4"  # a moving test card standing in for a camera
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={w * 2}x{h * 2}:rate=30",
                        "-t", "20", "-pix_fmt", "yuv420p", str(video)], check=True)
        path = Path(d) / "twin.toml"
        path.write_text(LATENCY_SET.format(ow=w * 4, oh=h * 2, fps=fps, model=model, steps=steps, w=w, h=h,
                                           video=video, control=control))
        show = load_set(path)
        surface = open_headless()
        gen = Timed(assemble.process_generator(show, 1, "auto", threads).cfg)
        gen.start(wait_ready=True)
        out, clock = Photon(), RealClock()
        engine = assemble.make_engine(assemble.build_controls(show, 1), assemble.make_compositor(surface.ctx, show, live=True),
                                      gen, clock=clock, audio=_silence(), outputs=[out])
        try:
            engine.run_live(seconds, FramePacer(fps, clock))
        finally:
            gen.stop()
    ms = out.ms[2:]  # the first frames wait for the model's first calls
    return {"model": model, "control": control, "steps": steps, "size": f"{w}x{h}", "fps": fps,
            "renderer": surface.renderer, "twins": len(ms), "p50_ms": _pct(ms, 0.5), "p95_ms": _pct(ms, 0.95),
            "generated_fps": round(len(out.ms) / seconds, 1)}


def _silence():
    from vj.audio.sources import SilentInput

    return SilentInput()


def main(args) -> int:
    from vj.show.setfile import parse_size

    from vj.generate import registry

    size = parse_size(args.size, "--size") if args.size else registry.resolve(args.model).native_size
    parts = ("cost", "follow", "latency") if args.part == "all" else (args.part,)
    result: dict = {}
    if "cost" in parts or "follow" in parts or args.sheet:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        _, loop = load(args.model, args.control, size, args.steps, args.device)
        if "cost" in parts:
            result["cost"] = cost(loop)
        if "follow" in parts:
            result["follow"] = follow(loop)
        if args.sheet:  # from noise alone (strength 1), and image-to-image as the camera set plays it (0.85)
            p = args.sheet.expanduser()
            result["sheets"] = [str(sheet(loop, p)), str(sheet(loop, p.with_name(p.stem + "-img2img" + p.suffix),
                                                               strength=0.85))]
        loop.close()
    if "latency" in parts:
        result["latency"] = latency(args.model, args.control, size, args.steps, args.seconds, args.fps, args.threads)
    print(json.dumps(result, indent=None if args.json else 1))
    return 0
