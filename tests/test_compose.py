"""Fused effect chains (vj/render/compose.py) on real OpenGL: a chain of effects that each read
their input once is one pass, an effect that reads it at several places starts a pass (and is left
out at its identity), names of fused files never meet, errors name the file and its line, what is
off is not in the code, and 8-bit feedback still fades where it should."""

import shutil

import numpy as np
import pytest
from PIL import Image

from vj.render.compositor import Compositor
from vj.core.spec import LayerSpec
from vj.render.shaders import ShaderError, top_level_names
from vj.core.snapshot import Snapshot

W, H = 64, 48


def snap(values=None, t=0.0, index=0):
    return Snapshot(index, t, values or {}, ("x",), 1)


@pytest.fixture()
def still(tmp_path):
    y, x = np.mgrid[0:H, 0:W]
    img = np.stack([x / (W - 1), y / (H - 1), np.full((H, W), 0.5)], -1)
    p = tmp_path / "still.png"
    Image.fromarray((img * 255).round().astype(np.uint8)).save(p)
    return p, np.asarray(Image.open(p).convert("RGB")).astype(float) / 255


@pytest.fixture()
def shader_folder(tmp_path, monkeypatch):
    from vj.render import shaders

    folder = tmp_path / "shaders"
    shutil.copytree(shaders.shader_dir(), folder)
    monkeypatch.setattr(shaders, "shader_dir", lambda: folder)
    return folder


def test_a_chain_of_single_fetch_effects_is_one_pass_and_a_split_starts_another(gl_ctx, still):
    p, base = still
    c = Compositor(gl_ctx, (W, H), effects=["color", "mirror", "rgbsplit", "posterize"], layers=(LayerSpec(f"image:{p}"),))
    c.render(snap({"fx.rgbsplit.offset": 0.05, "fx.mirror.amount": 0.0}))
    assert c.passes == 2  # [stack, color, mirror] -> [rgbsplit, posterize]
    split = c.read_frame().astype(float) / 255
    c.render(snap({"fx.rgbsplit.offset": 0.0, "fx.mirror.amount": 0.0}))
    assert c.passes == 1  # at its identity the split is left out: no pass at all
    plain = c.read_frame().astype(float) / 255
    levels = np.floor(base * 5 + 0.5) / 5  # posterize's default 6 levels, run on the stack as it is
    assert np.abs(plain - levels).max() <= 1.5 / 255
    assert np.abs(split[..., 0] - plain[..., 0]).mean() > 0.02  # red moved
    assert np.abs(split[..., 1] - plain[..., 1]).max() <= 1.5 / 255  # green did not


def test_fused_files_keep_their_names_to_themselves(gl_ctx, still, shader_folder):
    """Two effects with the same helper and uniform names, one of them twice (master and layer)."""
    p, base = still
    (shader_folder / "lift.frag").write_text(
        "// @param amount 0 1 0.1\nuniform float amount;\n"
        "vec3 shape(vec3 c) { return c + amount; }\n"
        "vec4 effect(vec2 uv) { vec4 c = fetch(uv); return vec4(shape(c.rgb), c.a); }\n")
    (shader_folder / "gain.frag").write_text(
        "// @param amount 0 4 1\nuniform float amount;\nconst float ONE = 1.0, TWO = 2.0;\n"
        "vec3 shape(vec3 c) { return c * amount * ONE; }\n"
        "vec4 effect(vec2 uv) { vec4 c = fetch(uv); return vec4(shape(c.rgb), c.a); }\n")
    layers = (LayerSpec(f"image:{p}", effects=("gain",)),)
    c = Compositor(gl_ctx, (W, H), effects=["lift", "gain"], layers=layers)
    c.render(snap({"fx.lift.amount": 0.1, "fx.gain.amount": 0.5, "layer.1.fx.gain.amount": 0.8}))
    assert c.passes == 1
    want = np.clip((base * 0.8 + 0.1) * 0.5, 0, 1)  # layer gain, then the master's lift and gain
    assert np.abs(c.read_frame().astype(float) / 255 - want).max() <= 1.5 / 255


def test_top_level_names_are_found_in_the_ways_glsl_declares_them():
    code = """
    // a comment { with a brace
    uniform float a, b;
    const vec2 K = vec2(1.0, 2.0), L = vec2(0.0);
    float arr[3];
    vec3 pal(float t) { float inner = t; return vec3(inner); }
    /* vec4 hidden(vec2 p) { } */
    vec4 effect(vec2 uv) { return fetch(uv); }
    """
    assert top_level_names(code) == ("a", "b", "K", "L", "arr", "pal", "effect")


def test_an_error_in_a_chain_names_the_file_and_its_line(gl_ctx, still, shader_folder):
    p, _ = still
    (shader_folder / "broken.frag").write_text("// fine\n// fine\nvec4 effect(vec2 uv) {\n    return fetch(uv) * nope;\n}\n")
    with pytest.raises(ShaderError, match=r"broken\.frag:4: .*nope"):
        Compositor(gl_ctx, (W, H), effects=["color", "broken"], layers=(LayerSpec(f"image:{p}"),))


