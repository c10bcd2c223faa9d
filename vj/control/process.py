"""OSC and MIDI in a process of their own.

Why: in the show's process a listener waits for the GIL, and the renderer holds it for the whole
of a GL call; with a software GL driver one readback holds it for tens of milliseconds (measured:
OSC -> parameter p50 18 ms, p99 177 ms at 720p; BENCHMARKS.md). In its own process the listener
parses and stores a value within a fraction of a millisecond whatever the renderer does.

    control process                                       show process
    OscServer / MidiControl  -- parameter targets ----->  shared store (shared.py): the next
      write into StoreSink   -- MIDI values, clock ---->    snapshot pulls what changed
      (store_sink.py)
                             -- actions, osc sources -->  Controls inbox (pipe)
                             <-- prompts, scenes, seed,    (for /vj/list and scene checks)
                                 new parameters ---------

If the control process dies it is started again; the show never waits for it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vj.control.shared import WRITERS, SharedStore
from vj.control.store_sink import StoreSink
from vj.core.errors import VJError
from vj.core.messages import Action, ControlReady, Declare, Fatal, ShowState, SourceValue, Stop
from vj.core.params import ParamSpec
from vj.log import log
from vj.supervisor import Backoff, Child, ChildFailed

if TYPE_CHECKING:
    from vj.web.server import WebConfig

RESTART_FIRST, RESTART_MOST = 1.0, 8.0  # seconds: a dead control process's back-off (it starts in a moment)


@dataclass(frozen=True)
class ControlConfig:
    osc: tuple[str, int, tuple[str, ...]] | None  # host, port, allowed senders
    midi: tuple[tuple[str, ...], Path | None] | None  # port name patterns, mapping file
    specs: tuple[tuple[int, ParamSpec], ...]  # (store index, spec)
    sources: tuple[str, ...]
    scenes: tuple[str, ...]
    prompts: tuple[str, ...]
    seed: int
    trace: str | None = None  # a file to write (parameter, value, perf_counter_ns) of every write into (bench)
    web: "WebConfig | None" = None  # the browser remote's server (vj/web/server.py), served from here


NICE = -10  # the control process's scheduling priority (see _raise_priority)

# the status line's names for the listener's counters
OSC_STATUS = (("osc_malformed", "malformed"), ("osc_unknown", "unknown address"), ("osc_bad_args", "bad args"),
              ("osc_not_allowed", "not allowed"), ("osc_clamped", "clamped"), ("osc_future_timetags", "future time tags"),
              ("osc_errors", "errors"))
WEB_STATUS = (("malformed", "malformed"), ("too_big", "too big"), ("flood", "over the budget"),
              ("unknown", "unknown address"), ("bad_args", "bad args"), ("clamped", "clamped"), ("refused", "refused"),
              ("errors", "errors"))


def _child(from_parent, to_parent, cfg: ControlConfig, store_name: str) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the show's
    from vj.log import setup

    setup()
    import logging

    logging.getLogger().addHandler(logging.NullHandler())  # python-osc logs bad bundles to the root logger; we count them
    priority = _raise_priority()  # before any thread starts: they inherit it
    store = SharedStore(store_name)
    lock = threading.Lock()

    def send(msg) -> None:
        with lock:  # OSC's thread, rtmidi's thread and this one share the pipe
            try:
                to_parent.send(msg)
            except (BrokenPipeError, OSError):
                pass

    controls = StoreSink(store, send, cfg.specs, cfg.sources, cfg.scenes, cfg.prompts, cfg.seed, bool(cfg.trace))
    started = []
    midi = None
    osc_address, midi_ports, web_address = None, (), None
    try:
        if cfg.osc is not None:
            from vj.control.osc import OscRouter, OscServer

            host, port, allow = cfg.osc
            server = OscServer(OscRouter(controls), host, port, allow)
            server.start()
            started.append(server)
            osc_address = server.address
        if cfg.midi is not None:
            from vj.control.midi import MidiControl

            patterns, mapping = cfg.midi
            midi = MidiControl(controls, patterns, mapping, store=store)
            midi.start()
            started.append(midi)
            midi_ports = tuple(sorted(midi.ports))
        if cfg.web is not None:  # the browser remote: its pages' moves take OSC's router, with "web" as origin
            from vj.control.osc import OscRouter
            from vj.web.server import WebServer

            web = WebServer(cfg.web, controls, OscRouter(controls).handle)
            web.start()
            started.append(web)
            web_address = web.address
    except VJError as e:
        send(Fatal(str(e)))
        return
    except Exception as e:
        send(Fatal(f"control: {type(e).__name__}: {e}".splitlines()[0]))
        return
    send(ControlReady(osc_address, midi_ports, priority, web_address))
    while True:
        try:
            msg = from_parent.recv()
        except (EOFError, OSError):
            break  # the show is gone
        if isinstance(msg, Stop):
            break
        if isinstance(msg, Declare):
            controls.params.declare(msg.index, msg.spec)
        elif isinstance(msg, ShowState):
            controls.show_state(msg.prompts, msg.scene, msg.seed, msg.bpm)
            if midi is not None:
                midi.show_scene(controls.scene)  # pads bound to scenes light the one that plays
    for s in started:
        s.stop()
    if cfg.trace and controls.trace is not None:
        import json

        Path(cfg.trace).write_text(json.dumps(controls.trace))
    store.close()


def _raise_priority() -> str:
    """A lower nice value, so that the listener gets a core as soon as a message arrives when the
    renderer and the generator keep every core busy (it mostly sleeps in recv() and only parses
    and stores, so it cannot starve them). Not real-time scheduling: SCHED_FIFO measured no better
    at 640x360 (p99 0.18-0.21 ms against 0.27-0.38 ms), and a burst would take a core outright. Needs root or CAP_SYS_NICE (or a nice limit in
    /etc/security/limits.conf); VJ_CONTROL_NICE=0 turns it off."""
    import os

    want = int(os.environ.get("VJ_CONTROL_NICE", NICE))
    if want == 0:
        return "normal (VJ_CONTROL_NICE=0)"
    try:
        os.setpriority(os.PRIO_PROCESS, 0, want)
        return f"nice {want}"
    except (AttributeError, OSError):
        return "normal (no right to raise it: see docs/hands.md)"


# -- the show's side ----------------------------------------------------------------------------------------
class ControlProcess:
    """Starts, feeds and watches the control process; called from the render thread."""

    def __init__(self, controls, osc=None, midi=None, trace: str | None = None, web: WebConfig | None = None) -> None:
        self.controls = controls
        self.osc, self.midi = osc, midi
        self.web = web  # the browser remote's server, run in the control process
        self.trace = trace
        self.store = SharedStore()
        self._index: dict[str, int] = {}
        for name in controls.params.names():
            self._declare_local(name)
        self._versions = self.store.version.copy()
        self._pulling = False
        self._state_sent = None
        self._child: Child | None = None
        self.info: ControlReady | None = None  # what it said when it was up
        self._watched_notes: dict[str, int] = {}
        controls.params.on_change(self._pushed)

    def _declare_local(self, name: str) -> int:
        i = len(self._index)
        if i >= len(self.store.target):
            raise VJError("too many parameters for the control store")
        self._index[name] = i
        self.store.target[i] = self.controls.params.target(name)
        return i

    def _config(self) -> ControlConfig:
        c = self.controls
        specs = tuple((i, c.params.spec(n)) for n, i in self._index.items())
        return ControlConfig(self.osc, self.midi, specs, tuple(c.sources), tuple(c.scene_names()), tuple(c.prompts),
                             c.seed, self.trace, self.web)

    @property
    def pid(self) -> int | None:
        """The control process's (the current one's, after a restart)."""
        return self._child.pid if self._child is not None else None

    @property
    def alive(self) -> bool:
        return self._child is not None and self._child.alive

    @property
    def restarts(self) -> int:
        return self._child.restarts if self._child is not None else 0

    def start(self, timeout: float = 30.0) -> None:
        # each spawn is given the show as it is then (parameters declared live included)
        self._child = Child("control", _child, lambda: (self._config(), self.store.name),
                            Backoff(RESTART_FIRST, RESTART_MOST))
        self._child.spawn()
        try:
            self.info = self._child.wait_ready(timeout)
        except ChildFailed as e:
            self.stop()
            raise VJError(str(e)) from None
        # ports asked as 0 (any free one) are kept: a restarted control process listens where this one did
        if self.osc is not None and self.osc[1] == 0 and self.info.osc is not None:
            self.osc = (self.osc[0], self.info.osc[1], self.osc[2])
        if self.web is not None and self.web.port == 0 and self.info.web is not None:
            import dataclasses

            self.web = dataclasses.replace(self.web, port=self.info.web[1])

    # every frame, before the snapshot ------------------------------------------------------------------
    def poll(self) -> None:
        c = self.controls
        # parameters moved by a hand, since the last frame
        v = self.store.version
        changed = (v != self._versions).nonzero()[0]
        if len(changed):
            names = {i: n for n, i in self._index.items()}
            self._pulling = True
            try:
                for i in changed:
                    name = names.get(int(i))
                    if name is not None:
                        c.params.set(name, float(self.store.target[i]), source=WRITERS[int(self.store.writer[i])])
            finally:
                self._pulling = False
            self._versions[changed] = v[changed]
        # actions and named OSC sources
        for msg in self._child.receive():
            if isinstance(msg, Action):
                c.post(msg.kind, *msg.args, origin=msg.origin)
            elif isinstance(msg, SourceValue):
                c.set_source(msg.name, msg.value)
            elif isinstance(msg, ControlReady):
                self.info = msg
        self._share_state()
        self._watch()

    def _pushed(self, name: str, value: float, source: str) -> None:
        """The show moved a parameter (a set file, a scene, a new prompt): tell the store."""
        if self._pulling:
            return
        i = self._index.get(name)
        if i is None:
            i = self._declare_local(name)
            self._send(Declare(i, self.controls.params.spec(name)))
        self.store.write(i, value, source)
        self._versions[i] = self.store.version[i]

    def _share_state(self) -> None:
        c = self.controls
        state = (tuple(c.prompts), c.scene, c.seed, round(c.bpm, 1))  # a tempo that glides is told in 0.1 BPM steps
        if state != self._state_sent:
            self._declare_new()  # a prompt added live declared its weight: before the state that names it
            self._send(ShowState(*state))
            self._state_sent = state

    def _declare_new(self) -> None:
        """Parameters the show declared since (a prompt slot added live: its weight), told to the
        control process before anything sets them, so that /vj/prompt/<n>/weight finds them."""
        for name in self.controls.params.names():
            if name not in self._index:
                i = self._declare_local(name)
                self._send(Declare(i, self.controls.params.spec(name)))
                self._versions[i] = self.store.version[i]

    def _send(self, msg) -> None:
        if self._child is not None:
            self._child.send(msg)

    def _watch(self) -> None:
        event = self._child.watch()
        if event == "died":
            log.error(f"control: the OSC/MIDI process died (exit code {self._child.exitcode}); "
                      f"starting it again in {self._child.wait:g} s")
        elif event == "restarted":
            self.store.count("restarts")
            self._state_sent = None  # the new one is told the prompts, scene and seed again

    # what the show reads -------------------------------------------------------------------------------------
    def midi_value(self, name: str) -> float | None:
        """midi.<ch>.cc.<n> / midi.<ch>.note.<n> / midi.<ch>.pitchbend from the store."""
        try:
            parts = name.split(".")
            ch = int(parts[1])
            if parts[2] == "pitchbend":
                return float(self.store.midi[SharedStore.midi_index("pitchbend", ch)])
            return float(self.store.midi[SharedStore.midi_index(parts[2], ch, int(parts[3]))])
        except (IndexError, ValueError):
            return None

    def note_fired(self, name: str) -> bool:
        """Did note `midi.<ch>.note.<n>` go on since the last look?"""
        try:
            _, ch, _, n = name.split(".")
            i = (int(ch) - 1) * 128 + int(n)
        except ValueError:
            return False
        count = int(self.store.notes[i])
        fired = count != self._watched_notes.get(name, count)
        self._watched_notes[name] = count
        return fired

    def tempo(self, now: float | None = None) -> tuple[float, float] | None:
        """MIDI clock's (beat position, bpm) while it runs, else None (sync/showclock.py)."""
        beats = self.beats(now)
        return None if beats is None else (beats, float(self.store.clock[3]))

    def beats(self, now: float | None = None) -> float | None:
        """MIDI clock's beat position (24 ticks a beat); None when it is stopped or silent for
        half a second. `now`: a time.monotonic() reading (by default, now)."""
        running, ticks, last, _bpm = self.store.clock
        if not running or (time.monotonic() if now is None else now) - last > 0.5:
            return None
        return ticks / 24.0

    def status(self) -> str:
        c = self.store.counter_dict()
        parts = []
        if self.osc is not None and c.get("osc_packets"):
            # each kind of bad input by name: a performer sees *why* a surface does nothing
            notes = [f"{c[k]} {label}" for k, label in OSC_STATUS if c.get(k)]
            parts.append(f"osc {c.get('osc_messages', 0)} msgs" + (f" ({', '.join(notes)})" if notes else ""))
        if self.web is not None and (c.get("web_messages") or any(c.get(f"web_{k}") for k, _ in WEB_STATUS)):
            notes = [f"{c[f'web_{k}']} {label}" for k, label in WEB_STATUS if c.get(f"web_{k}")]
            parts.append(f"web {c.get('web_messages', 0)} msgs" + (f" ({', '.join(notes)})" if notes else ""))
        if self.midi is not None:
            parts.append(f"midi {c.get('midi_messages', 0)} msgs")
            if c.get("midi_ports_unplugged"):
                parts.append(f"MIDI UNPLUGGED: {c['midi_ports_unplugged']}")
        if self._child is not None and self._child.restart_at is not None:
            parts.append("control process restarting")
        return " | ".join(parts)

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop(3.0)
        self.store.close()
