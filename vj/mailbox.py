"""Hand-offs between threads that never let latency grow.

- Mailbox: holds only the newest value. A writer never waits; a reader takes the newest
  (older values are dropped and counted). This is how the generator and renderer meet.
- BoundedInbox: a FIFO with a fixed capacity for events that must not be merged (notes,
  onsets). When full, the oldest event is dropped and counted: it never blocks a producer.
"""

from __future__ import annotations

import collections
import threading
from typing import Generic, Iterator, Optional, TypeVar

T = TypeVar("T")


class Mailbox(Generic[T]):
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._value: Optional[T] = None
        self._fresh = False
        self.overwritten = 0  # values replaced before anyone took them

    def put(self, value: T) -> None:
        with self._cond:
            if self._fresh:
                self.overwritten += 1
            self._value = value
            self._fresh = True
            self._cond.notify()

    def take(self) -> Optional[T]:
        """The newest value if one arrived since the last take, else None. Never waits."""
        with self._cond:
            if not self._fresh:
                return None
            self._fresh = False
            return self._value

    def wait(self, timeout: float) -> Optional[T]:
        """Like take(), but waits up to `timeout` seconds. Only for threads that may wait (the generator)."""
        with self._cond:
            if not self._fresh:
                self._cond.wait(timeout)
            if not self._fresh:
                return None
            self._fresh = False
            return self._value

    def peek(self) -> Optional[T]:
        """The newest value, fresh or not. Never waits."""
        with self._cond:
            return self._value


class BoundedInbox(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._q: collections.deque[T] = collections.deque()
        self._lock = threading.Lock()
        self.capacity = capacity
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._lock:
            if len(self._q) >= self.capacity:
                self._q.popleft()
                self.dropped += 1
            self._q.append(item)

    def drain(self) -> Iterator[T]:
        """Everything queued now, oldest first; never waits."""
        with self._lock:
            items = list(self._q)
            self._q.clear()
        return iter(items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._q)
