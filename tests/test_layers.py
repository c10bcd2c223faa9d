"""The layer stack on real OpenGL (EGL): blend modes against their formulas, opacity, transforms,
the crossfader, shader layers, the effect chain and live reloading of effect files."""

from dataclasses import replace
import os
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from vj.show.setfile import parse_set
from vj.core.errors import ConfigError
from vj.render import programs as comp_mod
from vj.render.compositor import Compositor
from vj.core.spec import BLEND_MODES, LayerSpec
from vj.render.shaders import available_effects, compile_program, load_fragment
from vj.core.snapshot import Snapshot

W, H = 64, 48

FORMULAS = {
    "normal": lambda b, t: t,
    "add": lambda b, t: np.minimum(b + t, 1),
    "screen": lambda b, t: 1 - (1 - b) * (1 - t),
    "multiply": lambda b, t: b * t,
    "overlay": lambda b, t: np.where(b < 0.5, 2 * b * t, 1 - 2 * (1 - b) * (1 - t)),
    "difference": lambda b, t: np.abs(b - t),
    "subtract": lambda b, t: np.maximum(b - t, 0),
    "lighten": np.maximum,
    "darken": np.minimum,
}


def snap(values=None, t=0.0):
    return Snapshot(0, t, values or {}, ("x",), 1)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """Two images at the output size whose channels sweep 0..1 in different directions."""
    d = tmp_path_factory.mktemp("layers")
    y, x = np.mgrid[0:H, 0:W]
    base = np.stack([x / (W - 1), y / (H - 1), np.full((H, W), 0.3)], -1)
    top = np.stack([y / (H - 1), 1 - x / (W - 1), np.full((H, W), 0.7)], -1)
    paths = []
    for name, img in (("base", base), ("top", top)):
        p = d / f"{name}.png"
        Image.fromarray((img * 255).round().astype(np.uint8)).save(p)
        paths.append(p)
    return [np.asarray(Image.open(p).convert("RGB")).astype(float) / 255 for p in paths], paths


@pytest.mark.parametrize("mode", BLEND_MODES)
def test_every_blend_mode_computes_its_formula(gl_ctx, pictures, mode):
    (base, top), (pb, pt) = pictures
    for opacity in (1.0, 0.5):
        c = Compositor(gl_ctx, (W, H), layers=(LayerSpec(f"image:{pb}"), LayerSpec(f"image:{pt}", mode, opacity)))
        c.render(snap())
        got = c.read_frame().astype(float) / 255
        want = base + opacity * (FORMULAS[mode](base, top) - base)
        assert np.abs(got - want).max() <= 2.5 / 255, (mode, opacity)


def test_blend_mode_and_opacity_are_parameters(gl_ctx, pictures):
    (base, top), (pb, pt) = pictures
    c = Compositor(gl_ctx, (W, H), layers=(LayerSpec(f"image:{pb}"), LayerSpec(f"image:{pt}")))
    c.render(snap({"layer.2.blend": BLEND_MODES.index("multiply"), "layer.2.opacity": 0.25}))
    got = c.read_frame().astype(float) / 255
    assert np.abs(got - (base + 0.25 * (base * top - base))).max() <= 2.5 / 255


def test_crossfader_moves_between_groups(gl_ctx, pictures):
    (base, top), (pb, pt) = pictures
    layers = (LayerSpec(f"image:{pb}", group="A"), LayerSpec(f"image:{pt}", group="B"))
    c = Compositor(gl_ctx, (W, H), layers=layers)
    for x in (0.0, 0.3, 1.0):
        c.render(snap({"mixer.crossfade": x}))
        got = c.read_frame().astype(float) / 255
        assert np.abs(got - ((1 - x) * base + x * top)).max() <= 2.5 / 255


def test_a_layer_transform_moves_and_turns_it(gl_ctx, tmp_path):
    img = np.zeros((H, W, 3), np.uint8)
    img[20:28, 44:52] = 255  # a white block right of centre
    p = tmp_path / "block.png"
    Image.fromarray(img).save(p)
    c = Compositor(gl_ctx, (W, H), layers=(LayerSpec(f"image:{p}"),))

    def centre(values):
        c.render(snap(values))
        ys, xs = np.nonzero(c.read_frame()[..., 0] > 128)
        return ys.mean(), xs.mean()

    y0, x0 = centre({})
    assert abs(x0 - 47.5) < 1 and abs(y0 - 23.5) < 1
    y, x = centre({"layer.1.x": -0.25})  # a quarter of the width to the left
    assert abs(x - (x0 - 16)) < 1 and abs(y - y0) < 1
    y, x = centre({"layer.1.rotate": 90.0})  # counterclockwise: right of centre goes to the top
    assert abs(x - 31.5) < 1.5 and y < y0 - 8


