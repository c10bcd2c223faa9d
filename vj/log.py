"""Logging that a performer can read at a glance: one line per event, rate-limited repeats."""

from __future__ import annotations

import logging
import os
import sys
import time

log = logging.getLogger("vj")


def setup(verbose: bool = False, quiet: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("vj: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    log.propagate = False


def quiet_libraries() -> None:
    """Library chatter (deprecation notes, "torchvision not installed", OpenCV's own `[ WARN:0@0.02]`
    lines from C++ before our one line about a camera) buries the lines that matter; with -v (debug)
    OpenCV says its own (INFO and up). Set in the environment, so that the show's child processes inherit it."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    if log.isEnabledFor(logging.DEBUG):  # -v asks for the detail, whatever the environment said
        os.environ["OPENCV_LOG_LEVEL"] = "INFO"
    else:  # a level the performer set stays
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
        # after a kill -9, multiprocessing's resource tracker removes the show's shared memory and
        # says so in a two-line Python warning under the crash: the cleaning is right, the words noise
        os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning:multiprocessing.resource_tracker")
        quiet_alsa()


_ALSA_HANDLER = None  # the no-op handler, kept alive as long as ALSA may call it


def quiet_alsa() -> None:
    """ALSA's library prints its own errors from C (`ALSA lib seq_hw.c:466:(snd_seq_hw_open) open
    /dev/snd/seq failed` before our one line saying there is no MIDI sequencer): give it a handler
    that says nothing, for this process. Where there is no libasound, nothing to do."""
    global _ALSA_HANDLER
    if _ALSA_HANDLER is not None or not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("asound")
    if not name:
        return
    try:
        lib = ctypes.CDLL(name)
        kind = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)
        _ALSA_HANDLER = kind(lambda *args: None)
        lib.snd_lib_error_set_handler(_ALSA_HANDLER)
    except (OSError, AttributeError):  # an odd libasound: its chatter stays
        return


def counted(n: int, word: str, many: str | None = None) -> str:
    """"1 frame", "2 frames": a count as a sentence says it (`many`: a plural that is not word + s)."""
    return f"{n} {word if n == 1 else many or word + 's'}"


class Throttled:
    """Logs the first occurrence at once, then at most one summary line per `interval` seconds.

    A generator failing on every frame at 30 fps must not flood the terminal; the count says
    how often it really happened.
    """

    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval
        self.count = 0
        self._last = -1e9
        self._since_last = 0

    def __call__(self, level: int, msg: str) -> None:
        self.count += 1
        self._since_last += 1
        now = time.monotonic()
        if now - self._last >= self.interval:
            more = f" ({self._since_last - 1} more since the last report, {self.count} in all)" if self._since_last > 1 else ""
            log.log(level, msg + more)
            self._last = now
            self._since_last = 0
