"""The overlay's red set-error line is wrapped to the window, never cut off at its edge: the overlay
drawn with real GL (EGL) over a 640x360 frame, read back."""

import numpy as np

from vj.render.overlay import Overlay, OverlayInfo, wrap

LONG = ("SET ERROR /home/performer/sets/a-long-folder-name/night-of-the-long-sets.toml:14: [params]: no parameter "
        "named 'feedbak.amount' (did you mean 'feedback.amount'?)")
W, H, MARGIN = 640, 360, 10


def _bands(mask: np.ndarray) -> int:
    """Runs of rows with any pixel set: lines of text."""
    rows = mask.any(axis=1).astype(int)
    return int(np.sum(np.diff(np.concatenate(([0], rows))) == 1))


def test_a_long_warning_wraps_inside_the_frame(gl_ctx):
    overlay = Overlay(gl_ctx)
    info = OverlayInfo(("render 24.0 fps   generator 3.1 fps",), (("lvl", 0.5), ("bass", 0.2)), (LONG,))
    assert overlay.image(info).shape[1] > W  # unwrapped, the line is wider than the window: it was cut off there
    fbo = gl_ctx.simple_framebuffer((W, H))
    fbo.use()
    fbo.clear(0.0, 0.0, 0.0, 1.0)
    overlay.update(info, 0.0, max_width=W - 2 * MARGIN)
    overlay.draw((W, H), MARGIN)
    px = np.frombuffer(fbo.read(components=3), np.uint8).reshape(H, W, 3)
    red = (px[..., 0] > 150) & (px[..., 1] < 110) & (px[..., 2] < 110)
    assert _bands(red) >= 2, "the warning reaches more than one line"
    cols = np.where(red.any(axis=0))[0]
    assert cols.min() >= MARGIN and cols.max() < W - MARGIN, (cols.min(), cols.max())
    panel = px.max(axis=2) > 0  # the translucent panel over black
    assert np.where(panel.any(axis=0))[0].max() < W - MARGIN + 1


def test_wrapping_leaves_nothing_out():
    from PIL import ImageFont

    font = ImageFont.load_default(size=13)
    for width in (80, 200, 620):
        lines = wrap(LONG, font, width)
        assert all(font.getlength(ln) <= width for ln in lines)
        assert "".join(lines).replace(" ", "") == LONG.replace(" ", "")
    assert wrap("short", font, 620) == ["short"]
