"""The program picture handed back to a generator: a control or a reference with source = "program"
reads what the audience sees (the layers, effects and feedback composited), a frame late offline,
a few live (docs/models.md).

An output like the others: each frame it draws the program small, at the picture's size, on the GPU
(render/thumbnail.py) and puts it in a shared-memory picture the generator's process reads when it
starts a frame (shm.LatestPicture: neither side waits). Live, the copy asked for on one frame is
collected on the next, so the render thread never waits for the GPU; offline (`vj render`) it is
collected at once, so frame i+1's control reads frame i exactly.
"""

from __future__ import annotations

import numpy as np

from vj.output.base import Output, ProgramFrame


class ProgramToGenerator(Output):
    name = "program -> generator"

    def __init__(self, picture, live: bool) -> None:
        """picture: the generator's shm.LatestPicture (written here, read there)."""
        self.picture = picture
        self.live = live
        self.handed = 0  # pictures put (the tests count them)
        self._thumb = None

    def present(self, frame: ProgramFrame) -> None:
        if self._thumb is None:
            from vj.render.thumbnail import Thumbnail

            self._thumb = Thumbnail(frame.compositor.ctx)
        if self.live and self._thumb.pending:  # asked for on the frame before: done by now
            self._put(self._thumb.collect())
        self._thumb.request(frame.texture, frame.size, self.picture.size)
        if not self.live:
            self._put(self._thumb.collect())

    def _put(self, rgba: bytes | None) -> None:
        if rgba is None:
            return
        w, h = self.picture.size
        self.picture.put(np.frombuffer(rgba, np.uint8).reshape(h, w, 4)[..., :3])
        self.handed += 1

    def close(self) -> None:
        if self._thumb is not None:
            self._thumb.close()
            self._thumb = None
