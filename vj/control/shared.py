"""The parameter store that the control process and the show process share.

A block of shared memory holds, per parameter: the performer's target value, when a hand last
touched it, who wrote it last, and a version that counts the writes. The control process (OSC,
MIDI) writes there the moment a message is parsed; the show pulls every parameter whose version
moved at the start of each snapshot, so the next snapshot has it. Writes are plain aligned 8-byte
stores, the version last: a reader that sees the new version sees the value.

Also there: MIDI values (every CC, note and pitch bend, 0..1) and note-on counts for routes and
envelopes, the MIDI clock, and the control process's counters.
"""

from __future__ import annotations

import time

import numpy as np

from vj.shm import SharedArrays

CAPACITY = 1024  # parameters
WRITERS = ("set", "osc", "midi", "scene", "route", "web")
COUNTERS = ("osc_packets", "osc_messages", "osc_params", "osc_malformed", "osc_unknown", "osc_bad_args",
            "osc_clamped", "osc_not_allowed", "osc_future_timetags", "osc_socket_errors", "osc_reply_errors", "osc_coalesced",
            "midi_messages", "midi_params", "midi_unmapped", "midi_pickup_wait", "midi_errors", "midi_unplugged",
            "midi_learned", "midi_led_errors", "midi_ports_open", "midi_ports_unplugged", "restarts", "osc_errors",
            "midi_learn_armed",
            # the browser remote (vj/web/): its socket's messages, what was wrong with them, its pages
            "web_messages", "web_params", "web_malformed", "web_unknown", "web_bad_args", "web_clamped", "web_errors",
            "web_flood", "web_too_big", "web_refused", "web_pages_opened")
MIDI_VALUES = 16 * 128 * 2 + 16  # cc, note, pitch bend per channel


class SharedStore(SharedArrays):
    def __init__(self, name: str | None = None) -> None:
        super().__init__([("target", np.float64, CAPACITY), ("touched", np.float64, CAPACITY),
                          ("writer", np.int64, CAPACITY), ("version", np.int64, CAPACITY),
                          ("midi", np.float64, MIDI_VALUES), ("notes", np.int64, 16 * 128), ("clock", np.float64, 4),
                          ("counters", np.int64, len(COUNTERS))], name)
        self._counter_index = {c: i for i, c in enumerate(COUNTERS)}

    def write(self, i: int, value: float, writer: str) -> None:
        self.target[i] = value
        w = WRITERS.index(writer) if writer in WRITERS else 0
        self.writer[i] = w
        if writer in ("osc", "midi", "web"):
            self.touched[i] = time.monotonic()
        self.version[i] += 1  # last: a reader that sees it sees the rest

    def count(self, key: str, n: int = 1) -> None:
        i = self._counter_index.get(key)
        if i is not None:
            self.counters[i] += n

    def counter_dict(self) -> dict[str, int]:
        return {c: int(self.counters[i]) for i, c in enumerate(COUNTERS) if self.counters[i]}

    @staticmethod
    def midi_index(kind: str, channel: int, number: int = 0) -> int:
        """kind: cc | note | pitchbend; channel 1-16."""
        if kind == "cc":
            return (channel - 1) * 128 + number
        if kind == "note":
            return 16 * 128 + (channel - 1) * 128 + number
        return 16 * 128 * 2 + (channel - 1)
