"""The seedling's control branch (`seedling-edges`): a small ControlNet for the built-in model,
trained here on the procedural pictures with their canny edges as the condition.

It is a diffusers `ControlNetModel` made from the seedling's own UNet (its encoder half copied, as
ControlNet's training starts; a plain middle block, since the seedling's UNet has none; a map
encoder that halves the map as often as the picture space folds pixels: 4x4 -> two halvings), so
it loads through `ControlNetModel.from_pretrained` and plays in the streaming loop exactly as a
downloaded ControlNet does ([[control]] model = "seedling-edges", preprocessor = "canny").

Training (`vj train --control edges`): the seedling's UNet frozen, the branch learns to predict
the clean picture together with it from its noised version, the caption and the picture's canny
map. So that it follows the map rather than each shape's canonical layout, every picture is moved
before its map is taken: turned, scaled, shifted, mirrored, and half of them are two layouts of
the same caption cut along a third shape's silhouette. A tenth of the maps are blank (no edges:
paint freely). Same objective and timesteps as the seedling's own training (train.py).

The second season reads a frame and its unsaid choices from its own noise (model._Framed), and a
branch trained against that, 700 steps, did not overrule it: its pictures kept the noise's
composition, not the map's (BENCHMARKS.md). So a branch for a framed season is trained on the
straight frame (`straight = 1`: the season-1 way of telling the UNet where it paints, the noise's
choices left untold) and says so in its folder (seedling.json, "frame": "straight"); in a show
the loop straightens the UNet's frame by as much as the branch's scale (generate/loop.py). With
the MSE alone it still washed out; the contrast term beside it (train.contrast_gap) and 3000
steps made it follow (0.51 from noise, BENCHMARKS.md).
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

from vj.maps.preprocess import canny
from vj.seedling import grammar, layout, model, paint

BRANCH = "edges"  # the folder in weights/ and the name after seedling-


@dataclass(frozen=True)
class ControlTrainConfig:
    steps: int = 3000  # the shipped run (BENCHMARKS.md says how long it took; the first season's branch: 700)
    batch: int = 8
    lr: float = 1e-3  # at 3e-4, 200 steps moved nothing; one batch learnt at 1e-3 in 30 steps
    warmup: int = 50
    ema: float = 0.995
    captions: int = 600
    seed: int = 20261206
    blank: float = 0.1  # share of maps left blank
    base: str = "final"  # the seedling checkpoint it is trained against
    trailing: float = 0.75  # share of timesteps drawn from those 1-4 step sampling visits (the rest uniform)
    contrast: float = 2.0  # weight of train.contrast_gap beside the MSE (the first season's branch: 0, the MSE alone)


def new_branch(unet, patch: int) -> "torch.nn.Module":
    """A ControlNetModel shaped by the seedling UNet `unet` (its picture space folding patch x patch
    pixels), its encoder's weights copied."""
    from diffusers import ControlNetModel

    c = unet.config
    halvings = int(round(math.log2(patch)))
    net = ControlNetModel(in_channels=c.in_channels, down_block_types=c.down_block_types,
                          block_out_channels=c.block_out_channels, layers_per_block=c.layers_per_block,
                          cross_attention_dim=c.cross_attention_dim, attention_head_dim=c.attention_head_dim,
                          norm_num_groups=c.norm_num_groups, mid_block_type="UNetMidBlock2D",
                          conditioning_channels=1,
                          conditioning_embedding_out_channels=tuple(16 * 2 ** k for k in range(halvings + 1)))
    conv_in = unet.conv_in.conv if hasattr(unet.conv_in, "conv") else unet.conv_in  # the seedling's is _Placed
    net.conv_in.load_state_dict(conv_in.state_dict())
    net.time_proj.load_state_dict(unet.time_proj.state_dict())
    net.time_embedding.load_state_dict(unet.time_embedding.state_dict())
    net.down_blocks.load_state_dict(unet.down_blocks.state_dict())
    return net


# -- the training pictures ---------------------------------------------------------------------------
def _moved(img: np.ndarray, rng: random.Random) -> np.ndarray:
    """The picture turned, scaled, shifted and perhaps mirrored (edges reflected in)."""
    import cv2

    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-180, 180), rng.uniform(0.6, 1.6))
    m[:, 2] += (rng.uniform(-0.3, 0.3) * w, rng.uniform(-0.3, 0.3) * h)
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out[:, ::-1] if rng.random() < 0.5 else out


