"""Deep-feature caching across frames: interval 1 is diffusers' UNet; the cache is reused and renewed."""

import numpy as np
import pytest
import torch

from vj.generate.deepcache import DeepCacheUNet
from vj.generate.loop import StreamLoop
from vj.core.snapshot import Snapshot


def inputs(model, batch=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    cfg = model.unet.config
    x = torch.randn(batch, cfg.in_channels, 16, 16, generator=g)
    ehs = torch.randn(batch, 77, cfg.cross_attention_dim, generator=g)
    extra = {}
    if model.family == "sdxl":
        pooled = model.pipe.text_encoder_2.config.projection_dim
        extra = {"added_cond_kwargs": {"text_embeds": torch.randn(batch, pooled, generator=g),
                                       "time_ids": torch.tensor([[128.0, 128, 0, 0, 128, 128]]).expand(batch, -1)}}
    return x, ehs, extra


@pytest.mark.parametrize("which, batch", [("tiny_model", 1), ("tiny_model", 2), ("tiny_xl_model", 1)])
def test_interval_one_computes_what_the_unet_computes(request, which, batch):
    model = request.getfixturevalue(which)
    x, ehs, extra = inputs(model, batch)
    t = torch.tensor(999.0)
    with torch.inference_mode():
        want = model.unet(x, t, encoder_hidden_states=ehs, return_dict=False, **extra)[0]
        got = DeepCacheUNet(model.unet, 1)(x, t, encoder_hidden_states=ehs, return_dict=False, **extra)[0]
    assert torch.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("which", ["tiny_model", "tiny_xl_model"])
def test_the_kept_feature_is_used_between_full_passes_and_renewed(request, which):
    model = request.getfixturevalue(which)
    dc = DeepCacheUNet(model.unet, 3)
    t = torch.tensor(999.0)
    x, ehs, extra = inputs(model)
    x2, _, _ = inputs(model, seed=1)
    with torch.inference_mode():
        full = dc(x, t, encoder_hidden_states=ehs, **extra)[0]
        same = dc(x, t, encoder_hidden_states=ehs, **extra)[0]  # cached, same input: the same result
        moved = dc(x2, t, encoder_hidden_states=ehs, **extra)[0]  # cached, new input: new shell, old depths
        fresh = dc(x2, t, encoder_hidden_states=ehs, **extra)[0]  # the third call after a full one: full again
        truth = model.unet(x2, t, encoder_hidden_states=ehs, return_dict=False, **extra)[0]
    assert (dc.full_passes, dc.cached_passes) == (2, 2)
    assert torch.allclose(same, full, atol=1e-5)
    assert torch.allclose(fresh, truth, atol=1e-5)
    assert not torch.allclose(moved, truth, atol=1e-4) and not torch.allclose(moved, full, atol=1e-4)
    # each timestep keeps its own feature: another step does not take this one's
    with torch.inference_mode():
        other = dc(x2, torch.tensor(499.0), encoder_hidden_states=ehs, **extra)[0]
        truth_other = model.unet(x2, torch.tensor(499.0), encoder_hidden_states=ehs, return_dict=False, **extra)[0]
    assert torch.allclose(other, truth_other, atol=1e-5)


def test_a_loop_with_deep_cache_stays_close_and_continuous(tiny_model):
    plain = StreamLoop(tiny_model, (128, 128), 1, seed=5)
    cached = StreamLoop(tiny_model, (128, 128), 1, seed=5, deep_cache=2)

    def snap(i):
        return Snapshot(i, i / 24, {"noise.phase": 0.1 + 0.002 * i}, ("glass",), 5)

    for i in range(6):
        a, b = plain.frame(snap(i)), cached.frame(snap(i))
        d = float(np.abs(a.astype(float) - b).mean())
        assert d == 0.0 if i % 2 == 0 else d < 2.0  # full frames are exact; cached ones stay near
    assert cached.unet.full_passes == 3 and cached.unet.cached_passes == 3
