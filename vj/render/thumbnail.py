"""A small copy of an image, drawn on the GPU and read back: a preview of the program image moves
a few hundred kilobytes where the image itself is megabytes. On a GPU that is what costs (a read-back
waits for the frame and crosses the bus); with Mesa's llvmpipe the draw's own overhead dominates
(measured here: a 480x270 copy of a 1280x720 image drawn and read back in 1.3-1.7 ms, the whole
image read back in 0.5 ms), so where an output has read the frame back already, the preview takes
that instead (web/feed.py).

Render thread only (it draws with the show's GL context).
"""

from __future__ import annotations

from vj.render.shaders import compile_program, load_fragment


class Thumbnail:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self._prog = compile_program(ctx, load_fragment("present"))
        self._vao = ctx.vertex_array(self._prog, [])
        self._size: tuple[int, int] | None = None
        self._fbo = None

    def read(self, texture, src_size: tuple[int, int], size: tuple[int, int]) -> bytes:
        """`texture` (drawn by GL, `src_size`) scaled to `size`: RGBA bytes, top row first (four
        components: the driver copies them as they are, where three cost it a conversion)."""
        if size != self._size:
            if self._fbo is not None:
                self._fbo.color_attachments[0].release()
                self._fbo.release()
            self._fbo = self.ctx.framebuffer([self.ctx.texture(size, 4)])
            self._size = size
        self._fbo.use()
        self._fbo.viewport = (0, 0, *size)
        p = self._prog
        if "u_resolution" in p:
            p["u_resolution"].value = size
        p["u_src_size"].value = src_size
        p["u_flip"].value = 1.0  # drawn upside down, so that the rows read back come top first
        p["u_input"].value = 0
        texture.use(0)
        self._vao.render(vertices=3)
        return self._fbo.read(components=4, alignment=1)

    def close(self) -> None:
        if self._fbo is not None:
            self._fbo.color_attachments[0].release()
            self._fbo.release()
            self._fbo = None
        self._vao.release()
        self._prog.release()
