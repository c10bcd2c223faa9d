"""The streaming loop: a snapshot in, an image out.

Everything that does not change per frame is computed once (StreamDiffusion's `prepare()`): the
scheduler's timesteps and sigmas, the input scales, the noise field, the time ids; image-to-image
schedules are computed once per strength and kept. A frame is then plain tensor algebra:

    prompt field  cached embeddings (encoded off the hot path), faded in when new, blended by weights
                  (sum or slerp), pushed by `chaos`                                  -> conditioning
    noise field   seeds on great circles: walk phase, seed weights, kick + audio pulse -> latent noise
    input         (image-to-image) camera, file or the loop's own last image, framed, encoded,
                  noised to `strength`; skipped when it hardly changed and nothing else did
    UNet          Euler over the precomputed sigmas (1-4 steps), then decode (VAE or TAESD)

For the same latents and embeddings, text-to-image computes what `StableDiffusionPipeline` /
`StableDiffusionXLPipeline` compute with guidance 0 (a test checks it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vj.core.errors import VJError
from vj.generate import inputs
from vj.generate.deepcache import DeepCacheUNet
from vj.generate.noise import NoiseField, snapshot_point
from vj.generate.prompts import Chaos, Conditioning, PromptCache
from vj.generate.registry import LoadedModel
from vj.core.snapshot import Snapshot

MAX_SKIPS = 10  # the similarity filter skips at most this many frames in a row


class NonFiniteFrame(RuntimeError):
    """The model produced NaN or Inf: the frame is thrown away."""


def declare_params():
    """The generator's parameters (prompt and seed weights are declared per prompt/seed by the set)."""
    from vj.core.params import ParamSpec

    return [
        ParamSpec("noise.walk", 0.0, 60.0, 0.0, "turns/min", 0.5, "speed of the walk around the noise circles"),
        ParamSpec("noise.kick", -1.0, 1.0, 0.0, "", 0.0, "push towards a third noise direction (audio routes here)"),
        ParamSpec("noise.pulse", 0.0, 1.0, 0.0, "", 0.1, "how hard an audio transient kicks the noise (it decays)"),
        ParamSpec("noise.motion", 0.0, 60.0, 0.0, "turns/min", 0.5, "extra walk speed at full loudness"),
        ParamSpec("chaos", 0.0, 2.0, 0.0, "", 0.1, "push the prompts beyond themselves: extrapolation and noise"),
        ParamSpec("prompt.slerp", 0.0, 1.0, 0.0, "", 0.1, "0: weighted sum of the prompts, 1: slerp"),
        ParamSpec("prompt.fade", 0.0, 4.0, 0.3, "s", 0.0, "how long a new prompt text takes to fade in"),
        ParamSpec("gan.wander", 0.0, 1.0, 0.35, "", 0.1,
                  "a GAN's latent: 0 the prompts' place, 1 the noise walk alone (GAN models only)"),
        ParamSpec("gen.freeze", 0.0, 1.0, 0.0, "", 0.0,
                  "1: hold the generated image, the generator rests (layers, effects and feedback go on)"),
    ] + inputs.declare_params()


@dataclass
class _Slot:
    """One prompt slot: the text whose embedding is shown, and the one it blends in from: over
    prompt.fade seconds, or over what is left of a scene's transition (by its progress)."""

    text: str | None = None
    cond: Conditioning | None = None
    prev: Conditioning | None = None
    since: float = 0.0  # clock time the current one arrived
    fade: float = 0.0  # seconds it fades in over (when not in a transition)
    transit: tuple[int, float] | None = None  # (serial, progress) of the transition it arrived in

    def arrive(self, text: str, c: Conditioning, snap: Snapshot, fade: float) -> None:
        self.prev = self.current(snap)
        self.cond, self.text, self.since, self.fade = c, text, snap.t, fade
        tr = snap.transition
        self.transit = (tr.serial, tr.progress) if tr is not None and tr.progress < 1.0 else None

    def current(self, snap: Snapshot, fade: float | None = None) -> Conditioning | None:
        if self.cond is None or self.prev is None:
            return self.cond
        if self.transit is not None:
            tr = snap.transition
            if tr is None or tr.serial != self.transit[0]:  # it ended (or another began): whole
                return self.cond
            p0 = self.transit[1]
            return self.prev.lerp(self.cond, min(1.0, max(0.0, (tr.progress - p0) / (1.0 - p0))))
        fade = self.fade if fade is None else fade
        if fade <= 0.0 or snap.t - self.since >= fade:
            return self.cond
        return self.prev.lerp(self.cond, max(0.0, (snap.t - self.since) / fade))


