"""A preprocessor on a thread of its own: the newest frame in, the newest map out.

The generator offers each frame it is about to use (`offer`, never waits); the worker reads the
newest one and makes its map; the generator takes the newest map there is (`latest`). A map is
kept while its picture hardly changes: each frame's 32x32 grey signature is compared (cosine, mean
removed) with the one of the frame the map was made from, and at `similarity` or above the map
stays as it is (same version), so everything made from it downstream (the ControlNet's encoding of
it) is kept too. Offline (`vj render`) the map is made on the caller's thread, so renders repeat.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from vj.log import Throttled
from vj.mailbox import Mailbox


@dataclass(frozen=True)
class Map:
    value: Any  # what the function made: a map ((h, w) or (h, w, 3) uint8), or an image embedding
    version: int  # counts the maps made: equal versions, the same map
    t_frame: float  # monotonic time the picture it was made from was offered (latency accounting)


def signature(rgb: np.ndarray) -> np.ndarray:
    """A small, mean-removed grey thumbnail (32x32) of a picture: cheap to compare."""
    h, w = rgb.shape[:2]
    g = rgb.astype(np.float32).mean(axis=2) if rgb.ndim == 3 else rgb.astype(np.float32)
    ys = (np.arange(32) * h // 32)[:, None]
    xs = (np.arange(32) * w // 32)[None, :]
    s = g[ys, xs].ravel()
    return s - s.mean()


def similar(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-3 and nb < 1e-3:  # both flat: the same picture as far as structure goes
        return 1.0
    return float(a @ b) / max(na * nb, 1e-6)


class MapWorker:
    """`fn` on the newest frame offered, on a thread of its own when `live`."""

    def __init__(self, name: str, fn: Callable[[np.ndarray], np.ndarray], live: bool) -> None:
        self.name, self.fn, self.live = name, fn, live
        self.made = 0  # preprocessor calls
        self.reused = 0  # frames whose map was kept (nearly the same picture)
        self.costs: collections.deque[float] = collections.deque(maxlen=240)  # ms per preprocessor call
        self._sig: np.ndarray | None = None  # of the frame the current map was made from
        self._map: Map | None = None
        self._shape: tuple | None = None  # of the frame the current map was made from
        self._ready = threading.Condition(threading.Lock())
        self._in: Mailbox[tuple[np.ndarray, float, float]] = Mailbox()
        self._stop = threading.Event()
        self._report = Throttled(10.0)
        self._thread: threading.Thread | None = None
        if live:
            self._thread = threading.Thread(target=self._run, name=f"vj-map-{name}", daemon=True)
            self._thread.start()

    def offer(self, rgb: np.ndarray, similarity: float = 0.98) -> None:
        """The newest frame the generator will use (the caller must not write into it afterwards)."""
        item = (rgb, similarity, time.monotonic())
        if self.live:
            self._in.put(item)
        else:
            self._process(*item)

    def latest(self, wait: float = 0.0) -> Map | None:
        """The newest map; live, with `wait` > 0, waits that long for the first one."""
        with self._ready:
            if self._map is None and wait > 0:
                self._ready.wait_for(lambda: self._map is not None, timeout=wait)
            return self._map

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._in.wait(0.1)
            if item is not None:
                try:
                    self._process(*item)
                except Exception as e:  # a bad frame: the last map stays
                    self._report(40, f"control {self.name}: its preprocessor failed ({type(e).__name__}: {e}); "
                                     f"the last map stays")

    def _process(self, rgb: np.ndarray, similarity: float, t_frame: float) -> None:
        sig = signature(rgb)
        if self._sig is not None and similarity < 1.0 and sig.shape == self._sig.shape \
                and similar(sig, self._sig) >= similarity and self._map is not None \
                and self._shape == rgb.shape:
            self.reused += 1
            return
        t0 = time.perf_counter()
        m = self.fn(rgb)
        self.costs.append((time.perf_counter() - t0) * 1e3)
        self.made += 1
        self._sig, self._shape = sig, rgb.shape
        with self._ready:
            self._map = Map(m, self.made, t_frame)
            self._ready.notify_all()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
