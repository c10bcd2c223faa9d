"""Model families beyond the turbo models: every scheduler in the loop, and classifier-free guidance.

The tiny random pipelines (fixtures.py) are built as diffusers' own tests build theirs; the loop's
result is checked against the diffusers pipeline with the same scheduler, latents and guidance."""

from types import MappingProxyType

import numpy as np
import pytest
import torch

from vj.core.snapshot import Snapshot
from vj.generate import registry, samplers
from vj.generate.loop import StreamLoop

CPU = torch.device("cpu")
SCHEDULERS = ["pndm", "ddim", "lcm", "dpm", "euler", "unipc", "euler-a"]


def snap(seed=7, guidance=0.0, phase=0.1, prompts=("a flooded cathedral",)):
    values = {"noise.phase": phase, "prompt.1.weight": 1.0, "gen.guidance": guidance}
    return Snapshot(0, 0.0, MappingProxyType(values), prompts, seed)


@pytest.fixture(scope="module", params=SCHEDULERS)
def model(request):
    """tiny-random with its scheduler swapped, as a set's [generator] scheduler = "..." does."""
    return registry.load(registry.resolve("tiny-random"), CPU, torch.float32, scheduler=request.param)


def reference(model, loop, s, steps, guide=None):
    cond, lat = loop.conditioning(s), loop.latents(s)
    kw = {"negative_prompt_embeds": guide.uncond.embeds} if guide else {}
    ref = model.pipe(prompt_embeds=cond.embeds, latents=lat.clone(), num_inference_steps=steps,
                     guidance_scale=guide.scale if guide else 0.0, height=128, width=128, output_type="pt",
                     generator=torch.Generator().manual_seed(loop.seed), **kw).images
    return cond, lat, ref


@pytest.mark.parametrize("steps", [1, 2, 4])
def test_each_scheduler_computes_what_the_diffusers_pipeline_computes(model, steps):
    loop = StreamLoop(model, (128, 128), steps, seed=11)
    s = snap()
    cond, lat, ref = reference(model, loop, s, steps)
    ours = loop.decode(loop.denoise(lat, cond))
    assert (ours - ref).abs().max().item() < 1e-4
    px = loop.frame(s)
    assert px.shape == (128, 128, 3) and px.std() > 1  # an image, not a flat fill


def test_a_frame_renders_one_seed_repeats_and_the_steps_change_it(model):
    frames = {n: StreamLoop(model, (128, 128), n, seed=3).frame(snap()) for n in (1, 2, 4)}
    again = StreamLoop(model, (128, 128), 4, seed=3)
    assert np.array_equal(again.frame(snap()), frames[4])
    assert np.array_equal(again.frame(snap()), frames[4])  # a multistep history does not leak into the next frame
    assert np.abs(frames[1].astype(int) - frames[4]).mean() > 1
    assert np.abs(frames[2].astype(int) - frames[4]).mean() > 1
    assert np.abs(again.frame(snap(seed=4)).astype(int) - frames[4]).mean() > 1


def test_timesteps_are_prepared_once_not_per_frame(model):
    loop = StreamLoop(model, (128, 128), 4, seed=3)
    calls = []
    real = loop.sampler.__class__  # the sampler's own scheduler copy: count its set_timesteps
    sched = getattr(loop.sampler, "sched", None)
    if sched is None:  # the Euler fast path keeps no scheduler at all after __init__
        assert real is samplers.EulerSampler
        return
    orig = sched.set_timesteps
    sched.set_timesteps = lambda *a, **k: (calls.append(a), orig(*a, **k))[1]
    for i in range(5):
        loop.frame(snap(phase=0.1 + 0.01 * i))
    assert len(calls) == 1


def test_image_to_image_follows_the_strength(model):
    loop = StreamLoop(model, (128, 128), 2, seed=3)
    start = loop.encode_image(torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(1)))
    s = snap()
    cond, noise = loop.conditioning(s), loop.latents(s)
    near = loop.denoise(noise, cond, start, 0.1)
    far = loop.denoise(noise, cond, start, 0.9)
    assert torch.isfinite(near).all() and torch.isfinite(far).all()
    assert (near - start).abs().mean() < (far - start).abs().mean()  # a little strength stays near the input


def test_pndm_as_sd15_ships_it_runs_without_its_runge_kutta_warm_up():
    from diffusers import PNDMScheduler

    m = registry.load(registry.resolve("tiny-random"), CPU, torch.float32)
    m.pipe.scheduler = PNDMScheduler.from_config(m.pipe.scheduler.config, skip_prk_steps=False)
    loop = StreamLoop(m, (128, 128), 1, seed=3)  # PRK alone would need 12 model calls
    assert loop.frame(snap()).std() > 1


# -- guidance ---------------------------------------------------------------------------------
class CountingUNet:
    """Wraps the UNet to see how many rows each call has."""

    def __init__(self, unet):
        self.unet, self.rows = unet, []
        self.config = unet.config

    def __call__(self, x, *a, **k):
        self.rows.append(x.shape[0])
        return self.unet(x, *a, **k)


@pytest.mark.parametrize("which", ["tiny_model", "tiny_xl_model"])
def test_guidance_off_is_one_row_and_on_is_the_pipelines_guidance(request, which):
    model = request.getfixturevalue(which)
    loop = StreamLoop(model, (128, 128), 2, seed=11, negative="blurry, dull")
    loop.unet = counting = CountingUNet(loop.unet)
    off = loop.frame(snap(guidance=0.0))
    assert counting.rows == [1, 1]
    counting.rows.clear()
    on = loop.frame(snap(guidance=6.0))
    assert counting.rows == [2, 2]  # the unconditional rows ride in the same UNet call
    assert np.abs(on.astype(int) - off).mean() > 1
    s = snap(guidance=6.0)
    guide = loop.guide(s)
    cond, lat = loop.conditioning(s), loop.latents(s)
    kw = {"negative_prompt_embeds": guide.uncond.embeds}
    if cond.pooled is not None:
        kw.update(pooled_prompt_embeds=cond.pooled, negative_pooled_prompt_embeds=guide.uncond.pooled)
    ref = model.pipe(prompt_embeds=cond.embeds, latents=lat.clone(), num_inference_steps=2, guidance_scale=6.0,
                     height=128, width=128, output_type="pt", **kw).images
    loop.unet = counting.unet
    assert (loop.decode(loop.denoise(lat, cond, guide=guide)) - ref).abs().max().item() < 1e-4


def test_the_unconditional_embedding_is_encoded_once_and_kept(tiny_model):
    loop = StreamLoop(tiny_model, (128, 128), 1, seed=11, negative="a negative prompt of its own")
    for i in range(4):
        loop.frame(snap(guidance=5.0, phase=0.1 + 0.01 * i))
    encoded = loop.prompts.encoded  # the prompt and the negative prompt
    assert encoded == 2
    for i in range(70):  # more new prompts than the cache holds: the negative one stays
        loop.prompts.get(f"prompt number {i}")
    before = loop.prompts.encoded
    loop.frame(snap(guidance=5.0))
    assert loop.prompts.encoded == before  # the negative one is pinned (and the prompt held by its slot)


def test_sdxl_without_a_negative_prompt_guides_from_zeros_as_diffusers_does(tiny_xl_model):
    loop = StreamLoop(tiny_xl_model, (128, 128), 1, seed=11)
    guide = loop.guide(snap(guidance=4.0))
    assert guide is not None and not guide.uncond.embeds.any() and not guide.uncond.pooled.any()


def test_guidance_is_continuous_where_it_switches_on(tiny_model):
    loop = StreamLoop(tiny_model, (128, 128), 1, seed=11, negative="blurry")
    at_one = loop.frame(snap(guidance=1.0)).astype(int)
    just_above = loop.frame(snap(guidance=1.05)).astype(int)
    far = loop.frame(snap(guidance=8.0)).astype(int)
    assert np.abs(just_above - at_one).mean() < 0.2 * np.abs(far - at_one).mean()


def test_a_scheduler_a_set_names_must_be_one_the_loop_knows():
    from vj.show.setfile import parse_set
    from vj.core.errors import ConfigError

    assert parse_set({"generator": {"scheduler": "ddim", "negative": "text, watermark", "steps": 8}}).scheduler == "ddim"
    with pytest.raises(ConfigError, match="scheduler = 'ddmi'.*ddim"):
        parse_set({"generator": {"scheduler": "ddmi"}})