def test_a_layer_scaled_down_shows_what_lies_beneath(gl_ctx, pictures):
    (base, top), (pb, pt) = pictures
    c = Compositor(gl_ctx, (W, H), layers=(LayerSpec(f"image:{pb}"), LayerSpec(f"image:{pt}")))
    c.render(snap({"layer.2.scale": 0.5}))
    got = c.read_frame().astype(float) / 255
    assert np.abs(got[2, 2] - base[2, 2]).max() <= 2.5 / 255  # a corner: the base layer, no tiling
    assert np.abs(got[H // 2, W // 2] - top[H // 2, W // 2]).max() <= 4 / 255  # the centre: the top layer


def test_a_video_layer_follows_the_clock_frame_exact(gl_ctx, tmp_path):
    import subprocess

    clip = tmp_path / "rgb.mp4"
    cmd = ["ffmpeg", "-v", "error", "-y"]
    for colour in ("red", "lime", "blue"):
        cmd += ["-f", "lavfi", "-i", f"color=c={colour}:s=96x64:r=30:d=1"]
    subprocess.run(cmd + ["-filter_complex", "[0][1][2]concat=n=3:v=1:a=0", "-pix_fmt", "yuv420p", str(clip)], check=True)
    c = Compositor(gl_ctx, (W, H), layers=(LayerSpec(f"video:{clip}"),))
    try:
        seen = []
        for t in (0.5, 1.5, 2.5, 3.5):
            c.render(snap(t=t))
            seen.append(int(np.argmax(c.read_frame()[H // 2, W // 2])))
        assert seen == [0, 1, 2, 0]  # red, green, blue, and round again
    finally:
        c.close()


def test_a_camera_layer_through_opencv(gl_ctx, tmp_path):
    """No camera here: OpenCV opens a file the way it opens a stream URL (camera:rtsp://...)."""
    pytest.importorskip("cv2", reason="the camera extra: pip install 'demontage[camera]'")
    import subprocess

    clip = tmp_path / "orange.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=orange:s=64x64:r=30:d=2",
                    "-pix_fmt", "yuv420p", str(clip)], check=True)
    c = Compositor(gl_ctx, (W, H), layers=(LayerSpec(f"camera:{clip}"),), live=True)
    try:
        deadline = time.monotonic() + 10
        px = np.zeros(3)
        while px[0] < 200 and time.monotonic() < deadline:
            c.render(snap())
            px = c.read_frame()[H // 2, W // 2].astype(int)
            time.sleep(0.02)
        assert px[0] > 240 and 140 < px[1] < 190 and px[2] < 30  # orange, upright RGB
    finally:
        c.close()


def test_a_shader_layer_draws_itself(gl_ctx):
    c = Compositor(gl_ctx, (W, H), layers=(LayerSpec("shader:plasma"),))
    c.render(snap({}, t=0.0))
    a = c.read_frame().astype(int)
    c.render(snap({}, t=1.0))
    b = c.read_frame().astype(int)
    assert a.std() > 10 and np.abs(a - b).mean() > 2  # an image, and it moves with time


def test_the_effect_chain_runs_in_order(gl_ctx, pictures):
    (base, top), (pb, pt) = pictures
    c = Compositor(gl_ctx, (W, H), effects=["posterize", "color"], layers=(LayerSpec(f"image:{pb}"),))
    c.render(snap({"fx.posterize.levels": 2, "fx.color.brightness": 0.1}))
    got = c.read_frame().astype(float) / 255
    want = np.clip(np.floor(base + 0.5) + 0.1, 0, 1)  # two levels, then brighter
    assert np.abs(got - want).max() <= 3 / 255


def test_a_layer_has_its_own_effect_chain(gl_ctx, pictures):
    (base, top), (pb, pt) = pictures
    layers = (LayerSpec(f"image:{pb}"), LayerSpec(f"image:{pt}", "normal", 1.0, "A", ("posterize", "color")))
    c = Compositor(gl_ctx, (W, H), effects=["color"], layers=layers)
    c.render(snap({"layer.2.fx.posterize.levels": 2, "layer.2.fx.color.brightness": 0.1, "layer.2.scale": 0.5}))
    got = c.read_frame().astype(float) / 255
    assert np.abs(got[2, 2] - base[2, 2]).max() <= 2.5 / 255  # outside the scaled layer: the base, untouched
    # inside, away from the level edges: red was low (-> 0 + 0.1), green and blue high (-> 1, clipped)
    patch = np.round(got[13:18, 18:23] * 255).reshape(-1, 3)
    assert set(patch[:, 0]) <= {25.0, 26.0} and (patch[:, 1:] == 255).all()
    # the master color effect stays at identity (its parameters are fx.color.*, apart from the layer's)
    c.render(snap({"layer.2.fx.posterize.levels": 2, "layer.2.scale": 0.5, "fx.color.brightness": -1.0}))
    assert c.read_frame().max() == 0


def test_every_shipped_effect_compiles_and_moves_the_image(gl_ctx, tmp_path):
    y, x = np.mgrid[0:H, 0:W]
    checker = np.where(((x // 8 + y // 8) % 2)[..., None] == 1, [230, 180, 40], [20, 60, 200]).astype(np.uint8)
    pb = tmp_path / "checker.png"
    Image.fromarray(checker).save(pb)
    base = checker.astype(float) / 255
    effects = [e for e in available_effects() if e != "passthrough"]
    assert {"kaleido", "mirror", "rgbsplit", "color", "posterize", "pixelate", "glow", "strobe", "displace"} <= set(effects)
    for name in effects:
        src = load_fragment(name)
        compile_program(gl_ctx, src)
        assert src.params, name
    # with settings that must show, each one changes the picture
    settings = {"mirror": {}, "rgbsplit": {"fx.rgbsplit.offset": 0.05}, "color": {"fx.color.hue": 120.0},
                "posterize": {"fx.posterize.levels": 2}, "pixelate": {"fx.pixelate.size": 16},
                "glow": {"fx.glow.glow": 0.0, "fx.glow.radius": 8}, "kaleido": {},
                "strobe": {"fx.strobe.amount": 1.0}, "displace": {"fx.displace.amount": 0.2, "fx.displace.wave": 1.0}}
    from vj.core.features import Features

    for name, values in settings.items():
        c = Compositor(gl_ctx, (W, H), effects=[name], layers=(LayerSpec(f"image:{pb}"),))
        c.render(Snapshot(0, 0.3, values, ("x",), 1, Features(bpm=120.0, beat_phase=0.0)))
        got = c.read_frame().astype(float) / 255
        assert np.abs(got - base).mean() > 0.02, name


def test_a_set_folder_brings_its_own_effects_and_the_performer_has_a_folder_of_theirs(gl_ctx, tmp_path, monkeypatch,
                                                                                    caplog):
    """A set folder travels whole: its shaders/ beside the set file come first (even over a shipped
    name, said in the log), then $VJ_SHADERS, then the shipped ones; hot reload works there too."""
    import logging

    from vj import assemble
    from vj.show.setfile import load_set
    from vj.render import shaders

    caplog.set_level(logging.INFO, logger="vj")
    show_dir, mine = tmp_path / "my-set", tmp_path / "mine"
    (show_dir / "shaders").mkdir(parents=True)
    mine.mkdir()
    (show_dir / "shaders" / "ripple.frag").write_text(
        "// @param depth 0 0.1 0.05 how far\nuniform float depth;\n"
        "vec4 effect(vec2 uv) { return fetch(vec2(uv.x + depth * sin(uv.y * 40.0), uv.y)); }\n")
    (show_dir / "shaders" / "mirror.frag").write_text("vec4 effect(vec2 uv) { return vec4(1.0, 0.0, 0.0, 1.0); }\n")
    (mine / "tint.frag").write_text("vec4 effect(vec2 uv) { return fetch(uv) * vec4(0.0, 1.0, 0.0, 1.0); }\n")
    monkeypatch.setenv("VJ_SHADERS", str(mine))
    (show_dir / "set.toml").write_text('[compositor]\neffects = ["ripple", "tint", "mirror"]\n')
    show = load_set(show_dir / "set.toml")
    params = assemble.build_controls(show).params
    assert params.value("fx.ripple.depth") == 0.05
    assert show.shader_dirs == ((show_dir / "shaders").resolve(),)  # the folder travels in the parsed set
    assert shaders.find_shader("tint", show.shader_dirs) == mine / "tint.frag"
    assert shaders.find_shader("kaleido", show.shader_dirs) == shaders.shader_dir() / "kaleido.frag"
    assert "effect mirror: " in caplog.text and "instead of the shipped one" in caplog.text
    monkeypatch.setattr(comp_mod, "RELOAD_EVERY", 0.0)
    c = Compositor(gl_ctx, (W, H), effects=["ripple", "tint"], shader_dirs=show.shader_dirs)
    img = np.zeros((32, 32, 3), np.uint8)
    img[:, :16] = 255  # white left, black right: the ripple bends the edge
    c.upload(img)
    c.render(snap())
    out = c.read_frame().astype(int)
    assert out[..., 0].max() == 0 and out[..., 2].max() == 0 and out[..., 1].max() == 255  # tinted green
    edge = [int(np.argmin(row > 128)) for row in out[..., 1]]
    assert len(set(edge)) > 3  # bent
    (mine / "tint.frag").write_text("vec4 effect(vec2 uv) { return fetch(uv) * vec4(1.0, 0.0, 0.0, 1.0); }\n")
    st = os.stat(mine / "tint.frag")
    os.utime(mine / "tint.frag", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    c.render(snap())  # saved in the performer's folder: reloaded live
    assert c.read_frame()[..., 0].max() == 255 and c.read_frame()[..., 1].max() == 0
    c = Compositor(gl_ctx, (W, H), effects=["mirror"], shader_dirs=show.shader_dirs)
    c.render(snap())
    assert tuple(c.read_frame()[H // 2, W // 2]) == (255, 0, 0)  # the set's own mirror
    (tmp_path / "elsewhere.toml").write_text('[compositor]\neffects = ["mirror"]\n')
    other = load_set(tmp_path / "elsewhere.toml")  # another set, loaded after: its folder has no shaders/
    assert other.shader_dirs == () and shaders.find_shader("mirror", other.shader_dirs) == shaders.shader_dir() / "mirror.frag"
    c = assemble.make_compositor(gl_ctx, replace(other, size=(W, H)))
    c.render(snap())
    assert tuple(c.read_frame()[H // 2, W // 2]) != (255, 0, 0)  # the shipped mirror: the first set's stays its own


def test_a_saved_effect_is_reloaded_and_a_broken_one_keeps_the_old(gl_ctx, pictures, tmp_path, monkeypatch, caplog):
    from vj.render import shaders

    folder = tmp_path / "shaders"
    shutil.copytree(shaders.shader_dir(), folder)
    monkeypatch.setattr(shaders, "shader_dir", lambda: folder)
    monkeypatch.setattr(comp_mod, "RELOAD_EVERY", 0.0)
    (base, _), (pb, _) = pictures
    path = folder / "tint.frag"
    path.write_text("vec4 effect(vec2 uv) { return vec4(1.0, 0.0, 0.0, 1.0); }\n")
    c = Compositor(gl_ctx, (W, H), effects=["tint"], layers=(LayerSpec(f"image:{pb}"),))
    c.render(snap())
    assert c.read_frame()[..., 0].min() == 255

    def save(text):
        path.write_text(text)
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a later time, whatever the clock's grain

    save("// a tint\n// a comment\nvec4 effect(vec2 uv) {\n  return vec4(oops, 0.0, 0.0, 1.0);\n}\n")
    c.render(snap())  # the broken file: the old program runs on, the error names the line
    assert c.read_frame()[..., 0].min() == 255
    assert c.shader_errors() and "tint.frag:4" in c.shader_errors()[0] and "oops" in c.shader_errors()[0]
    assert "tint.frag:4" in caplog.text
    save("vec4 effect(vec2 uv) { return vec4(0.0, 0.0, 1.0, 1.0); }\n")
    c.render(snap())
    f = c.read_frame()
    assert f[..., 2].min() == 255 and f[..., 0].max() == 0 and not c.shader_errors()


def test_generated_frames_dissolve_in_when_the_generator_is_slower_than_the_display(gl_ctx):
    c = Compositor(gl_ctx, (W, H))
    red, blue = np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)
    red[..., 0], blue[..., 2] = 255, 255
    seen = []
    for i in range(13):  # display at 60 fps, a generated frame every 4th frame (15 fps)
        if i % 4 == 0:
            c.upload(red if (i // 4) % 2 == 0 else blue)
        c.render(snap(t=i / 60))
        seen.append(c.read_frame()[H // 2, W // 2].astype(int))
    # after the first frames the interval is known: between arrivals the picture moves every frame
    later = seen[8:12]  # a red frame arrives at 8 over the blue: it comes in step by step
    reds = [px[0] for px in later]
    assert reds == sorted(reds) and reds[0] < reds[-1] and len(set(reds)) == 4
    c2 = Compositor(gl_ctx, (W, H))
    for i in range(13):
        if i % 4 == 0:
            c2.upload(red if (i // 4) % 2 == 0 else blue)
        c2.render(snap({"gen.interpolate": 0.0}, t=i / 60))
    px = c2.read_frame()[H // 2, W // 2]
    assert px[2] == 255 and px[0] == 0  # off: the blue frame that just arrived, whole (a cut)


def test_a_pause_in_the_generated_frames_does_not_slow_the_dissolves_after_it(gl_ctx):
    """A freeze (or a restarted generator) leaves seconds between two generated frames: after it,
    frames must dissolve in at the generator's pace again, not over those seconds."""
    c = Compositor(gl_ctx, (W, H))
    red, blue = np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)
    red[..., 0], blue[..., 2] = 255, 255
    t, k = 0.0, 0
    for i in range(24):  # 60 fps, a frame every 4th: the pace is learnt
        if i % 4 == 0:
            c.upload(red if k % 2 == 0 else blue)
            k += 1
        c.render(snap(t=t))
        t += 1 / 60
    for i in range(360):  # frozen for 6 s: the display goes on, no frame comes
        c.render(snap(t=t))
        t += 1 / 60
    for i in range(5):  # the first frame after the pause, then the next one, dissolving as before
        if i in (0, 4):
            c.upload(red if k % 2 == 0 else blue)
            k += 1
        c.render(snap(t=t))
        t += 1 / 60
    px = c.read_frame()[H // 2, W // 2].astype(int)
    assert px[0] < 255 and px[2] < 255  # the last frame is coming in over the one before
    c.render(snap(t=t + 3 / 60))
    px = c.read_frame()[H // 2, W // 2].astype(int)
    assert min(px[0], px[2]) <= 1  # and is whole after the generator's interval, not 6 s later
    t += 4 / 60
    for _ in range(3):  # a performer tapping the freeze: one frame between long freezes
        for i in range(120):
            c.render(snap(t=t))
            t += 1 / 60
        c.forget_pace()  # the engine says the freeze ended
        c.upload(red if k % 2 == 0 else blue)
        k += 1
        c.render(snap(t=t))
        t += 1 / 60
    for i in range(4):
        if i == 3:
            c.upload(red if k % 2 == 0 else blue)
            k += 1
        c.render(snap(t=t))
        t += 1 / 60
    c.render(snap(t=t + 3 / 60))
    px = c.read_frame()[H // 2, W // 2].astype(int)
    assert min(px[0], px[2]) <= 1  # still the generator's pace


def test_the_master_fader_darkens_every_output_but_not_the_feedback(gl_ctx):
    c = Compositor(gl_ctx, (W, H))
    c.upload(np.full((8, 8, 3), 200, np.uint8))
    c.render(snap({"master.level": 0.5}))
    assert c.read_frame().mean() == pytest.approx(100, abs=1.5)
    assert np.frombuffer(c.read_rgba(), np.uint8).reshape(H, W, 4)[..., :3].mean() == pytest.approx(100, abs=1.5)
    c.render(snap({"master.level": 0.0}))
    assert c.read_frame().max() == 0 and c.output is not None  # black to every output
    c.upload(np.zeros((8, 8, 3), np.uint8))
    c.render(snap({"master.level": 1.0, "feedback.amount": 0.5}))  # the fader up again: the trail is whole
    assert c.read_frame().mean() == pytest.approx(100, abs=1.5)  # mix(new=0, prev=200 (not 0), 0.5)
    assert c.output is c.image.previous  # at full level no extra pass, the program image itself


def test_layers_in_a_set_are_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"\[\[layer\]\] #1: blend 'screne' \(did you mean 'screen'\?\)"):
        parse_set({"layer": [{"source": "generator", "blend": "screne"}]})
    with pytest.raises(ConfigError, match=r"image .*nope.png.: no such file"):
        parse_set({"layer": [{"source": "image:nope.png"}]})
    with pytest.raises(ConfigError, match="'camera' needs what it reads.*sources: generator, feedback, input .*, image:<file>, "
                                          "video:<file>, camera:<N\\|URL>, shader:<name>"):
        parse_set({"layer": [{"source": "camera"}]})
    s = parse_set({"layer": [{"source": "generator"}, {"source": "shader:plasma", "blend": "screen", "group": "B"}],
                   "compositor": {"effects": ["mirror", "rgbsplit"]}})
    assert s.effects == ("mirror", "rgbsplit") and s.layers[1].group == "B"


def test_bench_compositor_prints_what_the_issue_asks_for():
    import json

    from helpers import vj

    r = vj("bench", "compositor", "--size", "320x180", "--frames", "5", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["size"] == "320x180" and out["ms_per_frame"] > 0 and out["renderer"]
    assert out["layers"] == 4 and out["effects"] == 3 and out["scene"] == "standard" and out["passes"] == 2
    r = vj("bench", "compositor", "--frames", "3", "--json", "--set", "demo")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["scene"] == "demo" and out["layers"] == 1 and out["effects"] == 1 and out["size"] == "640x360"


def test_the_program_fed_back_is_a_layer_of_its_own(gl_ctx, pictures):
    """source = "feedback": the last program image, with its own transform, blend and effects."""
    (base, _), (pb, _) = pictures
    c = Compositor(gl_ctx, (W, H), layers=(LayerSpec(f"image:{pb}"), LayerSpec("feedback", "normal", 0.5)))
    want = np.zeros_like(base)  # the program starts black
    for _ in range(3):
        c.render(snap())
        want = base + 0.5 * (want - base)  # half of the picture, half of the frame before
        assert np.abs(c.read_frame().astype(float) / 255 - want).max() <= 2.5 / 255
    # scaled down and shifted, it leaves the base alone outside its frame
    c2 = Compositor(gl_ctx, (W, H), layers=(LayerSpec(f"image:{pb}"), LayerSpec("feedback", "add", 1.0, "A",
                                                                                  ("posterize",))))
    for _ in range(2):  # the first frame adds the black start: the base; the second adds it, posterized
        c2.render(snap({"layer.2.scale": 0.5, "layer.2.fx.posterize.levels": 2}))
    got = c2.read_frame().astype(float) / 255
    assert np.abs(got[1, 1] - base[1, 1]).max() <= 2.5 / 255  # outside the layer's frame
    y, x = H // 2, 38  # inside: it shows the last image at 0.7 of the width, where red > 0.5 -> 1
    assert got[y, x, 0] == 1.0 and base[y, x, 0] < 0.7


def test_the_input_layer_and_contain_put_the_feed_and_the_result_side_by_side(gl_ctx):
    """The camera set's layout: the generator's input on the left half, its frame on the right, each
    whole (contain) in a frame twice as wide as they are."""
    layers = (LayerSpec("input", fit="contain"), LayerSpec("generator", fit="contain"))
    c = Compositor(gl_ctx, (128, 36), layers=layers)
    assert c.wants_input("")  # an input layer: the engine asks the generator for its input
    feed = np.zeros((9, 16, 3), np.uint8)
    feed[..., 0] = 255  # red, 16:9
    feed[:, :2] = (0, 255, 0)  # a green left edge: the whole image is there, not a crop of it
    made = np.zeros((9, 16, 3), np.uint8)
    made[..., 2] = 255  # blue
    c.upload_input(feed)
    c.upload(made)
    c.render(snap({"layer.1.x": -0.25, "layer.2.x": 0.25}))
    out = c.read_frame().astype(int)
    left, right = out[:, 16:60], out[:, 68:124]
    assert left[..., 0].min() > 200 and left[..., 2].max() < 40  # the feed, red
    assert right[..., 2].min() > 200 and right[..., 0].max() < 40  # the result, blue
    assert out[18, 1, 1] > 200 and out[18, 65, 1] < 40  # the feed's green edge at the left of its half
    c = Compositor(gl_ctx, (128, 36), layers=(LayerSpec("generator", fit="contain"),))
    c.upload(made)
    c.render(snap())
    out = c.read_frame().astype(int)
    assert out[:, :30].max() < 10 and out[:, 98:].max() < 10  # contained: transparent (black) beside it
    assert out[:, 40:88, 2].min() > 200 and not c.wants_input("")
