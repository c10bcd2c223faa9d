"""MIDI in (mido + python-rtmidi): controllers, mappings, learn, clock, hot-plug.

- `--midi NAME` opens every input whose port name contains NAME (`all`: every input). The MIDI
  system (backend_name): MIDO_BACKEND when it is set; else JACK's when a JACK server runs and ALSA
  has no sequencer (a rig with JACK alone); else mido's own (ALSA, CoreMIDI, Windows). Under JACK
  our input is a new JACK port that is then connected to the one found, since opening by name does
  not connect.
- Messages arrive on rtmidi's thread and are applied at once: a parameter set through its mapping
  (mapping.py: absolute with soft takeover, relative, toggle, momentary, trigger; CC, 14-bit CC,
  notes, pitch bend, program change = scene), and every CC / note / pitch bend is also a
  modulation source for routes (midi.<ch>.cc.<n>, midi.<ch>.note.<n>, midi.<ch>.pitchbend).
- MIDI clock (24 ticks a beat) gives a tempo and a beat position; start/stop/continue.
- Hot-plug: the port list is polled every second; an unplugged device is said in the status and
  opened again when it comes back, without stopping the show.
- Learn: after /vj/learn <param> (or `vj learn`), the next control that moves is bound to the
  parameter and the binding is appended to a mapping file in the user's mapping folder.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vj.core.protocols import ControlSink
from vj.control.mapping import (BPM_RANGE, Control, Mapping, check_targets, control_toml, load_mapping, new_mapping_toml,
                                slug)
from vj.core.errors import ConfigError, DeviceError
from vj.log import log
from vj.resources import data_dir, user_dir

POLL_SECONDS = 1.0
LED_SECONDS = 0.1  # a toggle's light catches up with a parameter moved elsewhere within this
CLIENT = "vj-midi"  # our MIDI clients' names (JACK: vj-midi-0, vj-midi-1, ...)
PICKUP_NEAR = 0.03  # soft takeover: a knob within 3 % of the value picks it up


def ours(port_name: str) -> bool:
    return port_name.startswith(CLIENT) or port_name.startswith("vj:")


def user_mapping_dir() -> Path:
    if os.environ.get("VJ_MAPPINGS"):
        return Path(os.environ["VJ_MAPPINGS"]).expanduser()
    return user_dir("mappings")


def find_mapping(port_name: str) -> Mapping | None:
    """The mapping whose [device] match is in the port name: the user's own first, then shipped."""
    for folder in (user_mapping_dir(), data_dir("mappings")):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                m = load_mapping(path)
            except ConfigError as e:
                log.warning(f"mapping {path} skipped: {e}")
                continue
            if m.match.lower() in port_name.lower():
                return m
    return None


JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"


def backend_name() -> str | None:
    """The MIDI system's mido backend: MIDO_BACKEND when it is set (it always wins); JACK's when a
    JACK server runs and ALSA has no sequencer; None: mido's own default (ALSA, CoreMIDI, WinMM)."""
    name = os.environ.get("MIDO_BACKEND")
    if name:
        return name
    return JACK_MIDI if _jack_alone() else None


@functools.cache
def _jack_alone() -> bool:
    """A JACK server runs (the one JACK_DEFAULT_SERVER names) and there is no ALSA sequencer (no
    /dev/snd/seq: a box with no sound card, a container, a rig that runs JACK alone). Asked once."""
    if not sys.platform.startswith("linux") or os.path.exists("/dev/snd/seq"):
        return False
    try:
        import jack
    except ImportError:  # JACK-Client not installed: no JACK to find
        return False
    jack.set_error_function(lambda m: None)  # "Cannot connect to server socket ...": the answer is no
    jack.set_info_function(lambda m: None)
    try:
        jack.Client("vj-probe", no_start_server=True).close()
    except Exception:  # no server running
        return False
    finally:
        quiet_jack()
    log.debug("MIDI: a JACK server runs and ALSA has no sequencer: MIDI through JACK")
    return True


def quiet_jack() -> None:
    """libjack's own messages in our log's words: its errors (a client thrown out by the server)
    as warnings, its chatter at the debug level (`-v`)."""
    import jack

    jack.set_error_function(lambda m: log.warning(f"JACK: {m.strip()}"))
    jack.set_info_function(lambda m: log.debug(f"JACK: {m.strip()}"))


def backend():
    import mido

    name = backend_name()
    return mido.Backend(name) if name else mido


