"""Sound card capture in a small process of its own.

Why a process: PortAudio's callback is Python here, so in the show's process it would wait for
the GIL while the renderer is inside a long GL call; and when a device dies (a USB interface
pulled out, the JACK server gone), PortAudio can hang in stop/abort/close for good (seen with
JACK: Pa_AbortStream never returns). A capture process can't delay the renderer, and a hung one
is simply killed and started again.

    capture process                                   show process
    PortAudio callback -> shared-memory ring  ......>  analysis thread reads the hops
                       -> count of frames written --->  (socket: wakes it, and orders the reads)
    status pipe: CaptureOpen(name, rate, channels) / Fatal(message) (core/messages.py)

The parent's watchdog (sources.DeviceInput): no audio for `stall_seconds` means the device is lost;
the process is killed, and a new one tries the device (by name) after a back-off until it is back.
supervisor.Child spawns and kills the process.
"""

from __future__ import annotations

import socket
import struct
import time

import numpy as np

from vj.core.messages import CaptureOpen, Fatal
from vj.supervisor import Child, ChildFailed

RING_SECONDS = 2


def _child(inbox, status, device_name: str, samplerate: int, channels: int, blocksize: int, shm_name: str,
           frames: int, bell: socket.socket) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the show's
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(name=shm_name)
    ring = np.ndarray((frames, channels), np.float32, buffer=shm.buf)
    written = [0]
    pack = struct.Struct("<q").pack
    try:
        import sounddevice as sd

        matches = [i for i, d in enumerate(sd.query_devices())
                   if d["name"] == device_name and d["max_input_channels"] >= channels]
        if not matches:
            raise LookupError(f"no input named {device_name!r} now")

        def callback(indata, n, time_info, flags) -> None:
            """Copy into the shared ring, then tell the reader how far it may read."""
            w = written[0]
            i = w % frames
            first = min(n, frames - i)
            ring[i : i + first] = indata[:first]
            if n > first:
                ring[: n - first] = indata[first:]
            written[0] = w + n
            try:
                bell.send(pack(w + n))
            except (BlockingIOError, OSError):
                pass  # the reader is behind; the next count covers this block too

        stream = sd.InputStream(device=matches[0], channels=channels, samplerate=samplerate, blocksize=blocksize,
                                dtype="float32", callback=callback)
        stream.start()
        status.send(CaptureOpen(device_name, samplerate, channels))
        while stream.active:
            time.sleep(0.2)  # this process only waits; its callback thread does the work
        status.send(Fatal(f"input {device_name!r} stopped"))
    except Exception as e:  # PortAudio errors, a device gone between listing and opening
        try:
            status.send(Fatal(f"{type(e).__name__}: {e}".splitlines()[0]))
        except OSError:
            pass
    # Wait to be killed: closing a stream (or PortAudio itself, at exit) on a dead device can hang
    # or abort; the parent ends this process whatever state PortAudio is in.
    while True:
        time.sleep(1.0)


class Capture:
    """The parent's handle on a capture process and its shared ring (see the module docstring)."""

    def __init__(self, device_name: str, samplerate: int, channels: int, blocksize: int) -> None:
        from multiprocessing import shared_memory

        self.device_name, self.samplerate, self.channels, self.blocksize = device_name, samplerate, channels, blocksize
        self.frames = samplerate * RING_SECONDS
        self._shm = shared_memory.SharedMemory(create=True, size=self.frames * channels * 4)
        self.ring = np.ndarray((self.frames, channels), np.float32, buffer=self._shm.buf)
        self.ring[:] = 0.0
        # the sources' watchdog decides when to try again (a capture waits to be killed, it never exits)
        self._child = Child("audio capture", _child, self._args)
        self._bell_r = self._bell_w = None
        self.written = 0  # frames the current process has written (as told through the bell)
        self.read_pos = 0
        self.overruns = 0
        self.state = "closed"  # opening | open | failed | closed
        self.message = ""
        self._buf = b""

    def _args(self) -> tuple:
        return (self.device_name, self.samplerate, self.channels, self.blocksize, self._shm.name, self.frames,
                self._bell_w)

    def start(self) -> None:
        """Start a capture process (returns at once; `state` says how it goes)."""
        self._bell_r, self._bell_w = socket.socketpair()
        self._bell_w.setblocking(False)
        self._child.spawn()
        self._bell_w.close()  # the child has its own end now
        self._bell_w = None
        self._bell_r.setblocking(False)
        self.written = self.read_pos = 0
        self._buf = b""
        self.state = "opening"

    def wait_open(self, timeout: float) -> None:
        """At show start only: wait until the device is open (or failed)."""
        try:
            self._child.wait_ready(timeout)
            self.state = "open"
        except ChildFailed as e:
            self.state, self.message = "failed", str(e)

    def _read_status(self) -> None:
        for msg in self._child.receive():
            if isinstance(msg, CaptureOpen):
                self.state = "open"
            elif isinstance(msg, Fatal):
                self.state, self.message = "failed", msg.message
        if not self._child.alive and self.state != "failed" and self._child.running:
            self.state, self.message = "failed", "the capture process is gone"

    def bell(self) -> socket.socket:
        return self._bell_r

    def poll_counts(self) -> None:
        """Read the frame counts the bell carried (non-blocking) and any status news."""
        try:
            while True:
                data = self._bell_r.recv(4096)
                if not data:
                    break
                self._buf += data
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            pass
        n = len(self._buf) // 8
        if n:
            self.written = struct.unpack_from("<q", self._buf, (n - 1) * 8)[0]
            self._buf = self._buf[n * 8 :]
        if self._child.running:
            self._read_status()

    def available(self) -> int:
        return min(self.written - self.read_pos, self.frames)

    def read(self, out: np.ndarray) -> None:
        """Copy the oldest len(out) unread frames (caller checks available() first)."""
        n = len(out)
        if self.written - self.read_pos > self.frames:  # fell a whole ring behind: skip ahead
            self.overruns += 1
            self.read_pos = self.written - self.frames
        i = self.read_pos % self.frames
        first = min(n, self.frames - i)
        out[:first] = self.ring[i : i + first]
        if n > first:
            out[first:] = self.ring[: n - first]
        self.read_pos += n

    def kill(self) -> None:
        """End the capture process whatever it is doing (a hung PortAudio call included)."""
        self._child.kill()
        try:
            if self._bell_r is not None:
                self._bell_r.close()
        except OSError:
            pass
        self._bell_r = None
        self.state = "closed"

    def close(self) -> None:
        self.kill()
        self._shm.close()
        try:
            self._shm.unlink()
        except FileNotFoundError:
            pass
