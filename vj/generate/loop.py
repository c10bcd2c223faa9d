"""The streaming loop: a snapshot in, an image out.

Everything that does not change per frame is computed once (StreamDiffusion's `prepare()`): the
scheduler's timesteps and state (samplers.py), the noise field, the time ids, the unconditional
embedding; image-to-image schedules are prepared once per strength and kept. A frame is then:

    prompt field  cached embeddings (encoded off the hot path), faded in when new, blended by weights
                  (sum or slerp), pushed by `chaos`                                  -> conditioning
    noise field   seeds on great circles: walk phase, seed weights, kick + audio pulse -> latent noise
    input         (image-to-image) camera, file or the loop's own last image, framed, encoded,
                  noised to `strength`; skipped when it hardly changed and nothing else did
    UNet          the sampler's 1-8 steps (Euler algebra, or the scheduler's own step), with
                  classifier-free guidance when gen.guidance > 1 (unconditional rows in the same
                  UNet call), then decode (VAE or TAESD)

For the same latents and embeddings, text-to-image computes what `StableDiffusionPipeline` /
`StableDiffusionXLPipeline` compute with the same scheduler and guidance (the tests check it).
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vj.core.errors import VJError
from vj.generate import inputs
from vj.generate.deepcache import DeepCacheUNet
from vj.generate.guided import FrameGuide, Guided
from vj.generate.noise import NoiseField, snapshot_point
from vj.generate.conditioning import Conditioning
from vj.generate.prompts import Chaos, PromptCache
from vj.generate.registry import LoadedModel
from vj.generate.samplers import make_sampler
from vj.log import log
from vj.core.snapshot import Snapshot

MAX_SKIPS = 10  # the similarity filter skips at most this many frames in a row


class NonFiniteFrame(RuntimeError):
    """The model produced NaN or Inf: the frame is thrown away."""


@contextlib.contextmanager
def _frame_straightened(unet, share: float):
    """The seedling's framed first convolution (seedling/model._Framed) straightened by `share` for
    one call, while a control branch trained on the straight frame brings the structure. `share` is
    above 0 only for a framed seedling (controlnet.load gives only its branches `straightens`)."""
    if share <= 0.0:
        yield
        return
    unet.conv_in.straight = share
    try:
        yield
    finally:
        unet.conv_in.straight = 0.0


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
        ParamSpec("gen.guidance", 0.0, 12.0, 0.0, "", 0.25,
                  "classifier-free guidance: <= 1 off (one UNet pass, as turbo models want); SD 1.x wants ~5-8"),
        ParamSpec("gen.freeze", 0.0, 1.0, 0.0, "", 0.0,
                  "1: hold the generated image, the generator rests (layers, effects and feedback go on)"),
    ] + inputs.declare_params()


@dataclass(frozen=True)
class Guide:
    """Classifier-free guidance for one frame: out = uncond + scale * (cond - uncond)."""

    scale: float
    uncond: Conditioning


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
                 input: str | None = None, batch: bool = False, deep_cache: int = 1, negative: str = "") -> None:
        if not 1 <= steps <= 50:
            raise VJError(f"steps = {steps}: use 1..4 for turbo models, up to 8 for others")
        self.model, self.steps, self.live = model, steps, live
        # deep_cache N > 1: the UNet's deep features are reused for N-1 frames out of N (deepcache.py)
        if deep_cache > 1 and model.controls:
            log.info("generator: deep cache off: a ControlNet's residuals enter the blocks it would skip")
            deep_cache = 1
        self.unet = DeepCacheUNet(model.unet, deep_cache) if deep_cache > 1 else model.unet
        self.device, self.dtype = model.device, model.dtype
        self.multiple = model.vae_scale * 2 ** (len(model.unet.config.block_out_channels) - 1)

        self.sampler = make_sampler(model.pipe.scheduler, steps, model.device, model.dtype, seed)
        # stream batch for 2-4 steps (samplers.EulerSampler._batched): Euler-type schedulers only
        self.batch = batch and self.sampler.batchable
        if batch and steps > 1 and not self.sampler.batchable:
            log.info(f"generator: stream batch off: {self.sampler.name}'s steps depend on the earlier ones")
        self.negative = negative  # the negative prompt: what guidance steers away from

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
        self.frame_input = None  # the camera or video image the last frame was made from (the preview's feed)
        self._slots: list[_Slot] = []
        self._chaos: Chaos | None = None
        self.noise: NoiseField | None = None
        self.seed = seed
        self.input_spec = input
        self.input = None
        self.guided: Guided | None = None  # [[control]] and [ipadapter] (generate/guided/), when the set has them
        self.frame_map = None  # the first control's newest map, (h, w, 3) uint8: the `control` layer's picture
        self.t_input = 0.0  # monotonic time the camera/video frame of the last frame was read (0: none)
        self.skipped = 0  # frames the similarity filter skipped
        self._skip_rng = random.Random(seed)
        self._skip_run = 0
        self._last_in: tuple | None = None  # (key, small image) of the last input generated from
        self._last_values: dict = {}  # the snapshot's values in the frame being made
        self._made: np.ndarray | None = None  # the last frame made (a control's "feedback" source)
        self.program = None  # shm.LatestPicture: the program picture (a control's "program" source), if one reads it
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
        self.sampler.reset()
        if self.input is not None:
            self.input.close()
        self.input = inputs.open_input(self.input_spec, self.size, self.live) if self.input_spec else None
        self._last_in = None
        self._made = None  # another size: the last frame is no control's picture any more
        if self.guided is not None:
            self.guided.close()
        if self.model.controls or self.model.ip_adapter is not None:  # its sources are read at the frame's size
            self.guided = Guided(self.model, self.size, self.steps, self.live, self.input is not None)

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
        if self.guided is not None:
            self.guided.close()

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
    def guide(self, snap: Snapshot) -> Guide | None:
        """Classifier-free guidance for this frame, or None: off at gen.guidance <= 1 (one UNet row,
        as the turbo models want), or while the negative prompt is still being encoded live."""
        scale = snap.values.get("gen.guidance", 0.0)
        if scale <= 1.0:
            return None
        uncond = self.prompts.unconditional(self.negative)
        return None if uncond is None else Guide(scale, uncond)

    def denoise(self, noise: torch.Tensor, cond: Conditioning, start: torch.Tensor | None = None,
                strength: float = 1.0, guide: Guide | None = None, fg: FrameGuide | None = None) -> torch.Tensor:
        """Noise (and, image-to-image, a clean start latent) -> the clean latent (see samplers.py).
        `fg`: this frame's ControlNets and IP-Adapter (Guided.frame)."""
        calls = [0]

        def model(x: torch.Tensor, t: torch.Tensor, n: int) -> torch.Tensor:
            # one row: the next step; n rows (the stream batch): row k is at step k
            steps = [calls[0]] if n == 1 else list(range(n))
            calls[0] += 1
            return self._predict(x, t, cond, n, guide, fg, steps)

        return self.sampler.denoise(noise, start, strength, model, batch=self.batch)

    def _predict(self, x: torch.Tensor, t: torch.Tensor, cond: Conditioning, n: int, guide: Guide | None,
                 fg: FrameGuide | None = None, steps: list[int] = (0,)):
        """The UNet on n rows; with guidance the unconditional rows ride in the same call, and the
        controls' residuals in the same call too."""
        if guide is None:
            embeds, extra = cond.embeds.expand(n, -1, -1), self._extra(cond.pooled, n)
        else:
            u = guide.uncond
            embeds = torch.cat([u.embeds.expand(n, -1, -1), cond.embeds.expand(n, -1, -1)])
            pooled = None if cond.pooled is None else torch.cat([u.pooled.expand(n, -1), cond.pooled.expand(n, -1)])
            x, t, extra = torch.cat([x, x]), (t if t.ndim == 0 else torch.cat([t, t])), self._extra(pooled, 2 * n)
        straight = 0.0
        if fg is not None:
            more, straight = fg.unet_kwargs(x, t, embeds, extra, list(steps), guide is not None)
            extra = {**extra, **more}
        with _frame_straightened(self.model.unet, straight):
            out = self.unet(x, t, encoder_hidden_states=embeds, return_dict=False, **extra)[0]
        if guide is None:
            return out
        out_u, out_c = out.chunk(2)
        return out_u + guide.scale * (out_c - out_u)

    def _extra(self, pooled: torch.Tensor | None, n: int) -> dict:
        if self.time_ids is None:
            return {}
        return {"added_cond_kwargs": {"text_embeds": pooled.expand(n, -1), "time_ids": self.time_ids.expand(n, -1)}}

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

    def _as_pixels(self, img: torch.Tensor | None) -> np.ndarray | None:
        """The frame the generator uses as (h, w, 3) uint8, for the controls' preprocessors: the
        reader's own pixels when the framing left them as they were, else the framed image."""
        if img is None:
            return None
        px = getattr(self.input, "pixels", None)
        if px is not None and px.shape[:2] == tuple(img.shape[-2:]) and self._unframed():
            return px
        return (img[0].float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()

    def _program(self) -> np.ndarray | None:
        """The newest program picture at this loop's size (None: none yet, or nothing writes one)."""
        got = self.program.get() if self.program is not None else None
        if got is None:
            return None
        pic = got[1]
        if (pic.shape[1], pic.shape[0]) != self.size:  # the size lowered after an out-of-memory
            import cv2

            pic = cv2.resize(pic, self.size, interpolation=cv2.INTER_AREA)
        return pic

    def _unframed(self) -> bool:
        v = self._last_values
        return all(v.get(k, d) == d for k, d in (("input.zoom", 1.0), ("input.rotate", 0.0), ("input.x", 0.0), ("input.y", 0.0)))

    # -- a whole frame ----------------------------------------------------------------------------
    def frame(self, snap: Snapshot) -> np.ndarray | None:
        """One generated image, (H, W, 3) uint8, row 0 at the top; None when the similarity filter
        skipped it (the last one stays). Raises NonFiniteFrame on NaN/Inf."""
        with torch.inference_mode():
            self._last_values = snap.values
            start, strength, img = None, 1.0, None
            self.frame_input = None
            if self.input is not None:
                img = self._input_image(snap)
                if img is not None:
                    if self.input.external and self._hardly_changed(snap, img):
                        return None
                    start, strength = self.encode_image(img), snap.values.get("strength", 0.5)
                    self.frame_input = getattr(self.input, "pixels", None)  # a camera or a file: the feed
                    self.t_input = getattr(self.input, "t_frame", 0.0)
            if self.model.loras is not None:
                self.model.loras.apply(snap.values)
            fg = None
            if self.guided is not None:
                fg = self.guided.frame(snap, lambda: self._as_pixels(img), lambda: self._made, self._program)
                self.frame_map = self.guided.shown()
            x0 = self.denoise(self.latents(snap), self.conditioning(snap), start, strength, self.guide(snap), fg)
            finite = torch.isfinite(x0).all()  # read after the pixels' copy: one wait for the GPU a frame, not two
            img = self.decode(x0)
            pixels = (img[0] * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous().cpu().numpy()
            if not bool(finite):
                raise NonFiniteFrame("the model produced NaN/Inf latents")
            if self.input is not None:
                self.input.produced(img)  # only a good image is fed back
            self._made = pixels  # a control reading "feedback" keeps its structure next frame
        return pixels