def _jack_backend() -> bool:
    return "UNIX_JACK" in (backend_name() or "")


class _JackPorts:
    """Under JACK: one long-lived client that lists and connects ports. (Listing through
    rtmidi opens and closes a JACK client each time, and that churn loses MIDI: measured, 19 of
    400 messages arrived while the list was polled once a second.)"""

    def __init__(self) -> None:
        import jack

        quiet_jack()
        self.client = jack.Client("vj-ports", no_start_server=True)

    def inputs(self) -> list[str]:
        return [p.name for p in self.client.get_ports(is_midi=True, is_output=True)]

    def outputs(self) -> list[str]:
        return [p.name for p in self.client.get_ports(is_midi=True, is_input=True)]

    def connect(self, src: str, dst: str) -> None:
        if dst not in [p.name for p in self.client.get_all_connections(src)]:
            self.client.connect(src, dst)

    def close(self) -> None:
        self.client.close()


class Ports:
    """The port list of the MIDI backend in use (rtmidi's for ALSA/CoreMIDI/WinMM; JACK's own)."""

    def __init__(self) -> None:
        self.jack = _JackPorts() if _jack_backend() else None

    def inputs(self) -> list[str]:
        return self.jack.inputs() if self.jack else backend().get_input_names()

    def outputs(self) -> list[str]:
        return self.jack.outputs() if self.jack else backend().get_output_names()

    def connect(self, src: str, dst: str) -> None:
        if self.jack:
            self.jack.connect(src, dst)

    def close(self) -> None:
        if self.jack:
            self.jack.close()


@dataclass
class _State:
    """What a control remembers between messages."""

    picked: bool = False  # soft takeover: the knob has met the parameter's value
    last: float | None = None  # the knob's last position, 0..1
    wrote: float | None = None  # the value this control last set (someone else moved it if it differs)
    waiting: bool = False  # soft takeover: its moves are ignored until it meets the value (said once a wait)
    stepped: float = 0.0  # time.monotonic() of a tempo encoder's last step
    on: bool = False  # toggle
    msb: int = 0  # 14-bit CC: the last most significant 7 bits


class MidiClock:
    """24 ticks a quarter note -> BPM and a beat position; None when no clock runs. With a shared
    store it also publishes itself there (running, ticks, time of the last tick, BPM)."""

    def __init__(self, store=None, now: Callable[[], float] = time.perf_counter) -> None:
        self.store = store
        self._now = now  # when a tick arrives (tests hand it exact times)
        self._lock = threading.Lock()
        self.running = False
        self.ticks = 0
        self._times: list[float] = []
        self.bpm = 0.0

    def message(self, kind: str) -> None:
        with self._lock:
            now = self._now()
            if kind == "start":
                self.running, self.ticks, self._times = True, 0, []
            elif kind == "continue":
                self.running = True
            elif kind == "stop":
                self.running = False
            elif kind == "clock":
                if not self.running:  # a clock without start (joined mid-song): count anyway
                    self.running = True
                self.ticks += 1
                self._times.append(now)
                del self._times[:-25]
                if len(self._times) >= 2:
                    span = self._times[-1] - self._times[0]
                    if span > 0:
                        self.bpm = 60.0 * (len(self._times) - 1) / (24.0 * span)
            if self.store is not None:
                last = time.monotonic() if kind == "clock" else self.store.clock[2]
                self.store.clock[:] = (1.0 if self.running else 0.0, self.ticks, last, self.bpm)

    def beats(self) -> float | None:
        with self._lock:
            if not self.running or not self._times or self._now() - self._times[-1] > 0.5:
                return None
            return self.ticks / 24.0


