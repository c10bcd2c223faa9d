"""The streaming text-to-image loop.

Everything that does not change per frame is computed once in the constructor (StreamDiffusion's
`prepare()`): the scheduler's timesteps and sigmas, the input scales, the noise basis, the time
ids. A frame is then plain tensor algebra: blend cached prompt embeddings, take a point of the
noise field, run the UNet for each step (Euler, as the scheduler would), decode.

For the same latents and embeddings it computes what `StableDiffusionPipeline.__call__` /
`StableDiffusionXLPipeline.__call__` compute with guidance 0 (a test checks it).
"""

from __future__ import annotations

import numpy as np
import torch

from vj.errors import VJError
from vj.generate.noise import NoiseField
from vj.generate.prompts import Conditioning, PromptCache
from vj.generate.registry import LoadedModel
from vj.snapshot import Snapshot


class NonFiniteFrame(RuntimeError):
    """The model produced NaN or Inf: the frame is thrown away."""


def declare_params():
    """The generator's parameters (prompt weights are declared per prompt by the engine)."""
    from vj.control.params import ParamSpec

    return [
        ParamSpec("noise.walk", 0.0, 60.0, 0.0, "turns/min", 0.5, "speed of the walk around the noise circle"),
        ParamSpec("noise.kick", -1.0, 1.0, 0.0, "", 0.0, "push towards a third noise direction (audio routes here)"),
    ]


class StreamLoop:
    def __init__(self, model: LoadedModel, size: tuple[int, int], steps: int, seed: int) -> None:
        w, h = size
        multiple = model.vae_scale * 2 ** (len(model.unet.config.block_out_channels) - 1)
        if w % multiple or h % multiple:
            raise VJError(f"generator size {w}x{h}: {model.spec.name} needs multiples of {multiple} "
                          f"(e.g. {w // multiple * multiple or multiple}x{h // multiple * multiple or multiple})")
        if not 1 <= steps <= 50:
            raise VJError(f"steps = {steps}: use 1..4 for turbo models")
        self.model, self.size, self.steps = model, (w, h), steps
        self.device, self.dtype = model.device, model.dtype
        self.latent_shape = (1, model.unet.config.in_channels, h // model.vae_scale, w // model.vae_scale)

        sched = type(model.pipe.scheduler).from_config(model.pipe.scheduler.config)
        sched.set_timesteps(steps, device=model.device)
        self.timesteps = [t.to(model.device) for t in sched.timesteps]
        self.sigmas = [float(s) for s in sched.sigmas]  # steps + 1 values, the last 0
        self.c_in = [1.0 / (s * s + 1.0) ** 0.5 for s in self.sigmas[:-1]]
        self.init_sigma = float(sched.init_noise_sigma)
        self.prediction = sched.config.prediction_type
        if self.prediction not in ("epsilon", "v_prediction", "sample"):
            raise VJError(f"model {model.spec.name}: unsupported prediction type {self.prediction!r}")

        vae_cfg = model.vae.config
        # SDXL's VAE overflows in fp16: diffusers decodes it in fp32 when the config says so; so do we.
        self.vae_dtype = torch.float32 if (self.dtype == torch.float16 and getattr(vae_cfg, "force_upcast", False)
                                           and model.family == "sdxl") else self.dtype
        if self.vae_dtype != self.dtype:
            model.vae.to(dtype=self.vae_dtype)
        self.scaling = float(vae_cfg.scaling_factor)
        mean, std = getattr(vae_cfg, "latents_mean", None), getattr(vae_cfg, "latents_std", None)
        self._lat_mean = torch.tensor(mean).view(1, -1, 1, 1).to(model.device) if mean is not None else None
        self._lat_std = torch.tensor(std).view(1, -1, 1, 1).to(model.device) if std is not None else None
        self.time_ids = (torch.tensor([[h, w, 0, 0, h, w]], dtype=self.dtype, device=self.device)
                         if model.family == "sdxl" else None)

        self.prompts = PromptCache(model)
        self.noise = NoiseField(self.latent_shape, seed, self.device, self.dtype)

    # -- the parts of a frame -------------------------------------------------------------
    def conditioning(self, snap: Snapshot) -> Conditioning:
        parts = [(snap.values.get(f"prompt.{i}.weight", 1.0 if i == 1 else 0.0), self.prompts.get(text))
                 for i, text in enumerate(snap.prompts, 1)]
        return Conditioning.blend(parts)

    def latents(self, snap: Snapshot) -> torch.Tensor:
        if snap.seed != self.noise.seed:
            self.noise = NoiseField(self.latent_shape, snap.seed, self.device, self.dtype)
        return self.noise.at(snap.values.get("noise.phase", 0.0), snap.values.get("noise.kick", 0.0))

    def denoise(self, noise: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        """Unit-variance noise -> predicted clean latent (Euler over the precomputed sigmas)."""
        x = noise * self.init_sigma
        extra = {}
        if self.time_ids is not None:
            extra["added_cond_kwargs"] = {"text_embeds": cond.pooled, "time_ids": self.time_ids}
        x0 = x
        for i, t in enumerate(self.timesteps):
            sigma = self.sigmas[i]
            out = self.model.unet(x * self.c_in[i], t, encoder_hidden_states=cond.embeds, return_dict=False, **extra)[0]
            if self.prediction == "epsilon":
                x0 = x - sigma * out
            elif self.prediction == "v_prediction":
                x0 = out * (-sigma / (sigma * sigma + 1.0) ** 0.5) + x / (sigma * sigma + 1.0)
            else:
                x0 = out
            if i + 1 < len(self.timesteps):
                x = x + (x - x0) / sigma * (self.sigmas[i + 1] - sigma)
        return x0

    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        """Clean latent -> image tensor (1, 3, H, W) in [0, 1]."""
        tiny = self.model.tiny_vae
        if tiny is not None:  # TAESD reads the UNet's (scaled) latents as they are
            img = tiny.decode(x0.to(self.dtype), return_dict=False)[0]
            return (img.float() / 2 + 0.5).clamp(0, 1)
        z = x0.to(self.vae_dtype)
        if self._lat_mean is not None and self._lat_std is not None:
            z = z * self._lat_std.to(z.dtype) / self.scaling + self._lat_mean.to(z.dtype)
        else:
            z = z / self.scaling
        img = self.model.vae.decode(z, return_dict=False)[0]
        return (img.float() / 2 + 0.5).clamp(0, 1)

    # -- a whole frame ----------------------------------------------------------------------
    def frame(self, snap: Snapshot) -> np.ndarray:
        """One generated image, (H, W, 3) uint8, row 0 at the top. Raises NonFiniteFrame on NaN/Inf."""
        with torch.inference_mode():
            x0 = self.denoise(self.latents(snap), self.conditioning(snap))
            if not bool(torch.isfinite(x0).all()):
                raise NonFiniteFrame("the model produced NaN/Inf latents")
            img = self.decode(x0)
            pixels = (img[0] * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous()
        return pixels.cpu().numpy()
