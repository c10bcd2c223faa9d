"""The status overlay: what the operator needs at a glance, on the preview window only.

    render / generator fps, latency          scene, tempo
    audio meters (level, bass, mid, high)    warnings in red (generator errors, lost outputs,
                                             shader errors, a lost audio input)

Drawn with PIL into a small texture (at most a few times a second, when the text changes) and
blended over the window after the program image: the program image itself, which recordings,
streams and the projector get, never carries it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vj.render.shaders import compile_program, load_fragment

REFRESH = 0.25  # seconds between redraws of the box


@dataclass(frozen=True)
class OverlayInfo:
    lines: tuple[str, ...]  # plain status lines
    meters: tuple[tuple[str, float], ...] = ()  # (label, 0..1)
    warnings: tuple[str, ...] = field(default=())  # shown in red


class Overlay:
    def __init__(self, ctx, scale: float = 1.0) -> None:
        from PIL import ImageFont

        self.ctx = ctx
        self.font = ImageFont.load_default(size=max(9, round(13 * scale)))
        self.line_h = max(11, round(16 * scale))
        self._prog = compile_program(ctx, load_fragment("overlay"))
        self._vao = ctx.vertex_array(self._prog, [])
        self._tex = None
        self._size = (0, 0)
        self._last: tuple[OverlayInfo, int | None] | None = None
        self._next = 0.0

    def image(self, info: OverlayInfo, max_width: int | None = None) -> np.ndarray:
        """The box as an (h, w, 4) RGBA array: a translucent dark panel, white text, meters, red warnings;
        at most `max_width` pixels wide (the window's width): a longer line is wrapped, never cut off."""
        from PIL import Image, ImageDraw

        lh = self.line_h
        room = max(60, max_width - 16) if max_width else None
        lines, warnings = ((tuple(p for t in texts for p in wrap(t, self.font, room)) if room else texts)
                           for texts in (info.lines, info.warnings))
        rows = list(lines) + (["meters"] if info.meters else []) + list(warnings)
        widths = [self.font.getlength(t) for t in lines + warnings] + [min(260.0, room or 260.0)]
        w, h = int(max(widths)) + 16, lh * len(rows) + 10
        img = Image.new("RGBA", (w, h), (0, 0, 0, 150))
        d = ImageDraw.Draw(img)
        y = 5
        for text in lines:
            d.text((8, y), text, font=self.font, fill=(255, 255, 255, 255))
            y += lh
        if info.meters:
            x = 8
            bar_w = (w - 16) // len(info.meters) - 6
            for label, value in info.meters:
                d.text((x, y), label, font=self.font, fill=(200, 200, 200, 255))
                bx = x + int(self.font.getlength(label)) + 4
                full = max(4, bar_w - (bx - x))
                d.rectangle((bx, y + 3, bx + full, y + lh - 4), outline=(120, 120, 120, 255))
                v = max(0.0, min(1.0, value))
                if v > 0:
                    d.rectangle((bx, y + 3, bx + int(full * v), y + lh - 4), fill=(80, 220, 120, 255))
                x += bar_w + 6
            y += lh
        for text in warnings:
            d.text((8, y), text, font=self.font, fill=(255, 80, 80, 255))
            y += lh
        return np.asarray(img)

    def update(self, info: OverlayInfo, now: float, max_width: int | None = None) -> None:
        if (info, max_width) == self._last or now < self._next:
            return
        self._last, self._next = (info, max_width), now + REFRESH
        px = self.image(info, max_width)
        h, w = px.shape[:2]
        if self._tex is None or self._size != (w, h):
            if self._tex is not None:
                self._tex.release()
            self._tex = self.ctx.texture((w, h), 4)
            self._tex.filter = (self.ctx.NEAREST, self.ctx.NEAREST)
            self._size = (w, h)
        self._tex.write(np.ascontiguousarray(px))

    def draw(self, screen_size: tuple[int, int], margin: int = 10) -> None:
        """Over whatever is bound (the window's framebuffer), top left, alpha-blended."""
        if self._tex is None:
            return
        ctx = self.ctx
        p = self._prog
        if "u_resolution" in p:
            p["u_resolution"].value = screen_size
        p["u_box"].value = (margin, margin, *self._size)
        p["u_input"].value = 0
        self._tex.use(0)
        ctx.enable(ctx.BLEND)
        ctx.blend_func = ctx.SRC_ALPHA, ctx.ONE_MINUS_SRC_ALPHA
        self._vao.render(vertices=3)
        ctx.disable(ctx.BLEND)


def wrap(text: str, font, width: float) -> list[str]:
    """`text` in lines no wider than `width` pixels in `font`: broken at spaces, and a word longer than
    a line (a path) broken where it must be; nothing is left out."""
    lines, line = [], ""
    for word in text.split(" "):
        joined = f"{line} {word}" if line else word
        if font.getlength(joined) <= width:
            line = joined
            continue
        if line:
            lines.append(line)
        while font.getlength(word) > width:
            k = max(1, max(n for n in range(1, len(word) + 1) if n == 1 or font.getlength(word[:n]) <= width))
            lines.append(word[:k])
            word = word[k:]
        line = word
    return lines + [line] if line or not lines else lines