class _Port:
    """One open input (and its feedback output), with its mapping."""

    def __init__(self, owner: "MidiControl", name: str, mapping: Mapping | None) -> None:
        self.owner = owner
        self.name = name
        self.mapping = mapping
        self.bindings: dict[tuple[str, int, int], Control] = {}
        self.states: dict[tuple[str, int, int], _State] = {}
        self.input = None
        self.output = None
        self.lit: dict[tuple[str, int, int], bool] = {}  # what each light was last told
        self.set_mapping(mapping)

    def set_mapping(self, mapping: Mapping | None) -> None:
        bindings = {}  # built whole, then swapped in: other threads read the bindings meanwhile
        if mapping is not None:
            for c in mapping.controls:
                key = ("cc" if c.type == "cc14" else c.type, c.channel, c.number)
                bindings[key] = c
                if c.type == "cc14":
                    bindings[("cc14-lsb", c.channel, c.number + 32)] = c
                self.states.setdefault(key, _State())
        self.mapping, self.bindings = mapping, bindings

    def open(self, ports: Ports) -> None:
        be = backend()
        # Under JACK each rtmidi port is a JACK client of its own: give each a unique name so that
        # we know what to connect (two devices would otherwise be "vj" and "vj-01").
        client = f"{CLIENT}-{self.owner.next_client()}"
        kw = {"client_name": client} if ports.jack else {}
        self.input = be.open_input(self.name, callback=self.owner._on_message_for(self), **kw)
        ports.connect(self.name, f"{client}:{self.name}")  # under JACK, opening by name does not connect
        if self.mapping is not None and self.mapping.led_feedback:
            outs = [o for o in ports.outputs() if self.mapping.match.lower() in o.lower() and not ours(o)]
            if outs:
                try:
                    client = f"{CLIENT}-{self.owner.next_client()}"
                    self.output = be.open_output(outs[0], **({"client_name": client} if ports.jack else {}))
                    ports.connect(f"{client}:{outs[0]}", outs[0])
                except Exception as e:  # LEDs are a nicety: the knobs still work
                    log.warning(f"MIDI: no LED feedback to {outs[0]!r} ({e})")
                else:
                    self.refresh_leds()

    def refresh_leds(self) -> None:
        """Every switch's light as its state is now: a controller plugged in (again) shows the truth."""
        for key, ctl in self.bindings.items():
            if ctl.mode in ("toggle", "momentary") and ctl.target is not None:
                on = self.owner.gestures.is_on(ctl) if ctl.mode == "toggle" else self.states.get(key, _State()).on
                self.owner.gestures.led(self, ctl, on)
        self.scene_leds(self.owner.scene)

    def scene_leds(self, scene: str | None) -> None:
        """Pads bound to scene:<name> (or scene:<index>): lit for the scene that plays, dark for the rest."""
        names = self.owner.controls.scene_names()
        for ctl in list(self.bindings.values()):
            if ctl.action and ctl.action.startswith("scene:"):
                which = ctl.action.split(":", 1)[1]
                if which.isdigit():
                    which = names[int(which)] if int(which) < len(names) else None
                self.owner.gestures.led(self, ctl, which is not None and which == scene)

    def close(self) -> None:
        for p in (self.input, self.output):
            try:
                if p is not None:
                    p.close()
            except Exception:
                pass
        self.input = self.output = None