def test_what_is_off_is_not_in_the_code(gl_ctx, still):
    """A software renderer runs both arms of a branch: a feedback fetch behind `if` would cost as
    much unused as used. With feedback at 0 the stack's shader does not read the previous image."""
    p, _ = still
    c = Compositor(gl_ctx, (W, H), layers=(LayerSpec(f"image:{p}"), LayerSpec(f"image:{p}", "screen", 0.5)))
    c.render(snap({"feedback.amount": 0.0}))
    off = c.programs.plan.stack.text.code
    c.render(snap({"feedback.amount": 0.5}))
    on = c.programs.plan.stack.text.code
    assert "u_prev" not in off.split("void main")[0].split("vec4 stage")[1] and "texture(u_prev" in on
    assert "blend_rgb(" not in on  # the set's blend modes compiled in
    c.render(snap({"feedback.amount": 0.5, "layer.2.blend": 3}))  # moved: the general blend
    assert "blend_rgb(u_mode1" in c.programs.plan.stack.text.code


def test_warm_up_compiles_what_a_show_meets(gl_ctx, still):
    p, _ = still
    c = Compositor(gl_ctx, (W, H), effects=["color", "rgbsplit"], layers=(LayerSpec(f"image:{p}"), LayerSpec("generator")))
    c.warm_up()
    n = c.programs.compiled
    for i, values in enumerate([{"feedback.amount": 0.5}, {"fx.rgbsplit.offset": 0.0}, {"layer.2.blend": 4},
                                {"feedback.amount": 0.3, "fx.rgbsplit.offset": 0.0, "layer.1.blend": 2}]):
        if i % 2 == 0:
            c.upload(np.full((8, 8, 3), 40 * i, np.uint8))
        c.render(snap(values, t=i / 60, index=i))
    assert c.programs.compiled == n


@pytest.mark.parametrize("precision", [8, 16])
@pytest.mark.parametrize("effects", [[], ["rgbsplit", "color"]])
def test_long_feedback_trails_fade_to_the_picture(gl_ctx, precision, effects):
    """feedback 0.9 from white onto grey 100: rounding to 8 bits alone sticks about 5 steps away
    (0.1 x 5 < half a step); dithered, the trail ends where it should, also when the feedback is
    mixed in a pass before others (an RGB split starts a pass)."""
    c = Compositor(gl_ctx, (W, H), precision=precision, effects=effects)
    c.upload(np.full((8, 8, 3), 255, np.uint8))
    c.render(snap({"feedback.amount": 0.0}))
    c.upload(np.full((8, 8, 3), 100, np.uint8))
    c.upload(np.full((8, 8, 3), 100, np.uint8))  # both frames grey: nothing left to dissolve
    for i in range(1, 150):
        c.render(snap({"feedback.amount": 0.9, "fx.rgbsplit.offset": 1e-6}, t=i / 60, index=i))
    assert c.read_frame().astype(float).mean() == pytest.approx(100, abs=1.0)


