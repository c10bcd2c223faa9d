"""The built-in model on its real, shipped weights: it follows the words, repeats a seed, differs
across seeds, blends prompts, and plays image-to-image and feedback in the same loop as sd-turbo.
Behaviour only: the figures (hue errors, shape accuracy, speed) are in BENCHMARKS.md."""

from types import MappingProxyType

import numpy as np
import pytest
import torch

from vj.core.errors import ModelLoadError
from vj.generate import registry
from vj.generate.loop import StreamLoop
from vj.seedling import grammar, model, paint
from vj.seedling.adherence import generate, hue_error, hue_of
from vj.core.snapshot import Snapshot


@pytest.fixture(scope="module")
def seedling():
    spec = registry.resolve("seedling")
    return registry.load(spec, torch.device("cpu"), torch.float32)


@pytest.fixture(scope="module")
def loop(seedling):
    return StreamLoop(seedling, seedling.spec.native_size, 2, seed=1)


def test_it_is_the_default_of_the_demo_set_and_loads_offline(seedling):
    from vj.show.setfile import load_set
    from vj.resources import find_set

    assert load_set(find_set("demo")).model == "seedling"
    assert type(seedling.pipe).__name__ == "StableDiffusionPipeline"  # the same registry and loop as sd-turbo
    assert seedling.spec.native_size == (112, 64) and not seedling.spec.fixture
    assert seedling.pipe.text_encoder.config.hidden_size == 384  # MiniLM's token states


@pytest.mark.parametrize("colour", ["red", "blue", "green", "yellow"])
def test_a_colour_word_gives_its_hue(loop, colour):
    errors = [hue_error(hue_of(generate(loop, f"{colour} circle on black", s))[0], grammar.COLOURS[colour][0])
              for s in (1, 2, 3)]
    assert np.median(errors) < 30, errors


def test_a_red_prompt_is_red_and_a_blue_one_blue(loop):
    red = generate(loop, "glowing red rings on black", 3).reshape(-1, 3).astype(float)
    blue = generate(loop, "glowing blue rings on black", 3).reshape(-1, 3).astype(float)
    assert red[:, 0].mean() > 1.3 * red[:, 2].mean()  # washed (a young model), but red, not blue
    assert blue[:, 2].mean() > 1.3 * blue[:, 0].mean()


def test_one_seed_repeats_itself_and_another_seed_differs(loop):
    a, b = generate(loop, "white dots scattered", 11), generate(loop, "white dots scattered", 11)
    c = generate(loop, "white dots scattered", 12)
    assert np.array_equal(a, b)
    assert np.abs(a.astype(float) - c).mean() > 3  # a different picture, not a shifted shade


def test_blending_two_prompts_lands_between_them(loop):
    def hue(w):
        hs = [hue_of(generate(loop, "", s, {"prompt.1.weight": 1 - w, "prompt.2.weight": w},
                              ("red circle on black", "yellow circle on black")))[0] for s in (1, 2, 3)]
        return np.median([h if h < 180 else h - 360 for h in hs])  # red at 0/360, unwrapped towards yellow

    red, half, yellow = hue(0.0), hue(0.5), hue(1.0)
    assert red + 10 < half < yellow - 10, (red, half, yellow)


def test_free_text_steers_by_meaning(loop):
    """'crimson' and 'ruby' were never caption words; MiniLM puts them among the reds, and so the
    picture: their hues fall in the red family (magenta through red to orange, 300..30 degrees),
    far from the blues and greens."""
    for word in ("crimson", "ruby"):
        assert word not in " ".join(grammar.COLOURS)
        hues = [hue_of(generate(loop, f"{word} circle", s))[0] for s in (1, 2, 3)]
        assert all(hue_error(h, 345.0) < 45 for h in hues), (word, hues)
        assert all(hue_error(h, 180.0) > 120 for h in hues), (word, hues)


def _snap(i, prompt, values=None):
    return Snapshot(i, i / 24, MappingProxyType({"prompt.fade": 0.0, **(values or {})}), (prompt,), 5)


def test_feedback_runs_on_it_and_the_image_evolves(seedling):
    fb = StreamLoop(seedling, seedling.spec.native_size, 2, seed=5, input="feedback")
    frames = [fb.frame(_snap(i, "orange stripes", {"strength": 0.6, "input.zoom": 1.05})) for i in range(6)]
    assert all(f is not None and f.std() > 5 for f in frames)  # never black or flat
    assert np.abs(frames[-1].astype(float) - frames[0]).mean() > 1  # the loop feeds itself: it moves