class Gestures:
    """What a bound control does to the show when it moves: a knob's value (with soft takeover), a
    relative encoder's steps, a toggle, a momentary pad, a trigger, an action (tap, scene,
    resample), and the light that says so. Called on rtmidi's threads and the LED thread."""

    def __init__(self, controls: ControlSink) -> None:
        self.controls = controls
        self.params = controls.params
        self.counters = controls.counters
        self._led_lock = threading.Lock()  # LEDs are sent from the MIDI thread and on the show's scene changes

    def apply_cc14(self, port: _Port, ctl: Control, value7: int, lsb: bool) -> None:
        key = ("cc", ctl.channel, ctl.number)
        st = port.states.setdefault(key, _State())
        if lsb:
            full = (st.msb << 7) | value7
        else:
            st.msb = value7
            full = value7 << 7
        self._absolute(ctl, st, full / 16383.0)

    def apply(self, port: _Port, ctl: Control, key, value, press: bool, msg) -> None:
        st = port.states.setdefault(key, _State())
        if ctl.action is not None:
            if ctl.type == "program":
                self.controls.post("scene", int(value), origin="midi")
            elif ctl.action == "bpm":
                self._tempo(ctl, st, value, msg)
            elif press:
                self._action(ctl.action)
            return
        lo, hi = self.range(ctl)
        mode = ctl.mode
        if mode == "absolute":
            self._absolute(ctl, st, value)
        elif mode == "relative":
            steps = _relative_steps(msg.value, ctl.encoding)
            step = (ctl.step if ctl.step is not None else 1.0 / 128.0) * (hi - lo)
            self._set(ctl.target, self.params.target(ctl.target) + steps * step)
        elif mode == "toggle":
            if press:  # from the parameter as it is now (OSC, a scene or another control may have moved it)
                st.on = not self.is_on(ctl)
                self._set(ctl.target, hi if st.on else lo)
                self.led(port, ctl, st.on)
        elif mode == "momentary":
            self._set(ctl.target, hi if press else lo)
            self.led(port, ctl, press)
        elif mode == "trigger" and press:
            self._set(ctl.target, hi)

    def is_on(self, ctl: Control) -> bool:
        """A switch's state is its parameter's: nearer the top of its range than the bottom."""
        lo, hi = self.range(ctl)
        return self.params.target(ctl.target) >= (lo + hi) / 2 if hi >= lo else self.params.target(ctl.target) <= (lo + hi) / 2

    def range(self, ctl: Control) -> tuple[float, float]:
        spec = self.params.spec(ctl.target)
        return ctl.range if ctl.range is not None else (spec.lo, spec.hi)

    def _tempo(self, ctl: Control, st: _State, x: float, msg=None) -> None:
        """A knob, fader or encoder mapped to action "bpm": it holds the tempo (as /vj/bpm does)."""
        lo, hi = ctl.range if ctl.range is not None else BPM_RANGE
        if ctl.mode == "relative" and msg is not None:
            now = time.monotonic()
            # steps a second apart or less build on each other (the show says the tempo back a frame
            # later); otherwise from the tempo in force, wherever it came from
            base = st.wrote if st.wrote is not None and now - st.stepped < 1.0 else (self.controls.bpm or 120.0)
            st.stepped = now
            bpm = base + _relative_steps(msg.value, ctl.encoding) * (ctl.step or 1.0 / 128.0) * (hi - lo)
        else:
            bpm = lo + x * (hi - lo)
        st.wrote = bpm = round(min(max(bpm, 20.0), 400.0), 2)
        self.controls.post("bpm", bpm, origin="midi")

    def _absolute(self, ctl: Control, st: _State, x: float) -> None:
        if ctl.action == "bpm":
            self._tempo(ctl, st, x)
            return
        if ctl.target is None:
            return
        lo, hi = self.range(ctl)
        if st.picked and st.wrote is not None and abs(self.params.target(ctl.target) - st.wrote) > 1e-6 * (1 + abs(st.wrote)):
            st.picked = False  # a scene, OSC or another control moved it: meet it again
        if ctl.takeover == "pickup" and not st.picked:
            span = hi - lo
            current = (self.params.target(ctl.target) - lo) / span if span else 0.0
            crossed = st.last is not None and (st.last - current) * (x - current) <= 0
            st.last = x
            if abs(x - current) > PICKUP_NEAR and not crossed:
                self.counters.add("midi_pickup_wait")  # soft takeover: not there yet, and the show says so
                self._waiting(ctl, st, lo + x * (hi - lo))
                return
            st.picked = True
            if st.waiting:
                st.waiting = False
                self.controls.post("pickup", ctl.target, None, origin="midi")
        st.last = x
        st.wrote = self._set(ctl.target, lo + x * (hi - lo))

    def _waiting(self, ctl: Control, st: _State, knob: float) -> None:
        """Soft takeover ignores the knob: the overlay and the status line show where it is against
        the value (as a controller's own display does), until it meets it."""
        if not st.waiting:
            st.waiting = True
            value = self.params.target(ctl.target)
            log.info(f"MIDI: {ctl.target} waits for its control (at {knob:.3g}, the value is {value:.3g}): "
                     f"move it through the value to pick it up (soft takeover)")
        self.controls.post("pickup", ctl.target, float(knob), origin="midi")

    def _set(self, name: str, value: float) -> float:
        self.counters.add("midi_params")
        return self.params.set(name, value, source="midi")

    def _action(self, action: str) -> None:
        c = self.controls
        if action == "tap":
            c.post("tap", time.monotonic(), origin="midi")  # stamped as it arrives (control/hand.py)
        elif action.startswith("scene:"):
            c.post("scene", action.split(":", 1)[1], origin="midi")
        elif action == "grab":  # a new IP-Adapter reference frame
            c.post("grab", origin="midi")
        elif action == "resample":
            c.post("resample", None, origin="midi")
        elif action.startswith("resample:"):
            c.post("resample", int(action.split(":", 1)[1]), origin="midi")
        elif action == "next-scene":  # a way the scene graph chooses (without a graph: the next listed)
            c.post("scene_next", origin="midi")
        elif action == "prev-scene" and c.scene_names():
            names = c.scene_names()
            i = names.index(c.scene) if c.scene in names else 0
            c.post("scene", (i - 1) % len(names), origin="midi")

    def led(self, port: _Port, ctl: Control, on: bool) -> None:
        m = port.mapping
        if port.output is None or not ctl.led or m is None:
            return
        import mido

        ch = (m.led_channel or ctl.channel) - 1
        v = m.led_on if on else m.led_off
        if ctl.type == "note":
            msg = mido.Message("note_on", channel=ch, note=ctl.number, velocity=v)
        elif ctl.type == "cc":
            msg = mido.Message("control_change", channel=ch, control=ctl.number, value=v)
        else:
            return
        try:
            with self._led_lock:
                port.output.send(msg)
                port.lit[(ctl.type, ctl.channel, ctl.number)] = on
        except Exception:
            self.counters.add("midi_led_errors")


