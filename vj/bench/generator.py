"""`vj bench generator`: our streaming loop against a plain diffusers pipeline call, side by side
in one run, on the same model, size, steps, device, dtype and threads.

    ours    StreamLoop.frame(): cached prompt embeddings, precomputed timesteps and sigmas, the
            noise field, (with --tiny-vae, the default) TAESD decoding; snapshots move the noise
            walk and the prompt weights every frame, as a show does
    plain   pipe(prompt, num_inference_steps=steps, guidance_scale=0, height, width).images[0]:
            what a diffusers user writes (text encoding, scheduler set-up, the full VAE, a PIL image)

With --guidance G (> 1) both sides run classifier-free guidance at G against a negative prompt
(ours: gen.guidance, the unconditional rows in the same UNet call; plain: guidance_scale=G,
negative_prompt=...). --scheduler swaps the model's scheduler on both sides.

With --img2img both sides start each frame from an image at strength 0.5 and run `steps` UNet
steps on it: ours feeds its own last image back (encode, noise, denoise, decode: the work a camera
frame costs, without a camera); plain is AutoPipelineForImage2Image on the same components, given
the previous frame as a PIL image, with num_inference_steps = steps / strength (so that it too
runs `steps` steps).

For a GAN (dcgan-faces) plain is the network called on a fresh latent as its package's own
inference does, the image brought back to the host.

Both sides return a finished image per call, so per-call latency is per-frame latency.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from types import MappingProxyType

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def _stats(times_s: list[float]) -> dict:
    ms = sorted(t * 1e3 for t in times_s)
    return {"fps": round(len(ms) / (sum(ms) / 1e3), 3), "latency_p50_ms": round(statistics.median(ms), 1),
            "latency_max_ms": round(ms[-1], 1), "frames": len(ms)}


def run(model: str = "random:sd-turbo", size: str = "512x512", steps: int = 1, device: str = "auto",
        dtype: str = "auto", frames: int = 8, tiny_vae: bool = True, threads: int | None = None,
        img2img: bool = False, stream_batch: bool = False, deep_cache: int = 1, progress=lambda s: None,
        guidance: float = 0.0, scheduler: str | None = None) -> dict:
    import torch

    from vj.show.setfile import parse_size
    from vj.generate import device as torch_device
    from vj.generate import registry
    from vj.generate.families import make_loop
    from vj.core.snapshot import Snapshot

    w, h = parse_size(size, "--size")
    if not 1 <= deep_cache <= 8:
        from vj.core.errors import VJError

        raise VJError(f"--deep-cache {deep_cache}: 1 (off) to 8")
    spec = registry.resolve(model)
    tiny_vae = tiny_vae and not spec.builtin and spec.family != "gan"  # they paint in pixels: nothing to decode
    dev, dt = torch_device.pick(device)
    if dtype != "auto":
        dt = getattr(torch, DTYPES[dtype])
    torch.set_num_threads(threads or os.cpu_count() or 1)  # both sides alike: the whole machine
    t0 = time.perf_counter()
    m = registry.load(spec, dev, dt, progress, tiny_vae=tiny_vae, scheduler=scheduler)
    progress(f"model ready in {time.perf_counter() - t0:.1f} s")
    prompt = "a flooded cathedral of glass, cinematic light"
    second = "a burning cathedral of circuitry, macro photograph"
    strength = 0.5
    negative = "blurry, washed out, watermark"
    loop = make_loop(m, (w, h), steps, seed=1, input="feedback" if img2img else None, batch=stream_batch,
                     deep_cache=deep_cache, negative=negative)
    w, h = loop.size

    def snap(i: int) -> Snapshot:
        values = {"noise.phase": 0.01 * i, "noise.kick": 0.0, "prompt.1.weight": 1.0,
                  "prompt.2.weight": 0.5 + 0.25 * ((i % 8) / 8), "strength": strength, "input.zoom": 1.01,
                  "gen.guidance": guidance}
        return Snapshot(i, i / 30, MappingProxyType(values), (prompt, second), 1)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    progress("ours: warming up")
    for i in range(2):
        loop.frame(snap(i))
    ours = []
    for i in range(frames):
        s = snap(i + 2)
        t = time.perf_counter()
        loop.frame(s)  # returns host pixels: the work is done when it returns
        ours.append(time.perf_counter() - t)
    progress(f"ours: {len(ours) / sum(ours):.2f} fps; plain pipeline: warming up")

    if spec.family == "gan":
        def plain_call():
            m.net(torch.randn(1, 100, 1, 1, device=dev, dtype=dt))[0].float().add(1).mul(127.5).byte().cpu().numpy()
    elif img2img:
        pipe = m.pipe
        from diffusers import AutoPipelineForImage2Image

        i2i = AutoPipelineForImage2Image.from_pipe(pipe)
        i2i.set_progress_bar_config(disable=True)
        last = [i2i.image_processor.numpy_to_pil(loop.frame(snap(0))[None].astype("float32") / 255.0)[0]]

        def plain_call():
            last[0] = i2i(prompt, image=last[0], strength=strength, num_inference_steps=round(steps / strength),
                          guidance_scale=guidance, negative_prompt=negative if guidance > 1 else None).images[0]
    else:
        pipe = m.pipe

        def plain_call():
            pipe(prompt, num_inference_steps=steps, guidance_scale=guidance, height=h, width=w,
                 negative_prompt=negative if guidance > 1 else None).images[0]
    with torch.inference_mode():
        plain_call()
        plain = []
        for _ in range(frames):
            t = time.perf_counter()
            plain_call()
            sync()
            plain.append(time.perf_counter() - t)
    o, p = _stats(ours), _stats(plain)
    return {"model": model, "family": spec.family, "size": f"{w}x{h}", "steps": steps, "device": torch_device.describe_device(dev),
            "dtype": str(dt).replace("torch.", ""), "threads": torch.get_num_threads(), "tiny_vae": tiny_vae,
            "mode": "img2img" if img2img else "txt2img", "stream_batch": stream_batch,
            "deep_cache": deep_cache, "guidance": guidance, "scheduler": type(m.pipe.scheduler).__name__ if spec.family != "gan" else None,
            "ours_fps": o["fps"], "plain_fps": p["fps"], "ratio": round(o["fps"] / p["fps"], 2), "ours": o, "plain": p}


def main(args) -> int:
    from vj.log import log

    r = run(args.model, args.size, args.steps, args.device, args.dtype, args.frames, not args.full_vae, args.threads,
            args.img2img, args.stream_batch, args.deep_cache, progress=log.info, guidance=args.guidance,
            scheduler=args.scheduler)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"{r['mode']}: {r['model']} at {r['size']}, {r['steps']} step(s), {r['device']}, {r['dtype']}, {r['threads']} threads; "
          + ("one pass of the network, no decoder" if r["family"] == "gan" else
             f"ours decodes with {'TAESD' if r['tiny_vae'] else 'the full VAE'}")
          + (f", {r['scheduler']}" if r["scheduler"] else "")
          + (f", guidance {r['guidance']:g}" if r["guidance"] > 1 else "")
          + (", stream batch" if r["stream_batch"] else "")
          + (f", deep cache every {r['deep_cache']} frames" if r["deep_cache"] > 1 else ""))
    for side in ("ours", "plain"):
        s = r[side]
        print(f"{side:>5}: {s['fps']:.3f} fps, latency p50 {s['latency_p50_ms']} ms, max {s['latency_max_ms']} ms "
              f"({s['frames']} frames)")
    print(f"ratio: {r['ratio']}x")
    return 0
