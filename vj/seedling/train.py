"""`vj train`: trains the seedling's second season on pictures painted on the fly (paint.py) and
named by the grammar (grammar.py), grown from the first season's shipped weights (TrainConfig.grow:
the first season was trained from nothing by this module's earlier version, its log in
weights/1/loss.jsonl). The same command and seed reproduce the shipped weights; it uses a GPU
when there is one (CUDA's kernels differ, so there the result is close, not bitwise equal).

Data: a pool of captions (every allowed colour-shape and colour-material pair said plainly, plus
random mixtures of the other words), encoded once by the pipeline's own `encode_prompt`; each step
draws a fresh starting noise for each caption it takes and paints the picture that noise makes
(layout.py reads the layout from the noise itself), so no picture is seen twice, and every
picture is a fixed, smooth function of its noise.
Objective: the clean picture from its noised version, noised with that same noise (x0
prediction, DDPM noise schedule): from pure noise (t = 999) one step learns noise -> its own
picture, not noise -> the average of the caption. The MSE alone still fades a picture it can
only partly place towards flat (contrast_gap, beside it, stops that). Timesteps half uniform, half on the trailing
timesteps that 1-4 step sampling visits (the first, from pure noise, and the default second most
often: TRAILING_WEIGHTS). A deterministic Euler step keeps the same noise (model.py's scheduler),
so the later steps see what they trained on too.
Out: three checkpoints of the EMA weights (early, middle, final) and a loss log (loss.jsonl); a
resume file (resume.pt) every RESUME_EVERY steps, so a stopped run goes on from there with
`vj train --resume` (and ends where an unbroken run would), removed when the run is done.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vj.seedling import grammar, layout, model, paint

SIZES = [(224, 128), (128, 128)]  # each step paints at one of these (the UNet learns both aspects)
TRAILING = [999, 749, 666, 499, 332, 249]  # where 1, 2, 3 and 4 trailing steps evaluate the model
# how often each is drawn: the first step (999, from pure noise: the whole picture comes from there
# at one step, the demo's) and the default second (499) most
TRAILING_WEIGHTS = [5, 1, 1, 2, 1, 1]
RESUME_EVERY = 100  # steps between resume files


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2400  # the shipped run (BENCHMARKS.md: its time on the 2-core box)
    batch: int = 32
    lr: float = 1e-4
    warmup: int = 50
    ema: float = 0.995
    contrast: float = 2.0  # weight of contrast_gap beside the MSE
    grow: bool = True  # start from the first season's final weights (grown_from_first_season), not from nothing
    captions: int = 5000
    seed: int = 20261206
    early: float = 0.05  # checkpoints at these shares of the run (final at the end)
    middle: float = 0.3


def _log(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def encode_pool(pipe, captions: list[str], device, batch: int = 128) -> torch.Tensor:
    """(N, 77, 384) fp16 token states of every caption, by the pipeline's own encode_prompt."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(captions), batch):
            e, _ = pipe.encode_prompt(captions[i:i + batch], device, 1, False)
            out.append(e.to(torch.float16).cpu())
    return torch.cat(out)


