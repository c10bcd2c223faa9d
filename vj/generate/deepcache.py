"""Deep-feature caching across frames (after DeepCache, Ma et al. 2023), for the stream.

A UNet's deep blocks change slowly while a stream moves smoothly: consecutive frames share most of
what the low-resolution middle of the network computes. With `interval` N, every N-th call runs
the whole UNet and keeps the feature that enters the last (full-resolution) up block; the calls in
between run only the outer shell (conv_in, the first down block, the last up block, conv_out) on
the fresh input and take the kept feature for the rest. On sd-turbo at 256x256 the shell is about
a fifth of the UNet's time (BENCHMARKS.md), so N = 2 makes the UNet about 1.7x faster.

The price: on a cached frame the coarse structure is the previous full frame's, the detail is new.
Interval 1 is the plain UNet (a test checks it computes what diffusers' forward computes).
Features are kept per timestep and input shape (each denoising step has its own; a stream-batch
call is another shape), so multi-step loops and the stream batch cache correctly.
"""

from __future__ import annotations

import torch


class DeepCacheUNet:
    """Calls like a UNet2DConditionModel (sample, timestep, encoder_hidden_states, added_cond_kwargs,
    return_dict=False) and returns a one-element tuple, as diffusers' does."""

    def __init__(self, unet, interval: int) -> None:
        if interval < 1:
            raise ValueError("deep cache interval: 1 (off) or more")
        cfg = unet.config
        if getattr(cfg, "addition_embed_type", None) not in (None, "text_time") or cfg.center_input_sample \
                or getattr(cfg, "class_embed_type", None) is not None:
            raise ValueError("deep cache: only the plain SD / SDXL UNet layouts are supported")
        k = len(unet.up_blocks[-1].resnets)
        if k > 1 + len(unet.down_blocks[0].resnets) + (1 if unet.down_blocks[0].downsamplers else 0):
            raise ValueError("deep cache: the last up block reaches deeper than the first down block")
        self.unet = unet
        self.interval = interval
        self.config = unet.config
        self._kept: dict[tuple, tuple[torch.Tensor, int]] = {}  # key -> (feature, calls since the full pass)
        self.full_passes = 0
        self.cached_passes = 0

    def reset(self) -> None:
        self._kept.clear()

    def __call__(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                 added_cond_kwargs: dict | None = None, return_dict: bool = False):
        key = (id(timestep), tuple(sample.shape))  # the schedule's own tensors: no device sync for a key
        kept = self._kept.get(key)
        full = self.interval == 1 or kept is None or kept[1] + 1 >= self.interval
        u = self.unet
        emb, ehs = self._embed(sample, timestep, encoder_hidden_states, added_cond_kwargs or {})
        h = u.conv_in(sample)
        skips = (h,)
        h, res = self._run(u.down_blocks[0], h, emb, ehs)
        skips += res
        if full:
            for block in u.down_blocks[1:]:
                h, res = self._run(block, h, emb, ehs)
                skips += res
            if u.mid_block is not None:
                h = (u.mid_block(h, emb, encoder_hidden_states=ehs) if getattr(u.mid_block, "has_cross_attention", False)
                     else u.mid_block(h, emb))
            for block in u.up_blocks[:-1]:
                n = len(block.resnets)
                h = self._up(block, h, emb, ehs, skips[-n:])
                skips = skips[:-n]
            if self.interval > 1:
                if len(self._kept) > 16:  # schedules come and go (strength moves): keep it bounded
                    self._kept.clear()
                self._kept[key] = (h, 0)
            self.full_passes += 1
        else:
            h = kept[0]
            self._kept[key] = (h, kept[1] + 1)
            self.cached_passes += 1
        last = u.up_blocks[-1]
        h = self._up(last, h, emb, ehs, skips[:len(last.resnets)])
        if u.conv_norm_out is not None:
            h = u.conv_act(u.conv_norm_out(h))
        return (u.conv_out(h),)

    def _embed(self, sample, timestep, ehs, added):
        u = self.unet
        emb = u.time_embedding(u.get_time_embed(sample=sample, timestep=timestep), None)
        aug = u.get_aug_embed(emb=emb, encoder_hidden_states=ehs, added_cond_kwargs=added)
        if aug is not None:
            emb = emb + aug
        if u.time_embed_act is not None:
            emb = u.time_embed_act(emb)
        return emb, u.process_encoder_hidden_states(encoder_hidden_states=ehs, added_cond_kwargs=added)

    @staticmethod
    def _run(block, h, emb, ehs):
        if getattr(block, "has_cross_attention", False):
            return block(hidden_states=h, temb=emb, encoder_hidden_states=ehs)
        return block(hidden_states=h, temb=emb)

    @staticmethod
    def _up(block, h, emb, ehs, skips):
        if getattr(block, "has_cross_attention", False):
            return block(hidden_states=h, temb=emb, res_hidden_states_tuple=skips, encoder_hidden_states=ehs)
        return block(hidden_states=h, temb=emb, res_hidden_states_tuple=skips)