class MidiControl:
    def __init__(self, controls: ControlSink, patterns: tuple[str, ...], mapping_path: Path | None = None,
                 store=None) -> None:
        self.controls = controls
        self.store = store  # the shared store, when this runs in the control process
        self.params = controls.params
        self.counters = controls.counters
        self.patterns = tuple(p for p in patterns if p)
        self.fixed_mapping = load_mapping(mapping_path) if mapping_path else None
        if self.fixed_mapping is not None:
            check_targets(self.fixed_mapping, self.params)
        self.ports: dict[str, _Port] = {}
        self.unplugged: set[str] = set()
        self.clock = MidiClock(store)
        self._learn: str | None = None
        self._clients = 0
        self._learned: list[str] = []  # messages for the log, written on the render thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.gestures = Gestures(controls)
        self._ports: Ports | None = None
        self.scene: str | None = None  # the scene that plays, as the show last said
        controls.learn_handler = self.learn
        self.params.on_change(self._param_changed)

    # -- ports ---------------------------------------------------------------------------------------
    def next_client(self) -> int:
        self._clients += 1
        return self._clients - 1

    def _wanted(self, names: list[str]) -> list[str]:
        if any(p.lower() == "all" for p in self.patterns):
            return [n for n in names if not ours(n)]
        return [n for n in names if any(p.lower() in n.lower() for p in self.patterns) and not ours(n)]

    def start(self) -> None:
        try:
            self._ports = Ports()
            names = self._ports.inputs()
        except Exception as e:
            why = str(e).splitlines()[0]
            if "JACK" in (backend_name() or "") or "jack" in why.lower():
                hint = ("is the JACK server running? (start it, or unset MIDO_BACKEND to use ALSA)"
                        if os.environ.get("MIDO_BACKEND") else "is the JACK server still running?")
            else:
                hint = "start a JACK server (MIDI goes through JACK by itself when ALSA has none), or set MIDO_BACKEND"
            raise DeviceError(f"MIDI: can't list ports ({why}); {hint}") from None
        wanted = self._wanted(names)
        if not wanted:
            listing = "; ".join(names) or "none"
            raise DeviceError(f"MIDI: no input matches {', '.join(self.patterns)!r}; inputs: {listing}")
        for name in wanted:
            self._open(name)
        self._thread = threading.Thread(target=self._watch, name="vj-midi-ports", daemon=True)
        self._thread.start()

    def _open(self, name: str) -> None:
        mapping = self.fixed_mapping or find_mapping(name)
        if mapping is not None and mapping is not self.fixed_mapping:
            mapping = fit_to(mapping, self.params)
        port = _Port(self, name, mapping)
        port.open(self._ports)
        with self._lock:
            self.ports[name] = port
        port.scene_leds(self.scene)  # a scene may have changed while it opened
        self._gauges()
        where = f"mapping {mapping.path.name}" if mapping and mapping.path else "no mapping: learn one with /vj/learn"
        log.info(f"MIDI: {name} ({where})")

    def _watch(self) -> None:
        """Lights that follow their parameters, ten times a second; hot-plug: rtmidi gives no
        event, so look at the port list every second."""
        ticks = 0
        while not self._stop.wait(LED_SECONDS):
            self.sync_leds()
            ticks += 1
            if ticks % round(POLL_SECONDS / LED_SECONDS):
                continue
            try:
                names = set(self._ports.inputs())
            except Exception:
                continue
            for name in list(self.ports):
                if name not in names:
                    with self._lock:
                        port = self.ports.pop(name)
                    port.close()
                    self.unplugged.add(name)
                    self.counters.add("midi_unplugged")
                    self._gauges()
                    log.warning(f"MIDI: {name} unplugged; waiting for it to come back")
            for name in self._wanted(sorted(names)):
                if name not in self.ports:
                    try:
                        self._open(name)
                    except Exception as e:
                        log.warning(f"MIDI: {name} is back but can't be opened ({e}); trying again")
                        continue
                    if name in self.unplugged:
                        self.unplugged.discard(name)
                        self._gauges()
                        log.info(f"MIDI: {name} is back")

    def _gauges(self) -> None:
        if self.store is not None:
            from vj.control.shared import COUNTERS

            self.store.counters[COUNTERS.index("midi_ports_open")] = len(self.ports)
            self.store.counters[COUNTERS.index("midi_ports_unplugged")] = len(self.unplugged)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        for port in list(self.ports.values()):
            port.close()
        if self._ports is not None:
            self._ports.close()

    def status(self) -> str:
        parts = [f"midi {len(self.ports)} in"]
        if self.unplugged:
            parts.append("UNPLUGGED: " + ", ".join(sorted(self.unplugged)))
        if self._learn:
            parts.append(f"learning {self._learn}")
        return " ".join(parts)

    # -- messages (rtmidi's thread) ---------------------------------------------------------------------
    def _on_message_for(self, port: _Port):
        def on_message(msg) -> None:
            try:
                self._handle(port, msg)
            except Exception as e:  # a listener must never die of one message
                self.counters.add("midi_errors")
                log.debug(f"MIDI: {msg} dropped: {e}")

        return on_message

    def _handle(self, port: _Port, msg) -> None:
        t = msg.type
        self.counters.add("midi_messages")
        if t in ("clock", "start", "stop", "continue"):
            self.clock.message(t)
            return
        if not hasattr(msg, "channel"):
            return  # sysex, song position...: nothing to map
        ch = msg.channel + 1
        src = self.controls
        if t == "control_change":
            key, value, press = ("cc", ch, msg.control), msg.value / 127.0, msg.value >= 64
            src.set_source(f"midi.{ch}.cc.{msg.control}", value)
        elif t in ("note_on", "note_off"):
            vel = msg.velocity if t == "note_on" else 0
            key, value, press = ("note", ch, msg.note), vel / 127.0, vel > 0
            src.set_source(f"midi.{ch}.note.{msg.note}", value, event=vel > 0)
        elif t == "pitchwheel":
            key, value, press = ("pitchbend", ch, 0), (msg.pitch + 8192) / 16383.0, False
            src.set_source(f"midi.{ch}.pitchbend", value)
        elif t == "program_change":
            key, value, press = ("program", ch, 0), msg.program, True
        else:
            return
        if self._learn is not None and (t in ("control_change", "pitchwheel") or (t == "note_on" and press)):
            self._bind_learned(port, key, t)
            return
        ctl = port.bindings.get(key)
        if ctl is None and key[0] == "cc":
            ctl = port.bindings.get(("cc14-lsb", ch, msg.control))
            if ctl is not None:
                self.gestures.apply_cc14(port, ctl, msg.value, lsb=True)
                return
        if ctl is None:
            self.counters.add("midi_unmapped")
            return
        if ctl.type == "cc14":
            self.gestures.apply_cc14(port, ctl, msg.value, lsb=False)
            return
        self.gestures.apply(port, ctl, key, value, press, msg)

    def sync_leds(self) -> None:
        """A toggle's light follows its parameter when something else moves it (OSC, a scene)."""
        with self._lock:
            ports = list(self.ports.values())
        for port in ports:
            if port.output is None:
                continue
            for ctl in list(port.bindings.values()):
                if ctl.mode == "toggle" and ctl.led and ctl.target is not None:
                    on = self.gestures.is_on(ctl)
                    if port.lit.get((ctl.type, ctl.channel, ctl.number)) != on:  # as _led keeps it
                        self.gestures.led(port, ctl, on)

    def show_scene(self, scene: str | None) -> None:
        """The show moved to another scene: the pads bound to scenes say which."""
        if scene == self.scene:
            return
        self.scene = scene
        with self._lock:
            ports = list(self.ports.values())
        for port in ports:
            try:
                port.scene_leds(scene)
            except Exception as e:  # LEDs are a nicety: never the control process's end
                log.warning(f"MIDI: scene lights on {port.name}: {e}")

    def _param_changed(self, name: str, value: float, source: str) -> None:
        """A scene, OSC or the set moved a parameter: knobs bound to it must pick it up again."""
        if source == "midi":
            return
        with self._lock:
            ports = list(self.ports.values())
        for port in ports:
            for key, ctl in port.bindings.items():
                if ctl.target == name and key in port.states:
                    port.states[key].picked = False

    # -- learn ----------------------------------------------------------------------------------------------
    def learn(self, param: str) -> None:
        self.params.spec(param, "learn")
        self._learn = param
        self.counters.add("midi_learn_armed")  # said, so a remote (and a test) knows the next move is heard
        log.info(f"MIDI learn: move a control for {param}")

    def _bind_learned(self, port: _Port, key, msg_type: str) -> None:
        param, self._learn = self._learn, None
        kind, ch, number = key
        mode = "toggle" if kind == "note" else "absolute"
        ctl = Control(kind, ch, number, target=param, mode=mode, name=f"learned {param}")
        path = write_learned(port.name, port.mapping, ctl)
        port.set_mapping(load_mapping(path))
        self.counters.add("midi_learned")
        log.info(f"MIDI learn: {kind} {ch}/{number} on {port.name} -> {param} (written to {path})")