def test_chains_with_several_passes_on_layers_of_every_kind(gl_ctx, still):
    """Pre-passes ping-pong right: a still whose chain needs three images, a generator layer whose
    chain starts a pass while a frame dissolves in, a shader source with a blur."""
    p, base = still
    layers = (LayerSpec("generator", effects=("rgbsplit",)), LayerSpec(f"image:{p}", "screen", 1.0, "A", ("glow", "rgbsplit", "posterize")),
              LayerSpec("shader:plasma", "normal", 0.5, "B", ("glow",)))
    c = Compositor(gl_ctx, (W, H), effects=["glow", "color"], layers=layers)
    values = {"layer.1.fx.rgbsplit.offset": 0.02, "layer.2.fx.rgbsplit.offset": 0.02, "layer.2.fx.glow.radius": 4,
              "layer.3.fx.glow.radius": 4, "fx.glow.radius": 2, "mixer.crossfade": 0.5}
    frames = []
    for i in range(8):  # a frame every 4th: the newest dissolves in over the one before
        if i % 4 == 0:
            c.upload(np.full((16, 16, 3), 60 * (i // 4 + 1), np.uint8))
        c.render(snap(values, t=i / 60, index=i))
        frames.append(c.read_frame().astype(float))
    # layer passes: generator 1 (cover), still 2 (cover, glow), plasma 1 (its glow's input); stack; master 1
    assert c.passes == 1 + 2 + 1 + 1 + 1
    assert all(f.std() > 5 for f in frames)
    assert np.abs(frames[-1] - frames[-2]).mean() > 0.2  # the dissolve and the plasma move it


def test_a_saved_shader_source_is_reloaded(gl_ctx, shader_folder, monkeypatch):
    from vj.render import programs as comp_mod

    monkeypatch.setattr(comp_mod, "RELOAD_EVERY", 0.0)
    src = shader_folder / "flat.frag"
    src.write_text("vec4 effect(vec2 uv) { return vec4(1.0, 0.0, 0.0, 1.0); }\n")
    c = Compositor(gl_ctx, (W, H), layers=(LayerSpec("shader:flat"),))
    c.render(snap())
    assert tuple(c.read_frame()[H // 2, W // 2]) == (255, 0, 0)
    import os

    src.write_text("vec4 effect(vec2 uv) { return vec4(0.0, 1.0, 0.0, 1.0); }\n")
    st = os.stat(src)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    c.render(snap())
    assert tuple(c.read_frame()[H // 2, W // 2]) == (0, 255, 0)


def test_an_effect_written_as_a_whole_program_is_one_clear_line(gl_ctx, shader_folder):
    from vj.core.errors import ConfigError

    (shader_folder / "old.frag").write_text("uniform sampler2D u_input;\nvoid main() { frag_color = texture(u_input, v_uv); }\n")
    with pytest.raises(ConfigError) as e:
        Compositor(gl_ctx, (W, H), effects=["old"])
    msg = str(e.value)
    assert "old.frag" in msg and "vec4 effect(vec2 uv)" in msg and "\n" not in msg


def test_a_file_may_use_any_name_for_its_helpers(gl_ctx, still, shader_folder):
    """A helper called `stage` (the stack's own function name) or an array constant: fetch still
    reads the image before the effect."""
    p, base = still
    (shader_folder / "odd.frag").write_text(
        "const float[2] WEIGHTS = float[2](0.5, 0.5);\n#define HALF 0.5\n"
        "vec4 stage(vec2 uv) { return vec4(1.0, 0.0, 1.0, 1.0); }\n"
        "vec4 effect(vec2 uv) { return fetch(uv) * (WEIGHTS[0] + WEIGHTS[1]) * (2.0 * HALF); }\n")
    c = Compositor(gl_ctx, (W, H), effects=["odd", "posterize"], layers=(LayerSpec(f"image:{p}"),))
    c.render(snap({"fx.posterize.amount": 0.0}))
    assert np.abs(c.read_frame().astype(float) / 255 - base).max() <= 1.5 / 255


def test_a_top_level_name_that_reads_like_a_swizzle_is_one_clear_line(gl_ctx, shader_folder):
    from vj.core.errors import ConfigError

    (shader_folder / "swz.frag").write_text("const float a = 0.5;\nvec4 effect(vec2 uv) { return fetch(uv) * a; }\n")
    with pytest.raises(ConfigError, match=r"swz\.frag: the top-level name 'a' .*swizzle.*longer name"):
        Compositor(gl_ctx, (W, H), effects=["swz"])


def test_an_effect_reading_outside_the_frame_sees_its_edge_fused_or_after_a_pass(gl_ctx, still):
    p, _ = still
    frames = []
    for offset in (0.0, 1e-6):  # rgbsplit at 0 is left out (displace fused on the stack); else a pass before it
        c = Compositor(gl_ctx, (W, H), effects=["rgbsplit", "displace"], layers=(LayerSpec(f"image:{p}"),))
        c.render(snap({"fx.rgbsplit.offset": offset, "fx.displace.amount": 0.2, "fx.displace.wave": 1.0}, t=0.3))
        frames.append(c.read_frame().astype(int))
    assert (frames[0].max(axis=-1) > 0).all()  # no black where the rows were pushed out of the frame
    assert np.abs(frames[0] - frames[1]).max() <= 2


def test_a_helper_that_fetches_counts_for_every_call():
    from pathlib import Path

    from vj.render.shaders import FragmentSource

    def effect(text):
        return FragmentSource("x", Path("x.frag"), text, "", ())

    tap = "vec4 tap(vec2 p) { return fetch(p); }\n"
    assert not effect(tap + "vec4 effect(vec2 uv) { return tap(uv); }").own_pass
    assert effect(tap + "vec4 effect(vec2 uv) { return tap(uv) + tap(uv * 0.5); }").own_pass
    assert effect(tap + "vec4 effect(vec2 uv) { vec4 c; for (int i = 0; i < 3; i++) c += tap(uv); return c; }").own_pass
    assert not effect("vec4 effect(vec2 uv) { return fetch(uv); }\n// fetch(uv) in a comment\n").own_pass


def test_a_feedback_layer_is_dithered_too(gl_ctx):
    """x <- 0.95 x through a feedback layer: rounding alone holds it about 10 steps above black."""
    c = Compositor(gl_ctx, (W, H), layers=(LayerSpec("generator"), LayerSpec("feedback", "normal", 0.95)))
    c.upload(np.full((8, 8, 3), 255, np.uint8))
    c.upload(np.full((8, 8, 3), 255, np.uint8))
    c.render(snap({"layer.2.opacity": 0.0}))
    c.upload(np.zeros((8, 8, 3), np.uint8))
    c.upload(np.zeros((8, 8, 3), np.uint8))
    for i in range(1, 200):
        c.render(snap({}, t=i / 60, index=i))
    assert c.read_frame().astype(float).mean() < 1.0
