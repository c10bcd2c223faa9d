"""MIDI clock out (--midi-clock-out NAME): 24 ticks a beat from the show clock, Start and Stop, so a
drum machine or a second rig follows the visuals.

The render thread publishes the show clock once a frame (`frame`, an engine hook: a tuple swapped
in whole, no lock, nothing waits); a thread of its own sends each tick at the time the published tempo and beat
say it falls, sleeping in between (never on the render thread). Its count is the show's beat
times 24, so a receiver counting ticks from Start stays on the show's bars: Start is sent just
before a downbeat's tick, and ticks skipped by a jump forward of the show clock (a source taking
over) are sent at once rather than lost (one bar's worth at most). The port is found and opened
as MIDI in's LED feedback opens its (control/midi.py: the first input whose name contains NAME;
through JACK when a JACK server runs and ALSA has no sequencer, or MIDO_BACKEND says so: our own
port connected to it).
"""

from __future__ import annotations

import math
import threading
from typing import Callable

from vj.control.midi import CLIENT, Ports, backend, ours
from vj.core.errors import DeviceError
from vj.log import log

TICKS = 24  # MIDI clock ticks a beat
MAX_CATCH_UP = 4 * TICKS  # a jump forward sends at most a bar of missed ticks


class MidiClockOut:
    def __init__(self, name: str, now: Callable[[], float], quantum: int = 4) -> None:
        """`now`: the engine clock's (the time base of the snapshots' t)."""
        self.name, self.now, self.quantum = name, now, quantum
        self._state: tuple[float, float, float] | None = None  # (snap.t, beat, bpm) of the newest frame
        self._stop = threading.Event()
        self.sent = 0  # ticks sent
        self.started = False
        ports = Ports()  # under JACK one client that lists and connects (rtmidi's listing churns JACK)
        try:
            names = [n for n in ports.outputs() if name.lower() in n.lower() and not ours(n)]
            if not names:
                raise DeviceError(f"--midi-clock-out {name}: no MIDI input port has {name!r} in its name; ports: "
                                  f"{', '.join(ports.outputs()) or 'none'} (`vj devices` lists them)")
            self.target = names[0]
            client = f"{CLIENT}-clock"  # under JACK our port is a client of its own, connected to the target
            self.port = backend().open_output(self.target, **({"client_name": client} if ports.jack else {}))
            ports.connect(f"{client}:{self.target}", self.target)
        except DeviceError:
            raise
        except Exception as e:  # rtmidi's and JACK's errors are plain exceptions with the reason
            raise DeviceError(f"--midi-clock-out {name}: no MIDI system ({str(e).splitlines()[0][:100]})") from None
        finally:
            ports.close()
        self._thread = threading.Thread(target=self._run, name="vj-midi-clock-out", daemon=True)
        self._thread.start()
        log.info(f"MIDI clock out: 24 ticks a beat to {self.target}")

    def frame(self, snap) -> None:
        """An engine on_frame hook (the render thread, once a frame): the show clock at snap.t."""
        self._state = (snap.t, snap.clock.beat, snap.clock.bpm)

    def _beat_at(self, when: float, state: tuple[float, float, float]) -> float:
        t, beat, bpm = state
        return beat + (when - t) * bpm / 60.0

    def _run(self) -> None:
        import mido

        clock, start = mido.Message("clock"), mido.Message("start")
        while self._state is None and not self._stop.wait(0.005):
            pass
        if self._state is None:
            return
        bar = TICKS * self.quantum
        # the first tick sent is a downbeat's: Start, then the receiver's tick 0 is our bar line
        k = bar * math.ceil(self._beat_at(self.now(), self._state) * TICKS / bar)
        while not self._stop.is_set():
            state = self._state
            t, _, bpm = state
            wait = t + (k / TICKS - state[1]) * 60.0 / bpm - self.now()
            if wait > 0:  # woken early only to stop; a new tempo is read each time round
                self._stop.wait(min(wait, 0.05))
                continue
            due = max(k, math.floor(self._beat_at(self.now(), state) * TICKS))  # the last tick that is due
            if due - k + 1 > MAX_CATCH_UP:  # a long jump forward: the last bar's worth of ticks only
                k = due - MAX_CATCH_UP + 1
            if not self.started:
                self.port.send(start)
                self.started = True
            while k <= due:  # one tick, or the ticks a jump forward of the show clock skipped
                self.port.send(clock)
                self.sent += 1
                k += 1

    def status(self) -> str:
        return f"midi clock out {self.sent} ticks" if self.started else "midi clock out: waiting for the bar"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        if self.started:
            import mido

            self.port.send(mido.Message("stop"))
        self.port.close()