def fit_to(mapping: Mapping, params) -> Mapping:
    """A shipped or found mapping keeps the controls whose targets this set has (said once)."""
    import dataclasses

    missing = sorted({c.target for c in mapping.controls if c.target is not None and c.target not in params})
    if not missing:
        return mapping
    log.info(f"MIDI: {mapping.path.name if mapping.path else 'mapping'}: this set has no {', '.join(missing)}; "
             f"those controls do nothing")
    return dataclasses.replace(mapping, controls=tuple(c for c in mapping.controls
                                                       if c.target is None or c.target in params))


def _relative_steps(v: int, encoding: str) -> int:
    if encoding == "offset":
        return v - 64
    if encoding == "signed":
        return -(v & 0x3F) if v & 0x40 else v & 0x3F
    return v - 128 if v >= 64 else v  # two's complement


_GENERIC_CLIENTS = {"rtmidiin client", "rtmidiout client", "a2j", "system", "jack", "midi through"}


def device_name(port_name: str) -> str:
    """The controller's own name in a port name, for a learned mapping's `match`: not the MIDI
    library's client ("RtMidiOut Client:qa-knobs"), the bridge ("a2j:nanoKONTROL2 [20] (capture):
    ..."), nor ALSA's numbers ("nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0")."""
    parts = [p.strip() for p in port_name.split(":")]
    named = [p for p in parts if p and not p.isdigit() and p.lower() not in _GENERIC_CLIENTS]
    name = named[0] if named else port_name.strip()
    return re.sub(r"(\s*\[\d+\])?(\s*\((capture|playback)\))?(\s+\d+)?$", "", name) or name


