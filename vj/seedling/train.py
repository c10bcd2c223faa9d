"""`vj train`: trains the seedling from nothing, on pictures painted on the fly (paint.py) and named
by the grammar (grammar.py). The same command and seed reproduce the shipped weights; it uses a
GPU when there is one (CUDA's kernels differ, so there the result is close, not bitwise equal).

Data: a pool of captions (every allowed colour-shape pair said plainly, plus random mixtures of the
other words), encoded once by the pipeline's own `encode_prompt`; each step paints a fresh picture
for each caption it draws, so no picture is seen twice.
Objective: the clean picture from its noised version (x0 prediction, DDPM noise schedule), half the
timesteps uniform, half on the trailing timesteps that 1-4 step sampling visits (the first, from
pure noise, and the default second most often: TRAILING_WEIGHTS).
Out: three checkpoints of the EMA weights (early, middle, final) and a loss log (loss.jsonl).
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

from vj.seedling import grammar, model, paint

SIZES = [(112, 64), (64, 64)]  # each step paints at one of these (the UNet learns both aspects)
TRAILING = [999, 749, 666, 499, 332, 249]  # where 1, 2, 3 and 4 trailing steps evaluate the model
# how often each is drawn: the first step (999, from pure noise: where the picture's layout comes
# from) and the default second (499) most
TRAILING_WEIGHTS = [3, 1, 1, 2, 1, 1]


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 7000  # the shipped run: 57 min on the 2-core CI box (BENCHMARKS.md)
    batch: int = 32
    lr: float = 6e-4
    warmup: int = 300
    ema: float = 0.998
    captions: int = 4000
    seed: int = 20261201
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


def paint_batch(scenes, size, rng: random.Random, nrng: np.random.Generator) -> torch.Tensor:
    w, h = size
    imgs = [paint.paint(grammar.fill(s, rng), w, h, nrng) for s in scenes]
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2)  # (B, 3, H, W) in 0..1


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


def train(cfg: TrainConfig, out: Path, progress=print) -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed)
    rng, nrng = random.Random(cfg.seed), np.random.default_rng(cfg.seed)
    from diffusers import DDPMScheduler

    unet = model.new_unet().to(device)
    ema = copy.deepcopy(unet).eval().requires_grad_(False)
    pipe = model.pipeline(unet).to(device)
    progress(f"train: seedling UNet {sum(p.numel() for p in unet.parameters()) / 1e6:.2f} M parameters on {device}")

    scenes = grammar.caption_pool(cfg.captions, cfg.seed)
    t0 = time.perf_counter()
    embeds = encode_pool(pipe, [s.caption() for s in scenes], device)
    progress(f"train: {len(scenes)} captions encoded in {time.perf_counter() - t0:.0f} s")

    noise_sched = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    ab = noise_sched.alphas_cumprod.to(device)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, weight_decay=0.01)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "loss.jsonl"
    log.write_text("")
    _log(log, {"config": asdict(cfg), "device": str(device), "torch_threads": torch.get_num_threads()})
    marks = {round(cfg.steps * cfg.early): "early", round(cfg.steps * cfg.middle): "middle", cfg.steps: "final"}
    unet.train()
    t0 = time.perf_counter()
    running = None
    space = model.PixelSpace().to(device)
    for step in range(1, cfg.steps + 1):
        idx = [rng.randrange(len(scenes)) for _ in range(cfg.batch)]
        x0 = paint_batch([scenes[i] for i in idx], SIZES[step % len(SIZES)], rng, nrng).to(device) * 2 - 1
        z0 = space.encode(x0)[0].mode()
        cond = embeds[idx].to(device, torch.float32)
        uniform = torch.randint(0, 1000, (cfg.batch,), generator=None)
        trailing = torch.tensor(rng.choices(TRAILING, TRAILING_WEIGHTS, k=cfg.batch))
        t = torch.where(torch.rand(cfg.batch) < 0.5, uniform, trailing).to(device)
        # At t = 999 the loop starts from pure noise; trained on SD's schedule (0.07 of the picture still
        # there) the model read pictures into that noise and painted noise textures. So t = 999 is
        # pure noise here too: from nothing it predicts what the caption means on average.
        a = torch.where(t == 999, torch.zeros_like(ab[t]), ab[t]).view(-1, 1, 1, 1)
        noisy = a.sqrt() * z0 + (1 - a).sqrt() * torch.randn_like(z0)
        pred = unet(noisy, t, encoder_hidden_states=cond, return_dict=False)[0]
        loss = torch.nn.functional.mse_loss(pred, z0)
        lr = learn(opt, loss, unet, ema, cfg, step)
        value = loss.item()
        running = value if running is None else 0.98 * running + 0.02 * value
        if step % 25 == 0 or step == 1:
            _log(log, {"step": step, "loss": value, "smooth": running, "lr": lr,
                       "s": round(time.perf_counter() - t0, 1)})
        if step % 200 == 0:
            el = time.perf_counter() - t0
            progress(f"train: step {step}/{cfg.steps}  loss {running:.4f}  {el / step:.2f} s/step  "
                     f"{el / step * (cfg.steps - step) / 60:.0f} min left")
        if step in marks:
            folder = model.save(ema, marks[step], out)
            _log(log, {"checkpoint": marks[step], "step": step, "s": round(time.perf_counter() - t0, 1)})
            progress(f"train: checkpoint {marks[step]} (step {step}) -> {folder}")
    progress(f"train: done in {(time.perf_counter() - t0) / 60:.1f} min")
