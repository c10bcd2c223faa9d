"""The streaming loop with tiny random models built from the real classes (no weights needed)."""

import time

import numpy as np
import pytest
import torch

from vj.generate.loop import NonFiniteFrame, StreamLoop
from vj.generate.noise import NoiseField
from vj.generate.conditioning import Conditioning
from vj.generate.worker import Generator
from vj.core.snapshot import Snapshot
from helpers import FaultInjectingLoop, OutOfMemoryLoop


def snap(index=0, phase=0.1, kick=0.0, prompts=("a flooded cathedral",), weights=None, seed=7):
    values = {"noise.phase": phase, "noise.kick": kick}
    for i, w in enumerate(weights or [], 1):
        values[f"prompt.{i}.weight"] = w
    return Snapshot(index, index / 24, values, tuple(prompts), seed)


@pytest.mark.parametrize("which, steps", [("tiny_model", 1), ("tiny_model", 2), ("tiny_xl_model", 1), ("tiny_xl_model", 3)])
def test_loop_computes_what_the_diffusers_pipeline_computes(request, which, steps):
    model = request.getfixturevalue(which)
    loop = StreamLoop(model, (128, 128), steps, seed=11)
    s = snap(kick=0.3, prompts=("a burning cathedral", "frozen circuitry"), weights=[0.7, 0.6])
    cond, lat = loop.conditioning(s), loop.latents(s)
    extra = {"pooled_prompt_embeds": cond.pooled} if cond.pooled is not None else {}
    ref = model.pipe(prompt_embeds=cond.embeds, latents=lat.clone(), num_inference_steps=steps, guidance_scale=0.0,
                     height=128, width=128, output_type="pt", **extra).images
    ours = loop.decode(loop.denoise(lat, cond))
    assert ours.shape == ref.shape == (1, 3, 128, 128)
    assert (ours - ref).abs().max().item() < 1e-4
    px = loop.frame(s)
    assert px.shape == (128, 128, 3) and px.dtype == np.uint8
    assert px.std() > 1  # an image, not a flat fill


def test_same_snapshot_same_frame_and_seed_changes_it(tiny_model):
    loop = StreamLoop(tiny_model, (128, 128), 1, seed=3)
    a, b = loop.frame(snap(seed=3)), loop.frame(snap(seed=3))
    assert np.array_equal(a, b)
    c = loop.frame(snap(seed=4))
    assert np.abs(a.astype(int) - c).mean() > 2


def mean_diff(a, b):
    return float(np.abs(a.astype(np.float64) - b).mean())


@pytest.mark.parametrize("knob", ["phase", "kick", "weight"])
def test_small_moves_make_small_changes_and_large_moves_larger_ones(tiny_model, knob):
    loop = StreamLoop(tiny_model, (128, 128), 1, seed=5)
    base = dict(phase=0.1, kick=0.0, weights=[1.0, 0.0], prompts=("glass", "flesh"))

    def at(delta):
        kw = dict(base)
        if knob == "weight":
            kw["weights"] = [1.0 - delta, delta]
        else:
            kw[knob] = base[knob] + delta
        return loop.frame(snap(**kw))

    ref = at(0.0)
    small, large = mean_diff(ref, at(0.02)), mean_diff(ref, at(0.5))
    assert 0 < small < large
    assert small < 0.25 * large


def test_noise_field_keeps_the_norm_and_comes_home():
    f = NoiseField((1, 4, 16, 16), 9, torch.device("cpu"), torch.float32)
    n0 = float(f.at(0.0, 0.0).norm())
    for phase, kick in [(0.25, 0.0), (0.6, 0.5), (0.9, -1.0)]:
        assert float(f.at(phase, kick).norm()) == pytest.approx(n0, rel=1e-5)
    assert torch.allclose(f.at(1.0, 0.0), f.at(0.0, 0.0), atol=1e-5)
    assert not torch.allclose(f.at(0.5, 0.0), f.at(0.0, 0.0))


def test_prompts_are_encoded_once(tiny_model):
    loop = StreamLoop(tiny_model, (128, 128), 1, seed=1)
    for w in (0.1, 0.5, 0.9):
        loop.frame(snap(prompts=("glass", "flesh"), weights=[1 - w, w]))
    assert loop.prompts.encoded == 2


def test_size_must_fit_the_model(tiny_model):
    from vj.core.errors import VJError

    with pytest.raises(VJError, match="multiples of 16"):
        StreamLoop(tiny_model, (100, 128), 1, seed=1)


