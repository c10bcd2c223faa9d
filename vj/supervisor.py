"""The show's child processes (the generator, the control process, the sound card's capture), started,
watched and stopped one way.

    Child(name, target, args)      spawn context (safe with CUDA, GL and threads in the parent)
      .spawn()                     two pipes: the parent's `send`, the child's messages to `receive`
      .receive()                   every message waiting (never blocks); the child's handshake is
                                   Hello (alive: it may be sent to), then Ready(info) or Fatal(why)
      .watch(now)                  a dead child is started again after the back-off's wait
      .stop()                      Stop, a join, a kill if it will not go

The child's function is called as target(inbox, outbox, *args): it reads the parent's messages
from `inbox` and writes its own to `outbox`.

Backoff is the one retry policy, shared with the outputs that come back (output/retry.py): a
first wait, doubled after each failure up to a most, and started over once the thing has worked
(a child said Ready, a stream ran steadily).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from typing import Callable

from vj.core.messages import Fatal, Hello, Ready, Stop


class Backoff:
    def __init__(self, first: float, most: float) -> None:
        self.first, self.most = first, most
        self._wait = first

    def next(self) -> float:
        """The wait before the next try; the one after is twice as long (up to `most`)."""
        wait = self._wait
        self._wait = min(self.most, wait * 2)
        return wait

    def reset(self) -> None:
        """It worked: the next failure waits the first wait again."""
        self._wait = self.first


class Child:
    """One child process of the show and its two pipes."""

    def __init__(self, name: str, target: Callable, args: tuple | Callable[[], tuple],
                 backoff: Backoff | None = None) -> None:
        """`args` for target after its two pipes; a callable gives them afresh at each spawn.
        Without a back-off, watch() is not for this child: its owner decides when to start another
        (the sound card's watchdog does, by the audio that stops coming)."""
        self.name, self.target, self.args = name, target, args
        self.backoff = backoff
        self._ctx = mp.get_context("spawn")
        self._proc = None
        self._to_child = self._from_child = None
        self.hello = False  # it said Hello: messages sent now reach a child that reads them
        self.restarts = 0
        self.restart_at: float | None = None  # a restart is due then (the child died)
        self.wait = 0.0  # the back-off's wait before that restart, seconds
        self.exitcode: int | None = None  # of the last child that died

    def spawn(self) -> None:
        self._close_pipes()  # a dead child's, before a restart
        inbox, self._to_child = self._ctx.Pipe(duplex=False)
        self._from_child, outbox = self._ctx.Pipe(duplex=False)
        args = self.args() if callable(self.args) else self.args
        self._proc = self._ctx.Process(target=self.target, args=(inbox, outbox, *args), name=self.name, daemon=True)
        self._proc.start()
        inbox.close()
        outbox.close()
        self.hello = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    @property
    def running(self) -> bool:
        """Started and not stopped (it may have died since, or be waiting to restart)."""
        return self._proc is not None

    def send(self, msg) -> None:
        """Never blocks the caller for long and never raises: a dead child is noticed by watch()."""
        try:
            if self._to_child is not None:
                self._to_child.send(msg)
        except (BrokenPipeError, OSError):
            pass

    def receive(self, wait: float = 0.0) -> list:
        """Every message the child has sent (waiting up to `wait` s for the first); the handshake's
        Hello and Ready are noted here, and a Ready starts the back-off over."""
        out = []
        try:
            if self._from_child is None or not self._from_child.poll(wait):
                return out
            while self._from_child.poll():
                msg = self._from_child.recv()
                if isinstance(msg, Hello):
                    self.hello = True
                elif isinstance(msg, Ready):
                    self.hello = True
                    if self.backoff is not None:
                        self.backoff.reset()
                out.append(msg)
        except (EOFError, OSError):
            pass  # it died mid-message: watch() sees it
        return out

    def wait_ready(self, timeout: float | None, on_wait: Callable[[], None] | None = None,
                   on_message: Callable[[object], None] | None = None) -> Ready:
        """At the start of a show only: block until the child is Ready. Its Fatal, its death or the
        timeout raise ChildFailed with one line; `on_wait` runs about ten times a second meanwhile
        (a window kept alive), `on_message` sees every other message."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if on_wait is not None:
                on_wait()
            for msg in self.receive(0.1):
                if isinstance(msg, Ready):
                    return msg
                if isinstance(msg, Fatal):
                    raise ChildFailed(msg.message, fatal=True)
                if on_message is not None:
                    on_message(msg)
            if not self.alive and not self._pending():
                raise ChildFailed(f"the {self.name} process exited while starting (exit code {self._proc.exitcode})")
            if deadline is not None and time.monotonic() > deadline:
                raise ChildFailed(f"the {self.name} process did not start within {timeout:g} s")

    def _pending(self) -> bool:
        try:
            return self._from_child is not None and self._from_child.poll()
        except (EOFError, OSError):
            return False

    def watch(self, now: float | None = None) -> str | None:
        """Call often (the render thread does, once a frame). Returns "died" the first time a
        child is seen dead (a restart is scheduled after the back-off's wait), "restarted" when
        the new one has been spawned, else None."""
        if self._proc is None:
            return None
        now = time.monotonic() if now is None else now
        if self.restart_at is not None:
            if now < self.restart_at:
                return None
            self.restart_at = None
            self.restarts += 1
            self.spawn()
            return "restarted"
        if self._proc.is_alive():
            return None
        self.exitcode = self._proc.exitcode
        self.hello = False
        self.wait = self.backoff.next()
        self.restart_at = now + self.wait
        return "died"

    def stop(self, timeout: float = 10.0) -> None:
        """Ask it to stop, wait `timeout` s, then kill it. Safe to call twice."""
        if self._proc is not None:
            self.send(Stop())
            self._proc.join(timeout)
            self.kill()
        self.restart_at = None

    def kill(self) -> None:
        """End it whatever it is doing (a hung driver call included)."""
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(5.0)
            self._proc = None
        self._close_pipes()
        self.hello = False

    def _close_pipes(self) -> None:
        for end in (self._to_child, self._from_child):
            try:
                if end is not None:
                    end.close()
            except OSError:
                pass
        self._to_child = self._from_child = None


class ChildFailed(Exception):
    """A child that could not start: one line for the performer. `fatal`: it said why itself."""

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal
