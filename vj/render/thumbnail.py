"""A small copy of an image, drawn on the GPU and read back: a preview of the program image moves
a few hundred kilobytes where the image itself is megabytes, and the render thread does not wait
for it (a pixel buffer, collected a frame later). Where an output has read the frame back already,
the preview takes that instead (web/feed.py).

Render thread only (it draws with the show's GL context).
"""

from __future__ import annotations

from vj.render.shaders import compile_program, load_fragment


class Thumbnail:
    """Drawn small, then read back through a pixel buffer: request() starts the copy without waiting
    for the GPU, collect() a frame later takes the bytes (by then the GPU has long finished). Two
    buffers, so a request never waits on the one being collected. (Mesa's llvmpipe finishes the
    frame on request() whatever is done: there the frame's own drawing is what it waits for.)"""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self._prog = compile_program(ctx, load_fragment("present"))
        self._vao = ctx.vertex_array(self._prog, [])
        self._size: tuple[int, int] | None = None
        self._fbo = None
        self._buffers: list = []
        self._next = 0  # the buffer the next request fills
        self._asked: tuple[int, tuple[int, int]] | None = None  # (buffer, size) of the request not yet collected

    def request(self, texture, src_size: tuple[int, int], size: tuple[int, int]) -> None:
        """Draw `texture` (drawn by GL, `src_size`) at `size` and start reading it back."""
        if size != self._size:
            self._release()
            self._fbo = self.ctx.framebuffer([self.ctx.texture(size, 4)])
            self._buffers = [self.ctx.buffer(reserve=size[0] * size[1] * 4) for _ in range(2)]
            self._size, self._asked = size, None
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
        # four components: the driver copies them as they are, where three cost it a conversion
        self._fbo.read_into(self._buffers[self._next], components=4, alignment=1)
        self._asked = (self._next, size)
        self._next = 1 - self._next

    def collect(self) -> bytes | None:
        """The picture of the last request (RGBA, top row first), or None if there is none."""
        if self._asked is None:
            return None
        i, _ = self._asked
        self._asked = None
        return self._buffers[i].read()

    @property
    def pending(self) -> bool:
        return self._asked is not None

    def _release(self) -> None:
        if self._fbo is not None:
            self._fbo.color_attachments[0].release()
            self._fbo.release()
            self._fbo = None
        for b in self._buffers:
            b.release()
        self._buffers = []

    def close(self) -> None:
        self._release()
        self._vao.release()
        self._prog.release()
