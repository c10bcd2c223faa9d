"""The compositor on a real OpenGL context (EGL; Mesa llvmpipe on machines without a GPU)."""

import numpy as np
import pytest

from vj.control.params import ParamSpace
from vj.render import compositor as comp
from vj.render.compositor import Compositor
from vj.render.shaders import ShaderError, available_effects, load_fragment, compile_program
from vj.core.features import Features
from vj.core.snapshot import Snapshot

W, H = 160, 90


def snap(values=None, index=0, t=0.0):
    return Snapshot(index, t, values or {}, ("x",), 1)


def halves(top, bottom, size=64):
    img = np.zeros((size, size, 3), np.uint8)
    img[: size // 2] = top
    img[size // 2:] = bottom
    return img


def test_generated_frame_covers_the_output_upright(gl_ctx):
    c = Compositor(gl_ctx, (W, H))
    c.upload(halves((255, 0, 0), (0, 0, 255)))
    c.render(snap())
    out = c.read_frame()
    assert out.shape == (H, W, 3)
    assert tuple(out[2, W // 2]) == (255, 0, 0)  # top stays on top
    assert tuple(out[H - 3, W // 2]) == (0, 0, 255)
    assert tuple(out[H // 4, 1]) == (255, 0, 0)  # covers the full width (cropped, not letterboxed)


def test_feedback_mixes_the_previous_output_by_its_amount(gl_ctx):
    c = Compositor(gl_ctx, (W, H))
    c.upload(np.full((32, 32, 3), 200, np.uint8))
    c.render(snap({"feedback.amount": 0.0}))
    c.upload(np.zeros((32, 32, 3), np.uint8))
    c.render(snap({"feedback.amount": 0.75}))
    out = c.read_frame().astype(float)
    assert out.mean() == pytest.approx(0.75 * 200, abs=1.5)  # mix(new=0, prev=200, 0.75)
    c.render(snap({"feedback.amount": 0.75}))
    assert c.read_frame().astype(float).mean() == pytest.approx(0.75 ** 2 * 200, abs=1.5)


def test_effect_header_becomes_parameters_and_uniforms(gl_ctx):
    eff = load_fragment("kaleido")
    names = [s.name for s in comp.declare_params(eff)]
    assert {"fx.kaleido.sides", "fx.kaleido.spin", "fx.kaleido.zoom", "fx.kaleido.amount"} <= set(names)
    p = ParamSpace(comp.declare_params(eff))
    assert p.value("fx.kaleido.sides") == 6
    c = Compositor(gl_ctx, (W, H), "kaleido")
    c.upload(halves((255, 0, 0), (0, 0, 255)))
    c.render(snap({"fx.kaleido.amount": 0.0}))
    dry = c.read_frame()
    c.render(snap({"fx.kaleido.amount": 1.0, "fx.kaleido.sides": 6}))
    wet = c.read_frame()
    assert np.abs(dry.astype(int) - wet).mean() > 10
    assert "kaleido" in available_effects() and "feedback" not in available_effects()


@pytest.mark.parametrize("sides, spin_t", [(6.0, 3.0), (6.5, 3.0), (7.3, 3.0), (7.3, 11.0)])
def test_kaleidoscope_has_no_seam_between_whole_numbers_of_sides(gl_ctx, sides, spin_t):
    """A route moves `sides` continuously (the demo set's highs do): the fold must stay continuous
    where atan jumps from pi to -pi (the left of the centre), turned or not."""
    w, h = 192, 108
    c = Compositor(gl_ctx, (w, h), "kaleido")
    y, x = np.mgrid[0:64, 0:64]
    c.upload(np.stack([x * 4, y * 4, 255 - x * 2], -1).astype(np.uint8))  # a smooth ramp
    c.render(snap({"fx.kaleido.amount": 1.0, "fx.kaleido.sides": sides, "fx.kaleido.spin": 4.0}, t=spin_t))
    out = c.read_frame().astype(int)
    steps = np.abs(np.diff(out[:, :, :], axis=0)).max(axis=2)  # row to row, every column
    left = steps[h // 2 - 3: h // 2 + 2, 4: w // 2 - 30]  # across the branch cut, left of the centre
    assert left.max() <= 3 * max(1, int(np.percentile(steps, 99)))


def test_audio_uniforms_reach_the_shaders(gl_ctx, tmp_path):
    from vj.render.shaders import shader_dir

    (tmp_path / "common.glsl").write_text((shader_dir() / "common.glsl").read_text())
    (tmp_path / "quad.vert").write_text((shader_dir() / "quad.vert").read_text())
    (tmp_path / "meter.frag").write_text("void main() { frag_color = vec4(u_level, u_bass, u_high, 1.0); }\n")
    prog = compile_program(gl_ctx, load_fragment("meter", tmp_path), tmp_path)
    fbo = gl_ctx.simple_framebuffer((4, 4))
    fbo.use()
    c = Compositor(gl_ctx, (W, H))
    c.uniforms.apply(prog, Snapshot(0, 0.0, {}, ("x",), 1, Features(level=0.5, bass=1.0, high=0.25)))
    gl_ctx.vertex_array(prog, []).render(vertices=3)
    px = np.frombuffer(fbo.read(components=3), np.uint8)[:3]
    assert abs(int(px[0]) - 128) <= 1 and px[1] == 255 and abs(int(px[2]) - 64) <= 1


def test_a_broken_shader_names_its_file_and_line(gl_ctx, tmp_path):
    from vj.render.shaders import shader_dir

    (tmp_path / "common.glsl").write_text((shader_dir() / "common.glsl").read_text())
    (tmp_path / "quad.vert").write_text((shader_dir() / "quad.vert").read_text())
    (tmp_path / "bad.frag").write_text("// a comment\nvoid main() {\n  frag_color = vec4(nope, 0.0, 0.0, 1.0);\n}\n")
    with pytest.raises(ShaderError, match=r"bad\.frag:3: .*nope"):
        compile_program(gl_ctx, load_fragment("bad", tmp_path), tmp_path)


def test_unknown_effect_lists_the_effects():
    from vj.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"effect 'kaleidoscope' not found.*kaleido"):
        load_fragment("kaleidoscope")


def test_a_bad_param_header_is_a_clear_error(tmp_path):
    from vj.core.errors import ConfigError

    (tmp_path / "common.glsl").write_text("#version 330\n")
    (tmp_path / "x.frag").write_text("// @param sides 2 24 99 too far\n")
    with pytest.raises(ConfigError, match=r"x\.frag:1: @param sides: default 99.0 is outside"):
        load_fragment("x", tmp_path)