def noise_and_pictures(scenes, size, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Fresh starting noise for each scene (B, 3 * PATCH^2, H / PATCH, W / PATCH), and the pictures
    that noise makes (B, 3, H, W) in -1..1."""
    w, h = size
    z = torch.randn(len(scenes), 3 * model.PATCH ** 2, h // model.PATCH, w // model.PATCH, generator=gen)
    imgs = [paint.paint(s, lay, w, h) for s, lay in zip(scenes, layout.read(z, size))]
    return z, torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2) * 2 - 1


@dataclass
class _Run:
    """What a resume file holds besides the weights: where the run is."""

    step: int
    running: float | None
    rng: random.Random
    gen: torch.Generator


def _state(run: _Run, unet, ema, opt) -> dict:
    return {"step": run.step, "running": run.running, "rng": run.rng.getstate(), "gen": run.gen.get_state(),
            "torch": torch.get_rng_state(), "unet": unet.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict()}


def _restore(path: Path, run: _Run, unet, ema, opt) -> None:
    st = torch.load(path, weights_only=True)  # our own file, plain tensors and numbers only
    unet.load_state_dict(st["unet"])
    ema.load_state_dict(st["ema"])
    opt.load_state_dict(st["opt"])
    run.step, run.running = st["step"], st["running"]
    rng = st["rng"]
    run.rng.setstate((rng[0], tuple(rng[1]), rng[2]))
    run.gen.set_state(st["gen"])
    torch.set_rng_state(st["torch"])


def grown_from_first_season(unet, first) -> None:
    """Start a second-season UNet from the first season's weights (the same levels and widths):
    its 8x8 pixel blocks cover what the first's 4x4 blocks did at half the size, so the first
    convolution reads each 4x4 pixel as the mean of the 2x2 it became and the last writes it to
    all four (the first season's picture, nearest-upscaled); every other weight is copied; the
    frame projection is the first's, now told the noise's frame (model._Framed), and what else
    the noise says starts at zero. Step 0 paints as the first season did, in a frame of its seed."""
    src = first.state_dict()
    dst = unet.state_dict()
    p1, p2 = model.patch_of(first), model.patch_of(unet)
    k = p2 // p1

    def spread(w: torch.Tensor, dim: int, scale: float) -> torch.Tensor:
        # channels (rgb, p1, p1) -> (rgb, p2, p2), each sub-pixel repeated k x k times
        shape = list(w.shape)
        w = w.reshape(shape[:dim] + [3, p1, p1] + shape[dim + 1:])
        w = w.repeat_interleave(k, dim + 1).repeat_interleave(k, dim + 2)
        return w.reshape(shape[:dim] + [3 * p2 * p2] + shape[dim + 1:]) * scale

    out = {}
    for name, w in dst.items():
        if name.startswith("conv_in.noise."):
            out[name] = w  # zero, as _Framed starts it
        elif name == "conv_in.conv.weight":
            out[name] = spread(src[name], 1, 1.0 / (k * k))
        elif name in ("conv_out.weight", "conv_out.bias"):
            out[name] = spread(src[name], 0, 1.0)
        else:
            if src[name].shape != w.shape:
                raise ValueError(f"grow: {name} is {tuple(src[name].shape)} in the first season, {tuple(w.shape)} here")
            out[name] = src[name]
    unet.load_state_dict(out)


def contrast_gap(pred: torch.Tensor, z0: torch.Tensor, patch: int) -> torch.Tensor:
    """How much less (or more) contrast the prediction has than its picture: per row, the squared
    difference of their standard deviations over the frame, per colour, at the pixels and at a 4x
    coarser scale (where things go). Why: from pure noise the MSE alone pays a picture that is
    partly right less than a flat one (measured: a season grown from the first, told its frame,
    faded to flat within 80 steps); the gap makes a flat answer cost what it is, so the structure
    it can place keeps its contrast."""
    a, b = F.pixel_shuffle(pred, patch), F.pixel_shuffle(z0, patch)
    gap = (a.std((2, 3)) - b.std((2, 3))) ** 2
    a4, b4 = F.avg_pool2d(a, 4), F.avg_pool2d(b, 4)
    return (gap + (a4.std((2, 3)) - b4.std((2, 3))) ** 2).mean(1)


def _timesteps(cfg: TrainConfig, rng: random.Random, device) -> torch.Tensor:
    uniform = torch.randint(0, 1000, (cfg.batch,))
    trailing = torch.tensor(rng.choices(TRAILING, TRAILING_WEIGHTS, k=cfg.batch))
    return torch.where(torch.rand(cfg.batch) < 0.5, uniform, trailing).to(device)


def learn(opt, loss, net, ema, cfg, step: int) -> float:
    """One optimiser step on `net` (warm-up over cfg.warmup steps, then a cosine to cfg.steps;
    gradients clipped at 1), and its EMA `ema` moved after it (cfg.ema, slower at first); returns
    the learning rate used. The seedling's run and its control branch's (control.py) share it."""
    lr = cfg.lr * min(1.0, step / cfg.warmup) * (0.5 + 0.5 * math.cos(math.pi * step / cfg.steps)) + 1e-6
    for group in opt.param_groups:
        group["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    opt.step()
    with torch.no_grad():
        keep = min(cfg.ema, (1 + step) / (10 + step))
        for pe, p in zip(ema.parameters(), net.parameters()):
            pe.lerp_(p, 1 - keep)
    return lr


def train(cfg: TrainConfig, out: Path, progress=print, resume: bool = False, stop_after: int | None = None) -> None:
    """Train (or go on from out/resume.pt); stop_after: leave off after that step, as a killed run
    would after its last resume file (the tests stop a run half way so)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed)
    run = _Run(0, None, random.Random(cfg.seed), torch.Generator().manual_seed(cfg.seed))
    from diffusers import DDPMScheduler

    unet = model.new_unet()
    text = None
    if cfg.grow:
        first = model.load("final", model.WEIGHTS_ROOT / "1")
        grown_from_first_season(unet, first.unet)
        text = (first.tokenizer, first.text_encoder)
        progress("train: grown from the first season's final weights")
    unet = unet.to(device)
    ema = copy.deepcopy(unet).eval().requires_grad_(False)
    pipe = model.pipeline(unet, text).to(device)
    progress(f"train: seedling UNet {sum(p.numel() for p in unet.parameters()) / 1e6:.2f} M parameters on {device}")

    scenes = grammar.caption_pool(cfg.captions, cfg.seed)
    t0 = time.perf_counter()
    embeds = encode_pool(pipe, [s.caption() for s in scenes], device)
    progress(f"train: {len(scenes)} captions encoded in {time.perf_counter() - t0:.0f} s")

    ab = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012).alphas_cumprod.to(device)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, weight_decay=0.01)
    out.mkdir(parents=True, exist_ok=True)
    log, state = out / "loss.jsonl", out / "resume.pt"
    if resume and state.is_file():
        _restore(state, run, unet, ema, opt)
        progress(f"train: resuming at step {run.step} from {state}")
        _log(log, {"resumed": run.step})
    else:
        log.write_text("")
        _log(log, {"config": asdict(cfg), "device": str(device), "torch_threads": torch.get_num_threads()})
    marks = {round(cfg.steps * cfg.early): "early", round(cfg.steps * cfg.middle): "middle", cfg.steps: "final"}
    unet.train()
    t0, cpu0, first = time.perf_counter(), time.process_time(), run.step
    space = model.pixel_space(model.PATCH).to(device)
    while run.step < cfg.steps:
        run.step += 1
        step = run.step
        idx = [run.rng.randrange(len(scenes)) for _ in range(cfg.batch)]
        noise, x0 = noise_and_pictures([scenes[i] for i in idx], SIZES[step % len(SIZES)], run.gen)
        noise, z0 = noise.to(device), space.encode(x0.to(device))[0].mode()
        t = _timesteps(cfg, run.rng, device)
        # t = 999 is pure noise, as where the loop starts (SD's schedule leaves 0.07 of the picture there)
        a = torch.where(t == 999, torch.zeros_like(ab[t]), ab[t]).view(-1, 1, 1, 1)
        pred = unet(a.sqrt() * z0 + (1 - a).sqrt() * noise, t, encoder_hidden_states=embeds[idx].to(device, torch.float32),
                    return_dict=False)[0]
        per = ((pred - z0) ** 2).mean((1, 2, 3))
        loss = per.mean() + cfg.contrast * contrast_gap(pred, z0, model.PATCH).mean()
        lr = learn(opt, loss, unet, ema, cfg, step)
        value = loss.item()
        run.running = value if run.running is None else 0.98 * run.running + 0.02 * value
        if step % 25 == 0 or step == 1:
            first_step = per.detach()[t == 999]  # from pure noise: how well the noise -> picture map is learnt
            _log(log, {"step": step, "loss": value, "smooth": run.running, "lr": lr,
                       "loss_t999": float(first_step.mean()) if len(first_step) else None,
                       "s": round(time.perf_counter() - t0, 1), "cpu_s": round(time.process_time() - cpu0, 1)})
        if step % 100 == 0:
            el = (time.perf_counter() - t0) / (step - first)
            progress(f"train: step {step}/{cfg.steps}  loss {run.running:.4f}  {el:.2f} s/step  "
                     f"{el * (cfg.steps - step) / 60:.0f} min left")
        if step in marks:
            folder = model.save(ema, marks[step], out)
            _log(log, {"checkpoint": marks[step], "step": step, "s": round(time.perf_counter() - t0, 1),
                       "cpu_s": round(time.process_time() - cpu0, 1)})
            progress(f"train: checkpoint {marks[step]} (step {step}) -> {folder}")
        if (step % RESUME_EVERY == 0 or step == stop_after) and step < cfg.steps:
            torch.save(_state(run, unet, ema, opt), state.with_suffix(".tmp"))
            state.with_suffix(".tmp").replace(state)
        if step == stop_after:
            return
    state.unlink(missing_ok=True)
    progress(f"train: done in {(time.perf_counter() - t0) / 60:.1f} min ({(time.process_time() - cpu0) / 60:.1f} min of CPU)")
