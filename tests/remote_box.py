"""Real processes for the remote generator's tests: `vj serve` (a box), `vj run` and the probe (a
show), each with its output lines collected as they come, so a test waits for a line, never a time."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from helpers import ROOT, wait_until

PROBE = Path(__file__).resolve().parent / "remote_probe.py"


class Proc:
    """A process and its stdout/stderr lines (read on threads; stdin stays open until close_stdin)."""

    def __init__(self, argv: list[str], env: dict | None = None) -> None:
        e = dict(os.environ)
        e.pop("DISPLAY", None)
        e.update(env or {})
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=e, cwd=ROOT)
        self.out: list[str] = []
        self.err: list[str] = []
        self._threads = [threading.Thread(target=self._read, args=(f, lines), daemon=True)
                         for f, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(f, lines: list[str]) -> None:
        for line in f:
            lines.append(line.rstrip("\n"))

    def said(self, text: str) -> int:
        """How many stderr lines contain `text`."""
        return sum(text in line for line in list(self.err))

    def wait_said(self, text: str, timeout: float = 120.0, times: int = 1) -> None:
        try:
            wait_until(f"{text!r} from {' '.join(self.argv[-6:])}", lambda: self.said(text) >= times, timeout,
                       alive=self.proc)
        except AssertionError as e:  # what it said last, for the reader of the failure
            raise AssertionError(f"{e}; its last lines:\n" + "\n".join(self.err[-15:])) from None

    def records(self) -> list[dict]:
        """Its stdout's JSON lines."""
        out = []
        for line in list(self.out):
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def close_stdin(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def finish(self, timeout: float = 180.0) -> int:
        """Wait for it to end by itself (the probe, once it has its frames)."""
        self.proc.wait(timeout)
        for t in self._threads:
            t.join(5)
        return self.proc.returncode

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (a show and a box both end cleanly on it), then wait; SIGKILL if it will not."""
        if self.proc.poll() is None:
            self.close_stdin()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for t in self._threads:
            t.join(5)
        return self.proc.returncode

    def text(self) -> str:
        return "\n".join(self.err)


class Box(Proc):
    """`vj serve` with the seedling (a stand-in for a GPU's model: fast on a CPU), optionally in a
    network namespace; its key and port once it says them."""

    def __init__(self, state: Path, bind: str = "127.0.0.1:0", netns: str | None = None, model: str = "seedling",
                 extra: tuple[str, ...] = ()) -> None:
        argv = [sys.executable, "-m", "vj", "serve", "--model", model, "--bind", bind, "--state", str(state),
                "--threads", "1", *extra]
        super().__init__((["ip", "netns", "exec", netns] if netns else []) + argv)
        self.key = ""
        self.port = 0

    def ready(self, timeout: float = 240.0) -> "Box":
        wait_until("vj serve's key", lambda: any(line.startswith("key: ") for line in self.out), timeout,
                   alive=self.proc)
        self.key = next(line for line in self.out if line.startswith("key: "))[5:]
        self.port = int(re.search(r"listening on \S+:(\d+)", "\n".join(self.out)).group(1))
        return self


def probe(boxes: list[str], keys: list[str], frames: int, codec: str = "auto", netns: str | None = None) -> Proc:
    """The probe show (remote_probe.py) against `boxes`."""
    argv = [sys.executable, str(PROBE), ",".join(boxes), ",".join(keys), str(frames), codec]
    return Proc((["ip", "netns", "exec", netns] if netns else []) + argv)