def test_a_failing_or_nan_frame_is_dropped_counted_and_the_next_one_comes(tiny_model):
    loop = StreamLoop(tiny_model, (128, 128), 1, seed=1)
    for kind in ("raise", "nan"):
        g = Generator(FaultInjectingLoop(loop, {1}, kind))
        assert g.produce(snap(0)) is not None
        assert g.produce(snap(1)) is None
        assert g.errors == 1 and ("injected fault" in g.last_error or "NaN" in g.last_error)
        assert g.produce(snap(2)) is not None


def test_real_nan_from_the_model_is_caught(tiny_model):
    loop = StreamLoop(tiny_model, (128, 128), 1, seed=1)
    s = snap(prompts=("poisoned",))
    good = loop.prompts.get("poisoned")
    loop.prompts._cache["poisoned"] = Conditioning(torch.full_like(good.embeds, float("nan")))  # NaN into the UNet
    with pytest.raises(NonFiniteFrame):
        loop.frame(s)


def test_generator_thread_serves_the_newest_snapshot_and_survives_faults(tiny_model):
    loop = StreamLoop(tiny_model, (128, 128), 1, seed=1)
    g = Generator(FaultInjectingLoop(loop, set(range(0, 1000, 2))))  # every even frame fails
    g.start()
    try:
        got = []
        deadline = time.monotonic() + 20
        i = 0
        while len(got) < 5 and time.monotonic() < deadline:
            g.submit(snap(i))
            i += 1
            f = g.latest()
            if f is not None:
                got.append(f)
            time.sleep(0.01)
        assert len(got) == 5
        assert all(f.index % 2 == 1 for f in got)
        assert g.errors > 0
        assert g._thread.is_alive()
    finally:
        g.stop()
    assert g._thread is None


def test_out_of_memory_lowers_the_size_and_says_so(tiny_model, caplog):
    loop = StreamLoop(tiny_model, (128, 128), 1, seed=1)
    g = Generator(OutOfMemoryLoop(loop, 96 * 96))
    assert g.produce(snap(0)) is None
    assert g.errors == 1 and "lowered the size from 128x128 to 96x96" in g.last_error
    assert "out of GPU memory at 128x128; now making 96x96 frames" in caplog.text
    f = g.produce(snap(1))
    assert f is not None and f.pixels.shape == (96, 96, 3) and g.size == (96, 96)


def test_out_of_memory_at_the_smallest_size_keeps_the_last_frame_and_says_why(tiny_model, caplog):
    loop = StreamLoop(tiny_model, (16, 16), 1, seed=1)
    g = Generator(OutOfMemoryLoop(loop, 0))
    assert g.produce(snap(0)) is None and g.produce(snap(1)) is None
    assert g.last_error == "out of GPU memory at the smallest size" and loop.size == (16, 16)
    assert "the smallest size it goes to" in caplog.text


@pytest.mark.parametrize("which, steps", [("tiny_model", 2), ("tiny_model", 3), ("tiny_xl_model", 2)])
def test_stream_batch_gives_the_step_by_step_result_for_a_still_snapshot(request, which, steps):
    """With the stream batch each frame's steps run in the UNet calls of the following frames; for
    a snapshot that does not move, every frame must still be the step-by-step image."""
    model = request.getfixturevalue(which)
    plain = StreamLoop(model, (128, 128), steps, seed=3)
    batched = StreamLoop(model, (128, 128), steps, seed=3, batch=True)
    s = snap(prompts=("a burning cathedral",))
    want = plain.frame(s)
    calls = []
    hook = model.unet.register_forward_pre_hook(lambda mod, args: calls.append(args[0].shape[0]))
    try:
        got = [batched.frame(s) for _ in range(steps + 2)]
    finally:
        hook.remove()
    assert calls[:steps] == [1] * steps and calls[steps:] == [steps] * (steps + 1)  # warm-up, then one call a frame
    for g in got:
        assert np.abs(g.astype(int) - want).max() <= 1  # batched arithmetic may round one level apart


def test_stream_batch_lags_by_steps_minus_one_frames(tiny_model):
    batched = StreamLoop(tiny_model, (128, 128), 2, seed=3, batch=True)
    plain = StreamLoop(tiny_model, (128, 128), 2, seed=3)
    a, b = snap(phase=0.1), snap(phase=0.4)
    batched.frame(a)  # warm-up with a
    first_b = batched.frame(b)  # still finishes a's latent (entered one frame ago)
    second_b = batched.frame(b)
    assert np.abs(first_b.astype(int) - plain.frame(a)).mean() < np.abs(first_b.astype(int) - plain.frame(b)).mean()
    assert np.abs(second_b.astype(int) - plain.frame(b)).max() <= 1
