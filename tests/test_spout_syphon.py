"""Spout (Windows) and Syphon (macOS) outputs. Neither can run on the Linux test machines, so the
package module is a stand-in (FakeSpoutGL, FakeSyphon), passed through the output's loader, the
one boundary. The stand-ins keep the real call signatures (SpoutGL's sendTexture takes its six
arguments positionally; syphon-python's publish_frame_texture its keywords) and read the texture
they are given by GL id from the real EGL context, then orient it as the receiving side would:
Spout's DirectX texture is top row first and bInvert flips the GL rows into it; Syphon's surface
keeps GL order unless told the texture is flipped. Everything on our side is real: compositor,
texture, engine. Without the package (the real import, here on Linux) the error is one line."""

import types

import numpy as np
import pytest

from helpers import MemoryOutput, red_over_blue, vj
from vj import assemble
from vj.audio.sources import SilentInput
from vj.clock import ManualClock
from vj.show.setfile import load_set, with_overrides
from vj.core.errors import VJError
from vj.output.base import ProgramFrame
from vj.output.spout import GL_TEXTURE_2D, SpoutOutput
from vj.output.syphon import SyphonOutput
from vj.render.compositor import Compositor
from vj.resources import find_set
from vj.core.snapshot import Snapshot

SIZE = (64, 48)