def test_image_to_image_keeps_the_input_at_low_strength(seedling, tmp_path):
    """A painted blue grid given as the input, strength 0.3 under a red prompt: the grid's layout
    survives (it correlates with the input far more than a text-only picture does)."""
    import subprocess

    rng = np.random.default_rng(0)
    import random

    src = paint.paint(grammar.fill(grammar.Scene("blue", "grid", background="black"), random.Random(0)), 112, 64, rng)
    png = tmp_path / "grid.png"
    from PIL import Image

    Image.fromarray((src * 255).astype(np.uint8)).save(png)
    clip = tmp_path / "grid.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", str(png), "-t", "1", "-r", "10",
                    "-pix_fmt", "yuv420p", "-vf", "scale=112:64", str(clip)], check=True)
    i2i = StreamLoop(seedling, (112, 64), 2, seed=5, input=str(clip))
    t2i = StreamLoop(seedling, (112, 64), 2, seed=5)
    out = next(f for f in (i2i.frame(_snap(k, "red circle", {"strength": 0.3})) for k in range(5)) if f is not None)
    text_only = t2i.frame(_snap(0, "red circle"))
    g = src.mean(-1).ravel()
    corr = lambda img: np.corrcoef(g, img.astype(float).mean(-1).ravel())[0, 1]  # noqa: E731
    assert corr(out) > 0.5 and corr(out) > corr(text_only) + 0.3


def test_the_pixel_space_is_exact():
    x = torch.rand(1, 3, 64, 112) * 2 - 1
    space = model.PixelSpace()
    z = space.encode(x)[0].mode()
    assert z.shape == (1, 48, 16, 28)
    assert torch.equal(space.decode(z)[0], x)


def test_every_checkpoint_loads_and_they_paint_differently():
    loops = {c: StreamLoop(registry.load(registry.resolve(f"seedling@{c}"), torch.device("cpu"), torch.float32),
                           (112, 64), 2, seed=1) for c in model.CHECKPOINTS}
    imgs = {c: generate(l, "glowing red rings on black", 1).astype(float) for c, l in loops.items()}
    assert np.abs(imgs["early"] - imgs["final"]).mean() > 3
    assert np.abs(imgs["middle"] - imgs["final"]).mean() > 0.5
    total = sum(f.stat().st_size for f in model.WEIGHTS.rglob("*.safetensors"))
    assert total <= 25 * 1024 * 1024  # the budget for the weights in the repository


def test_an_unknown_checkpoint_or_a_tiny_vae_is_one_clear_line():
    with pytest.raises(ModelLoadError, match="seedling@early, seedling@middle and seedling@final"):
        registry.resolve("seedling@young")
    with pytest.raises(ModelLoadError, match="paints in pixels"):
        registry.load(registry.resolve("seedling"), torch.device("cpu"), torch.float32, tiny_vae=True)


def test_the_training_command_writes_checkpoints_that_load(tmp_path):
    """A short run of the real training code (few steps, few captions): three checkpoints and a
    loss log that the loader and the loss plot read."""
    from vj.seedling import sheets, train

    cfg = train.TrainConfig(steps=20, captions=150, warmup=5)
    train.train(cfg, tmp_path, progress=lambda s: None)
    for c in model.CHECKPOINTS:
        pipe = model.load(c, root=tmp_path)
        assert pipe.unet.config.cross_attention_dim == 384
    rows = (tmp_path / "loss.jsonl").read_text().splitlines()
    assert any('"checkpoint": "final"' in r for r in rows) and any('"loss"' in r for r in rows)
    assert sheets.loss_plot(tmp_path / "loss.jsonl", tmp_path / "loss.png").stat().st_size > 1000


def test_the_degenerate_set_renders_on_it_and_keeps_moving(tmp_path):
    """The shipped feedback set end to end (`vj render`), offline, on the built-in model: the
    pictures keep changing as they are fed back (never frozen, never black)."""
    from helpers import decode, vj

    out = tmp_path / "degenerate.mp4"
    r = vj("render", "degenerate", "--model", "seedling", "--steps", "2", "--duration", "2", "--seed", "3",
           "--size", "224x128", "--out", str(out))
    assert r.returncode == 0, r.stderr
    frames = decode(out, (224, 128)).astype(np.float32)
    assert len(frames) == 48
    assert all(f.mean() > 5 for f in frames)
    steps = [np.abs(frames[i + 6] - frames[i]).mean() for i in range(0, 42, 6)]
    assert min(steps) > 1.0, steps
