"""Test doubles and helpers. Every double here is named for what it is and replaces only a
boundary (an output device, a fault); everything else in the tests is the real thing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from vj.output.base import Output, ProgramFrame

ROOT = Path(__file__).resolve().parent.parent


class MemoryOutput(Output):
    """A recording double: keeps every program frame as an (h, w, 3) array, top row first."""

    name = "memory"

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.closed = False

    def present(self, frame: ProgramFrame) -> None:
        w, h = frame.size
        self.frames.append(np.frombuffer(frame.rgba(), np.uint8).reshape(h, w, 4)[::-1, :, :3].copy())
        self.times.append(frame.t)

    def close(self) -> None:
        self.closed = True


class BrokenOutput(Output):
    """An output that dies on its n-th frame, like a stream whose endpoint went away."""

    name = "broken"

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.presented = 0
        self.closed = False

    def present(self, frame: ProgramFrame) -> None:
        if self.presented == self.fail_at:
            raise OSError("No space left on device")
        self.presented += 1

    def close(self) -> None:
        self.closed = True


class FaultInjectingLoop:
    """Wraps a real StreamLoop and raises (or returns NaN-poisoned output) on chosen frames."""

    def __init__(self, loop, fail_on: set[int], kind: str = "raise") -> None:
        self.loop = loop
        self.size = loop.size
        self.fail_on = fail_on
        self.kind = kind
        self.calls = 0

    @property
    def frame_input(self):
        return self.loop.frame_input

    @property
    def frame_map(self):
        return self.loop.frame_map

    def shrink(self):
        after = self.loop.shrink()
        if after is not None:
            self.size = after
        return after

    def close(self) -> None:
        self.loop.close()

    def frame(self, snap):
        self.calls += 1
        if snap.index in self.fail_on:
            if self.kind == "raise":
                raise RuntimeError(f"injected fault at frame {snap.index}")
            from vj.generate.loop import NonFiniteFrame

            raise NonFiniteFrame("the model produced NaN/Inf latents")
        return self.loop.frame(snap)


def red_over_blue(ctx, size=(64, 48)):
    """A compositor that has drawn one frame: red on the top half, blue below (orientation tests)."""
    from vj.render.compositor import Compositor
    from vj.core.snapshot import Snapshot

    c = Compositor(ctx, size)
    img = np.zeros((32, 32, 3), np.uint8)
    img[:16] = (255, 0, 0)
    img[16:] = (0, 0, 255)
    c.upload(img)
    c.upload(img)
    c.render(Snapshot(0, 0.0, {}, ("x",), 1))
    return c


def vj(*args: str, env: dict | None = None, timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real `vj` command line (python -m vj) and capture its output."""
    e = dict(os.environ)
    e.pop("DISPLAY", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "vj", *args], capture_output=True, text=True, timeout=timeout,
                          env=e, cwd=cwd or ROOT)


def wait_until(what: str, ok, timeout: float = 120.0, every: float = 0.1, alive=None):
    """Wait for an event (`ok()` true), not for a time: a busy machine takes longer, it does not fail.
    `alive`, a Popen, must not exit meanwhile; `what` names the event in the failure."""
    deadline = time.monotonic() + timeout
    while not ok():
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"the process exited ({alive.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f} s")
        time.sleep(every)


def probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-count_frames", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def decode(path: Path, size: tuple[int, int]) -> np.ndarray:
    """All video frames of a file as (n, h, w, 3) uint8, decoded by ffmpeg."""
    w, h = size
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def write_wav(path: Path, audio: np.ndarray, sr: int = 48000) -> Path:
    import soundfile as sf

    sf.write(str(path), audio, sr)
    return path