def _layouts(n: int, size: tuple[int, int], nrng: np.random.Generator) -> list:
    """Layouts read from noise of their own (layout.py), not from the noise the picture is then
    diffused from: the UNet alone reads its layout from its noise, the branch must bring the map's."""
    w, h = size
    gen = torch.Generator().manual_seed(int(nrng.integers(2 ** 31)))
    z = torch.randn(n, 3 * model.PATCH ** 2, h // model.PATCH, w // model.PATCH, generator=gen)
    return layout.read(z, size)


def picture_and_map(scene: grammar.Scene, size: tuple[int, int], rng: random.Random, nrng: np.random.Generator,
                    blank: float) -> tuple[np.ndarray, np.ndarray]:
    """A training picture (h, w, 3) float 0..1 and its canny map (h, w) uint8, as the show makes it."""
    w, h = size
    first, second, third = _layouts(3, size, nrng)
    img = _moved(paint.paint(scene, first, w, h), rng)
    if rng.random() < 0.5:  # two layouts of one caption, cut along a third shape's outline
        other = _moved(paint.paint(scene, second, w, h), rng)
        cut = grammar.Scene(shape=rng.choice(["circle", "squares", "triangles", "dots"]))
        mask = paint.shape_mask(cut, paint.frame_of(cut, third, w, h))
        mask = _moved(mask[..., None].repeat(3, 2), rng)[..., :1]
        img = img * (1 - mask) + other * mask
    px = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    edges = canny(px) if rng.random() >= blank else np.zeros((h, w), np.uint8)
    return px.astype(np.float32) / 255.0, edges


def batch(scenes, size, rng, nrng, blank: float) -> tuple[torch.Tensor, torch.Tensor]:
    pics, maps = zip(*(picture_and_map(s, size, rng, nrng, blank) for s in scenes))
    x = torch.from_numpy(np.stack(pics)).permute(0, 3, 1, 2)
    m = torch.from_numpy(np.stack(maps)).unsqueeze(1).float() / 255.0
    return x, m


# -- training ------------------------------------------------------------------------------------------
def save(net, out: Path, straight: bool = False) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    copy.deepcopy(net).to(torch.float16).save_pretrained(out, safe_serialization=True)
    about = out / model.BRANCH_FILE
    if straight:
        about.write_text(json.dumps({"frame": "straight"}) + "\n")
    elif about.exists():
        about.unlink()
    return out


def train(cfg: ControlTrainConfig, out: Path, progress=print) -> Path:
    """Train the branch against the seedling checkpoint cfg.base; writes out/ (a ControlNet folder
    with its loss log, loss.jsonl)."""
    from diffusers import DDPMScheduler

    from vj.seedling.train import TRAILING, TRAILING_WEIGHTS, contrast_gap, encode_pool, learn

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed)
    rng, nrng = random.Random(cfg.seed), np.random.default_rng(cfg.seed)
    pipe = model.load(cfg.base).to(device)
    unet = pipe.unet.eval().requires_grad_(False)
    straight = hasattr(unet.conv_in, "straight")  # a framed season: the branch brings the structure on a straight frame
    if straight:
        unet.conv_in.straight = 1.0
    space = pipe.vae  # the seedling's PixelSpace: its patch says how often the map is halved
    net = new_branch(unet, int(space.config.patch)).to(device).train()
    ema = copy.deepcopy(net).eval().requires_grad_(False)
    progress(f"train: seedling-{BRANCH} branch {sum(p.numel() for p in net.parameters()) / 1e6:.2f} M parameters "
             f"on {device}, against seedling@{cfg.base}")
    scenes = grammar.caption_pool(cfg.captions, cfg.seed)
    embeds = encode_pool(pipe, [s.caption() for s in scenes], device)
    ab = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012).alphas_cumprod.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=0.01)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "loss.jsonl"
    log_path.write_text(json.dumps({"config": asdict(cfg), "device": str(device),
                                    "torch_threads": torch.get_num_threads()}) + "\n")
    w, h = model.NATIVE_SIZE  # the seedling's own frame, and a square (as it was trained)
    sizes = [(w, h), (h, h)]
    t0, running = time.perf_counter(), None
    for step in range(1, cfg.steps + 1):
        idx = [rng.randrange(len(scenes)) for _ in range(cfg.batch)]
        x, cmap = batch([scenes[i] for i in idx], sizes[step % len(sizes)], rng, nrng, cfg.blank)
        z0 = space.encode(x.to(device) * 2 - 1)[0].mode()
        cond = embeds[idx].to(device, torch.float32)
        t = torch.where(torch.rand(cfg.batch) >= cfg.trailing, torch.randint(0, 1000, (cfg.batch,)),
                        torch.tensor(rng.choices(TRAILING, TRAILING_WEIGHTS, k=cfg.batch))).to(device)
        a = torch.where(t == 999, torch.zeros_like(ab[t]), ab[t]).view(-1, 1, 1, 1)  # as train.py: 999 is pure noise
        noisy = a.sqrt() * z0 + (1 - a).sqrt() * torch.randn_like(z0)
        down, mid = net(noisy, t, encoder_hidden_states=cond, controlnet_cond=cmap.to(device), return_dict=False)
        pred = unet(noisy, t, encoder_hidden_states=cond, down_block_additional_residuals=down,
                    mid_block_additional_residual=mid, return_dict=False)[0]
        loss = torch.nn.functional.mse_loss(pred, z0)
        if cfg.contrast:
            loss = loss + cfg.contrast * contrast_gap(pred, z0, int(space.config.patch)).mean()
        lr = learn(opt, loss, net, ema, cfg, step)
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 25 == 0 or step == 1:
            with open(log_path, "a") as f:
                f.write(json.dumps({"step": step, "loss": loss.item(), "smooth": running, "lr": lr,
                                    "s": round(time.perf_counter() - t0, 1)}) + "\n")
        if step % 100 == 0:
            save(ema, out, straight)  # a run stopped early still leaves a usable branch
            el = time.perf_counter() - t0
            progress(f"train: step {step}/{cfg.steps}  loss {running:.4f}  {el / step:.2f} s/step  "
                     f"{el / step * (cfg.steps - step) / 60:.0f} min left")
    save(ema, out, straight)
    progress(f"train: seedling-{BRANCH} done in {(time.perf_counter() - t0) / 60:.1f} min -> {out}")
    return out
