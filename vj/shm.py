"""Named numpy arrays laid one after another in a block of shared memory, for the stores two processes
share (control/shared.py: the parameters; web/view.py: the show as the remote sees it). The process
that makes the block (no name given) zeroes it and unlinks it when it closes; another attaches to
it by name."""

from __future__ import annotations

from multiprocessing import shared_memory

import numpy as np


class SharedArrays:
    def __init__(self, parts: list[tuple[str, type, int]], name: str | None = None) -> None:
        """`parts`: (field, numpy dtype, length) in order; each becomes an attribute of that name."""
        total = sum(np.dtype(t).itemsize * n for _, t, n in parts)
        self.owner = name is None
        self.shm = shared_memory.SharedMemory(create=True, size=total) if self.owner else shared_memory.SharedMemory(name=name)
        self._fields = [field for field, _, _ in parts]
        offset = 0
        for field, dtype, n in parts:
            arr = np.ndarray((n,), dtype, buffer=self.shm.buf, offset=offset)
            if self.owner:
                arr[:] = 0
            setattr(self, field, arr)
            offset += np.dtype(dtype).itemsize * n
        self.name = self.shm.name

    def close(self) -> None:
        for field in self._fields:  # no array may point into the block once it is closed
            setattr(self, field, None)
        self.shm.close()
        if self.owner:
            try:
                self.shm.unlink()
            except FileNotFoundError:
                pass


class LatestPicture:
    """One picture, the newest, in shared memory: a writer puts, a reader in another process takes,
    neither ever waits. Two buffers and a counter (a sequence lock): the writer fills the buffer the
    reader is not being told of, then counts up; a reader that finds the count moved by two while it
    copied (its buffer written over meanwhile) tries again. Pictures are RGB at a fixed size; what
    the reader wants at another size it scales itself (make: no name; attach: the maker's name)."""

    def __init__(self, size: tuple[int, int], name: str | None = None) -> None:
        w, h = size
        self.size = (w, h)
        self._block = SharedArrays([("count", np.int64, 1), ("pixels", np.uint8, 2 * w * h * 3)], name)
        self.name = self._block.name

    def put(self, rgb: np.ndarray) -> None:
        """Writer (one only): the picture, (h, w, 3) uint8 at this block's size."""
        if self._block.count is None:  # closed: the generator has stopped
            return
        w, h = self.size
        n = int(self._block.count[0])
        k = (n + 1) % 2
        self._block.pixels[k * w * h * 3:(k + 1) * w * h * 3] = np.asarray(rgb, np.uint8).reshape(-1)
        self._block.count[0] = n + 1  # published: a reader takes buffer count % 2 from now on

    def get(self) -> tuple[int, np.ndarray] | None:
        """Reader: (its number, a copy of the newest picture (h, w, 3)), or None before the first."""
        if self._block.count is None:
            return None
        w, h = self.size
        for _ in range(4):
            n = int(self._block.count[0])
            if n == 0:
                return None
            k = n % 2
            pic = self._block.pixels[k * w * h * 3:(k + 1) * w * h * 3].copy()
            if int(self._block.count[0]) - n < 2:  # its buffer was not written over while copied
                return n, pic.reshape(h, w, 3)
        return None  # a writer far faster than this reader: the next call takes one

    def close(self) -> None:
        if self._block.count is not None:
            self._block.close()