class OutOfMemoryLoop(FaultInjectingLoop):
    """Raises CUDA's out-of-memory error (constructible without a GPU) while frames are larger than
    `fits` pixels, as a card with too little memory would; shrink() goes on to the real loop."""

    def __init__(self, loop, fits: int) -> None:
        super().__init__(loop, set())
        self.fits = fits

    def frame(self, snap):
        import torch

        w, h = self.loop.size
        if w * h > self.fits:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {w * h // 100} MiB")
        return self.loop.frame(snap)


# Loop wrappers for the generator process (GeneratorConfig.wrap = "helpers:<name>"): the child
# imports them by name, so they are plain module-level functions.
def fail_every_third_frame(loop):
    return FaultInjectingLoop(loop, set(range(0, 10**7, 3)))


def crash_mark(parent_pid: int) -> str:
    """The file that says a show's generator has crashed once already (kept by the show's process id,
    the one thing its restarted children share)."""
    return os.path.join(tempfile.gettempdir(), f"vj-test-crashed-{parent_pid}")


def crash_at_frame_20(loop):
    """Kills the whole generator process once, at the first snapshot from 20 on, like a driver fault
    or the OOM killer. 'From 20 on', not 'at 20': a busy child skips snapshots (the newest wins), and
    'once': the restarted child gets the same wrap and must live."""

    class Crash(FaultInjectingLoop):
        def frame(self, snap):
            mark = crash_mark(os.getppid())
            if snap.index >= 20 and not os.path.exists(mark):
                open(mark, "w").close()
                os._exit(3)
            return self.loop.frame(snap)

    return Crash(loop, set())


class Jack:
    """A JACK server of the test's own (its own name, so it never meets another one)."""

    def __init__(self, period: int = 512) -> None:
        if not shutil.which("jackd") or not shutil.which("ecasound"):
            pytest.fail("jackd and ecasound are missing: `make setup` installs them (jackd2, ecasound)")
        # One name per user, not per run: JACK keeps a slot in its shared-memory registry for each
        # server name it has seen killed, and a dev box running the suite often ran out of slots.
        # VJ_TEST_JACK names another one, for a second suite running beside this one (a worktree).
        self.name = os.environ.get("VJ_TEST_JACK") or f"vjtest{os.getuid()}"
        self.env = {**os.environ, "JACK_DEFAULT_SERVER": self.name, "JACK_NO_AUDIO_RESERVATION": "1"}
        self.env.pop("DISPLAY", None)
        self.period = period
        self.proc = None
        self.players = []

    def start(self) -> None:
        # -t: a client a busy machine keeps waiting is not thrown out ("zombified") after JACK's default
        # half second, which silently ends its MIDI
        self.proc = subprocess.Popen(["jackd", "--no-realtime", "-n", self.name, "-t", "10000", "-d", "dummy", "-r", "48000",
                                      "-p", str(self.period)], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while subprocess.run(["jack_lsp"], env=self.env, capture_output=True).returncode != 0:
            assert self.proc.poll() is None, "jackd exited at start"
            assert time.monotonic() < deadline, "jackd did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        self.proc.kill()  # the server dies as in a crash: no goodbye to its clients
        self.proc.wait(10)

    def wait_for_port(self, port: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port in subprocess.run(["jack_lsp"], env=self.env, capture_output=True, text=True).stdout:
                return
            time.sleep(0.2)
        raise AssertionError(f"JACK port {port} never appeared")

    def play(self, wav) -> None:
        """ecasound plays the file into the ports of the client called PortAudio (vj's input)."""
        self.players.append(subprocess.Popen(["ecasound", "-q", "-i", str(wav), "-o", "jack,PortAudio"],
                                             env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self) -> None:
        for p in self.players:
            p.terminate()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:  # it waits for clients killed without a goodbye (-t)
                self.proc.kill()
                self.proc.wait(10)


def out_of_memory_above_96x96(loop):
    return OutOfMemoryLoop(loop, 96 * 96)


def crash_twice_from_frame_20(loop):
    """Kills the generator process at its first snapshot from 20 on, in its first two lives: the
    restarted child meets snapshots past 20 at once and dies again before it makes a frame (a box
    that comes back and falls over); the third lives. The count is kept beside crash_mark's file."""

    class Crash(FaultInjectingLoop):
        def frame(self, snap):
            mark = crash_mark(os.getppid()) + ".count"
            crashes = int(open(mark).read()) if os.path.exists(mark) else 0
            if snap.index >= 20 and crashes < 2:
                with open(mark, "w") as f:
                    f.write(str(crashes + 1))
                os._exit(3)
            return self.loop.frame(snap)

    return Crash(loop, set())
