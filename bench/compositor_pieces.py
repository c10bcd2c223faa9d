"""What each piece of the compositor costs on this machine's GL (1280x720): the figures in
BENCHMARKS.md's compositor section come from this script.

    .venv/bin/python bench/compositor_pieces.py

The first lines are the driver's floor (see floor()). Then each line is render() + ctx.finish()
over 30 ping-pong frames after warm_up() (a real frame: the previous program
image is sampled, so a software renderer cannot drop covered draws), then the readback alone.
"""

import pathlib
import tempfile
import time

import numpy as np
from PIL import Image

from vj.render.compositor import Compositor
from vj.render.context import open_headless
from vj.core.spec import LayerSpec
from vj.core.snapshot import Snapshot

W, H = 1280, 720


def floor(ctx) -> None:
    """What the driver itself costs here: a full-screen pass that writes a colour, and the same
    pass with one texture read (a 1280x720 RGBA8 image, turned a little so no fast path applies),
    bilinear and nearest. Everything the compositor does is made of these."""
    import moderngl

    vs = "#version 330\nin vec2 p; out vec2 v_uv; void main() { v_uv = p * 0.5 + 0.5; gl_Position = vec4(p, 0.0, 1.0); }"
    quad = ctx.buffer(np.array([-1, -1, 1, -1, -1, 1, 1, 1], "f4").tobytes())
    fbo = ctx.framebuffer([ctx.texture((W, H), 4)])
    src = ctx.texture((W, H), 4, np.random.default_rng(3).integers(0, 255, (H, W, 4), dtype=np.uint8).tobytes())
    src.repeat_x = src.repeat_y = False
    turn = "const mat2 m = mat2(0.98, 0.17, -0.17, 0.98);"
    for label, body, filt in (
            ("floor: a pass writing a colour", "c = vec4(v_uv, 0.5, 1.0);", moderngl.LINEAR),
            ("floor: a pass with 1 bilinear read", "c = texture(a, m * v_uv + 0.02);", moderngl.LINEAR),
            ("floor: a pass with 1 nearest read", "c = texture(a, m * v_uv + 0.02);", moderngl.NEAREST)):
        prog = ctx.program(vertex_shader=vs, fragment_shader="#version 330\nuniform sampler2D a; in vec2 v_uv; "
                           f"out vec4 c; {turn} void main() {{ {body} }}")
        vao = ctx.vertex_array(prog, [(quad, "2f", "p")])
        src.filter = (filt, filt)
        src.use(0)
        fbo.use()
        for _ in range(5):
            vao.render(moderngl.TRIANGLE_STRIP)
        ctx.finish()
        t0 = time.perf_counter()
        for _ in range(40):
            vao.render(moderngl.TRIANGLE_STRIP)
            ctx.finish()
        print(f"{label:48} {(time.perf_counter() - t0) / 40 * 1e3:6.2f} ms")


def main() -> None:
    surface = open_headless()
    ctx = surface.ctx
    still = pathlib.Path(tempfile.mkdtemp()) / "still.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (H, W, 3), dtype=np.uint8)).save(still)
    gen = np.random.default_rng(2).integers(0, 255, (512, 512, 3), dtype=np.uint8)
    print(f"GL {surface.renderer}, {W}x{H}")
    floor(ctx)

    def piece(label, layers, effects, values, n=30):
        c = Compositor(ctx, (W, H), effects=effects, layers=layers)
        c.warm_up()  # every variant compiled, as in a show

        def frame(i):
            if i % 2 == 0:
                c.upload(gen)
            c.render(Snapshot(i, i / 60, values, ("x",), 1))
            ctx.finish()

        for i in range(5):
            frame(i)
        t0 = time.perf_counter()
        for i in range(n):
            frame(i)
        render_ms = (time.perf_counter() - t0) / n * 1e3
        t0 = time.perf_counter()
        for _ in range(10):
            c.read_rgba()
        print(f"{label:40} render {render_ms:6.2f} ms   readback {(time.perf_counter() - t0) / 10 * 1e3:5.2f} ms")

    g = LayerSpec("generator")
    piece("generated frame", (g,), [], {})
    piece("+ feedback 0.5", (g,), [], {"feedback.amount": 0.5})
    piece("+ a still (screen)", (g, LayerSpec(f"image:{still}", "screen", 0.5)), [], {})
    piece("+ plasma source (overlay)", (g, LayerSpec("shader:plasma", "overlay", 0.4)), [], {})
    piece("+ color", (g,), ["color"], {"fx.color.hue": 30.0})
    piece("+ mirror", (g,), ["mirror"], {})
    piece("+ rgbsplit", (g,), ["rgbsplit"], {"fx.rgbsplit.offset": 0.01})
    full = (g, LayerSpec(f"image:{still}", "screen", 0.5), LayerSpec("shader:plasma", "overlay", 0.4),
            LayerSpec(f"image:{still}", "normal", 1.0, "B"))
    bench_values = {"feedback.amount": 0.5, "feedback.zoom": 1.02, "mixer.crossfade": 0.5, "fx.color.hue": 30.0,
                    "fx.rgbsplit.offset": 0.01, "layer.2.rotate": 10.0}
    piece("bench scene, no effects", full, [], bench_values)
    piece("bench scene + color, mirror", full, ["color", "mirror"], bench_values)
    piece("bench scene + color, mirror, rgbsplit", full, ["color", "mirror", "rgbsplit"], bench_values)
    # the lightest 4 layers + 3 effects a set could have: textures only, effects that fuse, no
    # feedback (one pass): how far the 12 ms target is from anything this machine can do
    light = (g, LayerSpec(f"image:{still}", "screen", 0.5), LayerSpec(f"image:{still}", "multiply", 0.5),
             LayerSpec(f"image:{still}", "normal", 1.0, "B"))
    piece("light: 4 texture layers + color, mirror, kaleido", light, ["color", "mirror", "kaleido"],
          {"mixer.crossfade": 0.5, "fx.color.hue": 30.0})


if __name__ == "__main__":
    main()