def write_learned(port_name: str, mapping: Mapping | None, ctl: Control) -> Path:
    """Append the binding to the user's copy of the device's mapping (a shipped one is copied first)."""
    folder = user_mapping_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if mapping is not None and mapping.path is not None and mapping.path.parent.resolve() == folder.resolve():
        path = mapping.path
    else:
        base = slug(mapping.match if mapping is not None else device_name(port_name))
        path = folder / f"{base}.toml"
        if not path.exists():
            text = mapping.path.read_text() if mapping is not None and mapping.path is not None else \
                new_mapping_toml(device_name(port_name), port_name)
            path.write_text(text)
    existing = load_mapping(path)
    if any((c.type, c.channel, c.number) == (ctl.type, ctl.channel, ctl.number) for c in existing.controls):
        # the control moved to a new parameter: drop its old block by rewriting the file without it
        kept = [c for c in existing.controls if (c.type, c.channel, c.number) != (ctl.type, ctl.channel, ctl.number)]
        text = new_mapping_toml(existing.match, existing.name) + "".join(control_toml(c) for c in kept)
        if existing.led_feedback:
            led = f"led_feedback = true\nled_on = {existing.led_on}\nled_off = {existing.led_off}\n"
            if existing.led_channel:
                led += f"led_channel = {existing.led_channel}\n"
            text = text.replace("[device]\n", "[device]\n" + led, 1)
        path.write_text(text)
    with open(path, "a") as f:
        f.write(control_toml(ctl))
    return path
