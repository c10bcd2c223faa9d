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