class StreamLoop:
    def __init__(self, model: LoadedModel, size: tuple[int, int], steps: int, seed: int, *, live: bool = False,
                 input: str | None = None, batch: bool = False, deep_cache: int = 1) -> None:
        if not 1 <= steps <= 50:
            raise VJError(f"steps = {steps}: use 1..4 for turbo models")
        self.model, self.steps, self.live = model, steps, live
        self.batch = batch  # stream batch for 2-4 steps (see _denoise_batched)
        # deep_cache N > 1: the UNet's deep features are reused for N-1 frames out of N (deepcache.py)
        self.unet = DeepCacheUNet(model.unet, deep_cache) if deep_cache > 1 else model.unet
        self._flight: tuple | None = None  # (schedule, the latents in flight) with the stream batch
        self._batch_consts: dict = {}
        self.device, self.dtype = model.device, model.dtype
        self.multiple = model.vae_scale * 2 ** (len(model.unet.config.block_out_channels) - 1)

        sched = type(model.pipe.scheduler).from_config(model.pipe.scheduler.config)
        sched.set_timesteps(steps, device=model.device)
        self.timesteps = [t.to(model.device) for t in sched.timesteps]
        self.sigmas = [float(s) for s in sched.sigmas]  # steps + 1 values, the last 0
        self.c_in = [1.0 / (s * s + 1.0) ** 0.5 for s in self.sigmas[:-1]]
        self.init_sigma = float(sched.init_noise_sigma)
        self._t2i = (self.timesteps, self.sigmas, self.c_in)  # one object: the stream batch knows it by identity
        self.prediction = sched.config.prediction_type
        if self.prediction not in ("epsilon", "v_prediction", "sample"):
            raise VJError(f"model {model.spec.name}: unsupported prediction type {self.prediction!r}")
        self._alphas = sched.alphas_cumprod.double().cpu()  # for image-to-image schedules

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

        self.prompts = PromptCache(model, background=live)
        self._schedules: dict[int, tuple] = {}  # strength (thousandths) -> _make_schedule's
        self.frame_input = None  # the camera or video image the last frame was made from (the preview's feed)
        self._slots: list[_Slot] = []
        self._chaos: Chaos | None = None
        self.noise: NoiseField | None = None
        self.seed = seed
        self.input_spec = input
        self.input = None
        self.skipped = 0  # frames the similarity filter skipped
        self._skip_rng = random.Random(seed)
        self._skip_run = 0
        self._last_in: tuple | None = None  # (key, small image) of the last input generated from
        self._set_size(size)

    # -- size (also lowered on out-of-memory) -----------------------------------------------------
    def _set_size(self, size: tuple[int, int]) -> None:
        w, h = size
        m = self.multiple
        if w % m or h % m:
            raise VJError(f"generator size {w}x{h}: {self.model.spec.name} needs multiples of {m} "
                          f"(e.g. {w // m * m or m}x{h // m * m or m})")
        self.size = (w, h)
        s = self.model.vae_scale
        self.latent_shape = (1, self.model.unet.config.in_channels, h // s, w // s)
        self.time_ids = (torch.tensor([[h, w, 0, 0, h, w]], dtype=self.dtype, device=self.device)
                         if self.model.family == "sdxl" else None)
        self.noise = None
        self._flight = None
        if self.input is not None:
            self.input.close()
        self.input = inputs.open_input(self.input_spec, self.size, self.live) if self.input_spec else None
        self._last_in = None

    def shrink(self) -> tuple[int, int] | None:
        """Lower the size by about a quarter (out of memory); None when it is as small as it goes."""
        w, h = self.size
        m = self.multiple
        nw, nh = max(m, int(w * 0.75) // m * m), max(m, int(h * 0.75) // m * m)
        if (nw, nh) == (w, h):
            return None
        self._set_size((nw, nh))
        return self.size

    def close(self) -> None:
        if self.input is not None:
            self.input.close()

    # -- the prompt field ---------------------------------------------------------------------------
    def conditioning(self, snap: Snapshot) -> Conditioning:
        v = snap.values
        fade = v.get("prompt.fade", 0.3)
        parts = []
        for i, text in enumerate(snap.prompts):
            if i == len(self._slots):
                self._slots.append(_Slot())
            slot = self._slots[i]
            if text != slot.text:
                c = self.prompts.get(text)  # live: None until the encoder thread has it
                if c is not None:
                    slot.arrive(text, c, snap, fade)
            cur = slot.current(snap)
            if cur is not None:
                parts.append((v.get(f"prompt.{i + 1}.weight", 1.0 if i == 0 else 0.0), cur))
        del self._slots[len(snap.prompts):]
        if not parts:  # the first frame of a live show: nothing is encoded yet, wait for prompt 1 once
            slot = self._slots[0]
            slot.cond, slot.text, slot.since = self.prompts.get(snap.prompts[0], wait=True), snap.prompts[0], snap.t
            parts = [(v.get("prompt.1.weight", 1.0), slot.cond)]
        cond = Conditioning.blend(parts, v.get("prompt.slerp", 0.0))
        amount = v.get("chaos", 0.0)
        if amount != 0.0:
            chaos = self._chaos_field()
            if chaos is not None:
                cond = chaos.apply(cond, amount, v.get("noise.phase", 0.0))
        return cond

    def _chaos_field(self) -> Chaos | None:
        if self._chaos is None:
            neutral = self.prompts.get("")  # the empty prompt, encoded like any other (off the hot path live)
            if neutral is not None:
                self._chaos = Chaos(neutral, self.seed)
        return self._chaos

    # -- the noise field ----------------------------------------------------------------------------
    def latents(self, snap: Snapshot) -> torch.Tensor:
        self.noise, x = snapshot_point(self.noise, self.latent_shape, self.device, self.dtype, snap)
        return x

    # -- image-to-image ---------------------------------------------------------------------------
    def _schedule(self, strength_milli: int) -> tuple[list[torch.Tensor], list[float], list[float]]:
        """Timesteps, sigmas (+ a final 0) and input scales that start `strength` of the way into the
        noise: the trailing spacing the turbo schedulers use, begun from strength * T instead of T.
        Kept per loop, 1000 strengths at most (functools.lru_cache on the method kept every loop,
        and its model, alive)."""
        got = self._schedules.get(strength_milli)
        if got is None:
            got = self._schedules[strength_milli] = self._make_schedule(strength_milli)
        return got

    def _make_schedule(self, strength_milli: int) -> tuple[list[torch.Tensor], list[float], list[float]]:
        n_train = len(self._alphas)
        top = strength_milli / 1000.0 * n_train
        ts = [max(0, min(n_train - 1, round(top * (self.steps - k) / self.steps) - 1)) for k in range(self.steps)]
        ac = self._alphas[ts]
        sigmas = [float(s) for s in ((1 - ac) / ac).sqrt()] + [0.0]
        timesteps = [torch.tensor(float(t), device=self.device) for t in ts]
        return timesteps, sigmas, [1.0 / (s * s + 1.0) ** 0.5 for s in sigmas[:-1]]

    def encode_image(self, img: torch.Tensor) -> torch.Tensor:
        """(1, 3, H, W) in [0, 1] -> a clean latent, as the UNet sees them."""
        x = img * 2.0 - 1.0
        tiny = self.model.tiny_vae
        if tiny is not None:
            return tiny.encode(x.to(self.dtype), return_dict=False)[0].to(self.dtype)
        z = self.model.vae.encode(x.to(self.vae_dtype), return_dict=False)[0].mode()
        if self._lat_mean is not None and self._lat_std is not None:
            z = (z - self._lat_mean.to(z.dtype)) * self.scaling / self._lat_std.to(z.dtype)
        else:
            z = z * self.scaling
        return z.to(self.dtype)

    def _input_image(self, snap: Snapshot) -> torch.Tensor | None:
        img = self.input.image(snap.t, self.size, self.device)
        if img is None:
            return None
        w, h = self.size
        if img.shape[-2:] != (h, w):
            img = F.interpolate(img.float(), size=(h, w), mode="bilinear", align_corners=False)
        v = snap.values
        return inputs.transform(img, v.get("input.zoom", 1.0), v.get("input.rotate", 0.0), v.get("input.x", 0.0),
                                v.get("input.y", 0.0))

    def _hardly_changed(self, snap: Snapshot, img: torch.Tensor) -> bool:
        """The stochastic similarity filter (after StreamDiffusion): when the input image is nearly the
        same as last time and nothing else moved, skip with a probability that grows with the
        similarity; never more than MAX_SKIPS in a row."""
        v = snap.values
        threshold = v.get("input.similarity", 0.98)
        key = (snap.prompts, snap.seed, tuple(snap.seeds), snap.transition,
               tuple(round(x, 4) for k, x in sorted(v.items()) if k.startswith(("noise.", "prompt.", "chaos", "strength"))))
        small = F.adaptive_avg_pool2d(img.float(), 32).flatten()
        small = small - small.mean()
        last, self._last_in = self._last_in, (key, small)
        if threshold >= 1.0 or last is None or last[0] != key or self._skip_run >= MAX_SKIPS:
            self._skip_run = 0
            return False
        sim = float(F.cosine_similarity(small, last[1], dim=0, eps=1e-6))
        if sim < threshold or self._skip_rng.random() >= (sim - threshold) / (1.0 - threshold):
            self._skip_run = 0
            return False
        self._last_in = last  # compare the next frames with the image the shown frame was made from
        self._skip_run += 1
        self.skipped += 1
        return True

    # -- denoise and decode ---------------------------------------------------------------------------
    def denoise(self, noise: torch.Tensor, cond: Conditioning, start: torch.Tensor | None = None,
                strength: float = 1.0) -> torch.Tensor:
        """Noise (and, image-to-image, a clean start latent) -> predicted clean latent (Euler)."""
        if start is None:
            schedule = self._t2i
            x = noise * self.init_sigma
        else:
            schedule = self._schedule(max(1, min(1000, round(strength * 1000))))
            x = start + schedule[1][0] * noise
        if self.batch and len(schedule[0]) > 1:
            return self._denoise_batched(x, cond, schedule)
        return self._denoise_steps(x, cond, schedule)[0]

    def _extra(self, cond: Conditioning, n: int) -> dict:
        if self.time_ids is None:
            return {}
        return {"added_cond_kwargs": {"text_embeds": cond.pooled.expand(n, -1), "time_ids": self.time_ids.expand(n, -1)}}

    def _x0(self, x, out, sigma):
        """The clean latent the model predicts (sigma a float, or one per row of a batch)."""
        if self.prediction == "epsilon":
            return x - sigma * out
        if self.prediction == "v_prediction":
            return out * (-sigma / (sigma * sigma + 1.0) ** 0.5) + x / (sigma * sigma + 1.0)
        return out

    def _denoise_steps(self, x: torch.Tensor, cond: Conditioning, schedule) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The steps one after the other; returns x0 and the latent entering each step."""
        timesteps, sigmas, c_in = schedule
        extra = self._extra(cond, 1)
        x0, entering = x, []
        for i, t in enumerate(timesteps):
            entering.append(x)
            sigma = sigmas[i]
            out = self.unet(x * c_in[i], t, encoder_hidden_states=cond.embeds, return_dict=False, **extra)[0]
            x0 = self._x0(x, out, sigma)
            if i + 1 < len(timesteps):
                x = x + (x - x0) / sigma * (sigmas[i + 1] - sigma)
        return x0, entering

    def _denoise_batched(self, x: torch.Tensor, cond: Conditioning, schedule) -> torch.Tensor:
        """Stream batch (after StreamDiffusion): the n steps of n consecutive frames in one UNet call.
        Row 0 is this frame entering at the first step, row k the frame from k frames ago entering
        step k; the last row leaves finished. One UNet call per frame instead of n, for n-1 frames of
        delay. A new schedule (strength moved) or size starts the pipeline again from this frame."""
        timesteps, sigmas, c_in = schedule
        n = len(timesteps)
        if self._flight is None or self._flight[0] is not schedule or self._flight[1].shape[2:] != x.shape[2:]:
            x0, entering = self._denoise_steps(x, cond, schedule)
            self._flight = (schedule, torch.cat(entering[1:]))  # this frame's own later steps stand in
            return x0
        consts = self._batch_consts.get(id(schedule))
        if consts is None:
            rows = lambda v: torch.tensor(v, dtype=self.dtype, device=self.device).view(n, 1, 1, 1)  # noqa: E731
            consts = (torch.stack([t.reshape(()) for t in timesteps]), rows(sigmas[:-1]), rows(sigmas[1:]), rows(c_in))
            self._batch_consts = {id(schedule): consts}
        t_rows, sig, sig_next, cin = consts
        xs = torch.cat([x, self._flight[1]])
        out = self.unet(xs * cin, t_rows, encoder_hidden_states=cond.embeds.expand(n, -1, -1),
                              return_dict=False, **self._extra(cond, n))[0]
        x0 = self._x0(xs, out, sig)
        advanced = xs + (xs - x0) / sig * (sig_next - sig)
        self._flight = (schedule, advanced[:-1])
        return x0[-1:]

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

    # -- a whole frame ----------------------------------------------------------------------------
    def frame(self, snap: Snapshot) -> np.ndarray | None:
        """One generated image, (H, W, 3) uint8, row 0 at the top; None when the similarity filter
        skipped it (the last one stays). Raises NonFiniteFrame on NaN/Inf."""
        with torch.inference_mode():
            start, strength = None, 1.0
            self.frame_input = None
            if self.input is not None:
                img = self._input_image(snap)
                if img is not None:
                    if self.input.external and self._hardly_changed(snap, img):
                        return None
                    start, strength = self.encode_image(img), snap.values.get("strength", 0.5)
                    self.frame_input = getattr(self.input, "pixels", None)  # a camera or a file: the feed
            x0 = self.denoise(self.latents(snap), self.conditioning(snap), start, strength)
            finite = torch.isfinite(x0).all()  # read after the pixels' copy: one wait for the GPU a frame, not two
            img = self.decode(x0)
            pixels = (img[0] * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous().cpu().numpy()
            if not bool(finite):
                raise NonFiniteFrame("the model produced NaN/Inf latents")
            if self.input is not None:
                self.input.produced(img)  # only a good image is fed back
        return pixels