def read_gl_texture(ctx, glo: int, size) -> np.ndarray:
    """(h, w, 3) uint8 of a GL texture by id, rows in GL order (row 0 at the bottom)."""
    w, h = size
    tex = ctx.external_texture(glo, size, 4, 0, "f2")  # the compositor's program texture is RGBA16F
    px = np.frombuffer(tex.read(), np.float16).reshape(h, w, 4)[..., :3]
    return (np.clip(px.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)


def fake_spoutgl(ctx, fail_after: int | None = None):
    """Stands in for the SpoutGL module: SpoutSender with setSenderName / sendTexture / releaseSender."""

    class SpoutSender:
        def __init__(self):
            self.name, self.calls, self.received, self.released = None, [], [], False
            module.senders.append(self)

        def setSenderName(self, name, /):
            self.name = name

        def sendTexture(self, texture_id, target, width, height, invert, host_fbo, /):
            if fail_after is not None and len(self.calls) >= fail_after:
                return False  # what Spout answers when it could not make its DirectX sender
            self.calls.append((texture_id, target, width, height, invert, host_fbo))
            gl_rows = read_gl_texture(ctx, texture_id, (width, height))
            self.received.append(gl_rows[::-1] if invert else gl_rows)  # DirectX: row 0 at the top
            return True

        def releaseSender(self):
            self.released = True

    module = types.SimpleNamespace(SpoutSender=SpoutSender, senders=[])
    return module


def fake_syphon(ctx, clients: bool = True, fail_after: int | None = None, fail_open: Exception | None = None):
    """Stands in for the syphon module: SyphonOpenGLServer with publish_frame_texture / has_clients / stop."""

    class SyphonOpenGLServer:
        def __init__(self, name, cgl_context_obj=None, *, is_private=False, antialias_sample_count=0,
                     depth_buffer_resolution=0, stencil_buffer_resolution=0):
            if fail_open is not None:
                raise fail_open
            self.name, self.calls, self.received, self.stopped = name, [], [], False
            self.has_clients = clients
            module.servers.append(self)

        def publish_frame_texture(self, texture, region=None, size=None, is_flipped=False, target=GL_TEXTURE_2D):
            if fail_after is not None and len(self.calls) >= fail_after:
                raise RuntimeError("objc.error: the Syphon server went away")
            assert size is not None, "without size the real package queries the texture through PyOpenGL"
            self.calls.append((texture, region, size, is_flipped, target))
            surface = read_gl_texture(ctx, texture, size)
            surface = surface[::-1] if is_flipped else surface  # Syphon's surface is GL order
            self.received.append(surface[::-1])  # as a client shows it: row 0 at the top

        def stop(self):
            self.stopped = True

    module = types.SimpleNamespace(SyphonOpenGLServer=SyphonOpenGLServer, servers=[])
    return module


def test_spout_sends_the_program_texture_by_id_upright_without_readback(gl_ctx):
    c = red_over_blue(gl_ctx, SIZE)
    spoutgl = fake_spoutgl(gl_ctx)
    out = SpoutOutput("vj-test", loader=lambda: spoutgl)
    sender = spoutgl.senders[0]
    assert sender.name == "vj-test" and out.name == "Spout vj-test"
    for i in range(3):
        frame = ProgramFrame(c, i / 30, i)
        out.present(frame)
        host = gl_ctx.fbo.glo if gl_ctx.fbo else 0
        assert sender.calls[-1] == (c.output.glo, GL_TEXTURE_2D, 64, 48, True, host)
        assert not frame.read_back  # nothing read back for Spout
        c.render(Snapshot(i + 1, (i + 1) / 30, {}, ("x",), 1))
    f = sender.received[0]
    assert f.shape == (48, 64, 3)
    assert tuple(f[2, 32]) == (255, 0, 0) and tuple(f[45, 32]) == (0, 0, 255)  # receivers see red on top
    assert out.frames_sent == 3 and out.status() == "spout 3 frames"
    out.close()
    assert sender.released


def test_syphon_publishes_the_program_texture_by_id_upright_only_to_clients(gl_ctx):
    c = red_over_blue(gl_ctx, SIZE)
    syphon = fake_syphon(gl_ctx)
    out = SyphonOutput("vj-test", loader=lambda: syphon)
    server = syphon.servers[0]
    assert server.name == "vj-test" and out.name == "Syphon vj-test"
    frame = ProgramFrame(c, 0.0, 0)
    out.present(frame)
    assert server.calls == [(c.output.glo, None, (64, 48), False, GL_TEXTURE_2D)]
    assert not frame.read_back
    f = server.received[0]
    assert tuple(f[2, 32]) == (255, 0, 0) and tuple(f[45, 32]) == (0, 0, 255)
    server.has_clients = False  # nobody watching: no drawing into Syphon's surface
    out.present(ProgramFrame(c, 0.1, 1))
    assert len(server.calls) == 1 and out.status() == "syphon 1 frames"
    out.close()
    assert server.stopped


def build_engine(ctx, model, outputs):
    show = with_overrides(load_set(find_set("demo")), size=(160, 96))
    controls = assemble.build_controls(show, 1)
    generator = assemble.local_generator(show, model, 1)
    return assemble.make_engine(controls, Compositor(ctx, show.size, show.effect), generator, clock=ManualClock(),
                                audio=SilentInput(), outputs=outputs)


@pytest.mark.parametrize("kind", ["spout", "syphon"])
def test_a_sender_that_fails_is_dropped_by_the_engine_and_the_others_go_on(gl_ctx, tiny_model, kind):
    if kind == "spout":
        module = fake_spoutgl(gl_ctx, fail_after=3)
        out = SpoutOutput("vj-test", loader=lambda: module)
        sink = module.senders[0]
    else:
        module = fake_syphon(gl_ctx, fail_after=3)
        out = SyphonOutput("vj-test", loader=lambda: module)
        sink = module.servers[0]
    good = MemoryOutput()
    e = build_engine(gl_ctx, tiny_model, [out, good])
    s = e.render_offline(10, 24.0)
    assert s.frames == 10 and len(good.frames) == 10
    assert out not in e.outputs and out.name in e.lost_outputs and len(sink.calls) == 3
    assert sink.released if kind == "spout" else sink.stopped  # closed by the engine
    assert f"{out.name}: lost" in e.overlay_info().warnings


def test_syphon_without_a_gl_context_it_can_use_is_one_clear_line(gl_ctx):
    class NSOpenGLContextNotFoundException(Exception):  # what syphon-python raises headless
        pass

    module = fake_syphon(gl_ctx, fail_open=NSOpenGLContextNotFoundException("Could not get current NSOpenGLContext."))
    with pytest.raises(VJError) as e:
        SyphonOutput("vj-test", loader=lambda: module)
    assert "NSOpenGLContext" in str(e.value) and "--headless" in str(e.value)


def test_without_the_package_it_is_one_line_naming_the_extra_and_the_platform():
    with pytest.raises(VJError) as e:
        SpoutOutput("vj-test")  # the real import: SpoutGL is Windows only
    assert "demontage[spout]" in str(e.value) and "Windows" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(VJError) as e:
        SyphonOutput("vj-test")
    assert "demontage[syphon]" in str(e.value) and "macOS" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("flag, extra", [("--spout", "demontage[spout]"), ("--syphon", "demontage[syphon]")])
def test_vj_run_says_so_before_loading_anything(flag, extra):
    r = vj("run", "demo", "--model", "tiny-random", "--headless", "--duration", "1", "--no-osc", flag, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and extra in errors[0] and "--ndi or --virtualcam" in errors[0]
    assert "seed" not in r.stderr  # it stopped before the model and the GL context
