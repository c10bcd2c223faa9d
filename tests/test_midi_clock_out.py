"""MIDI clock out through a real JACK server: the show's clock read back by a JACK MIDI input port
(what a drum machine behind a MIDI interface would get): Start, 24 ticks a beat that follow the
show's tempo, Stop. And MIDI clock in drives the shaders' beat uniform."""

import statistics
import threading
import time
from types import MappingProxyType, SimpleNamespace

import pytest

from vj.core.snapshot import ClockState
from helpers import Jack

JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"


@pytest.fixture
def jack(monkeypatch):
    j = Jack(period=64)
    j.start()
    for k in ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION"):
        monkeypatch.setenv(k, j.env[k])
    monkeypatch.setenv("MIDO_BACKEND", JACK_MIDI)
    try:
        yield j
    finally:
        j.stop()


class Receiver:
    """A JACK MIDI input port of its own (a drum machine's), logging what arrives and when."""

    def __init__(self):
        import mido

        self.got = []
        be = mido.Backend(JACK_MIDI)
        self.port = be.open_input("clockin", virtual=True, client_name="drummachine",
                                  callback=lambda m: self.got.append((time.perf_counter(), m.type)))

    def of(self, kind):
        return [t for t, k in self.got if k == kind]


class RenderThread:
    """Plays the render thread: a snapshot 60 times a second carrying the clock at `bpm` (changeable)."""

    def __init__(self, out, bpm):
        self.out, self.bpm, self.beat, self.stop = out, bpm, 0.0, threading.Event()
        self.t0 = time.perf_counter()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def now(self):
        return time.perf_counter() - self.t0

    def run(self):
        last = self.now()
        while not self.stop.is_set():
            t = self.now()
            self.beat += (t - last) * self.bpm / 60.0
            last = t
            self.out.frame(SimpleNamespace(t=t, clock=ClockState(self.bpm, self.beat)))
            time.sleep(1 / 60)


def test_midi_clock_out_sends_start_24_ticks_a_beat_at_the_shows_tempo_and_stop(jack):
    from vj.sync.midi_out import MidiClockOut

    rx = Receiver()
    render = RenderThread(None, 120.0)
    out = MidiClockOut("drummachine", render.now)
    render.out = out
    render.thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(rx.of("clock")) < 24 * 6 and time.monotonic() < deadline:  # six beats at 120
            time.sleep(0.05)
        render.bpm = 150.0  # the show's tempo moves (Link, a tap, the tracker): the ticks follow
        n = len(rx.of("clock"))
        while len(rx.of("clock")) < n + 24 * 6 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        render.stop.set()
        out.close()
        deadline = time.monotonic() + 5
        while not rx.of("stop") and time.monotonic() < deadline:
            time.sleep(0.02)
        rx.port.close()  # before the JACK server goes: a port outliving it crashes rtmidi
    starts, ticks, stops = rx.of("start"), rx.of("clock"), rx.of("stop")
    assert len(starts) == 1 and starts[0] <= ticks[0]  # Start, then the ticks
    assert len(stops) == 1 and stops[0] >= ticks[-1]  # Stop when the show ends
    intervals = [b - a for a, b in zip(ticks, ticks[1:])]
    at_120 = statistics.median(intervals[5:24 * 5])
    at_150 = statistics.median(intervals[-24 * 4:])
    assert at_120 == pytest.approx(60 / 120 / 24, rel=0.1)
    assert at_150 == pytest.approx(60 / 150 / 24, rel=0.1)
    # JACK without real-time scheduling drops a tick now and then when its cycle runs late: 1 of 2984
    # in a quiet minute (BENCHMARKS.md), 2 of 292 with the whole suite running beside it
    assert 0.97 * out.sent <= len(ticks) <= out.sent


def test_a_missing_clock_out_port_is_one_line_naming_the_ports(jack):
    from vj.core.errors import DeviceError
    from vj.sync.midi_out import MidiClockOut

    rx = Receiver()
    try:
        with pytest.raises(DeviceError, match=r"--midi-clock-out nosuch: no MIDI input port has 'nosuch'.*drummachine"):
            MidiClockOut("nosuch", time.perf_counter)
    finally:
        rx.port.close()


def test_midi_clock_in_drives_the_show_clock_and_the_shaders_beat_uniform(jack, gl_ctx):
    """A drum machine's clock into the control process, as `vj run --midi NAME` reads it, through the
    show clock into u_beat_phase and u_bpm."""
    import mido

    from vj import assemble
    from vj.show.setfile import load_set
    from vj.control.process import ControlProcess
    from vj.core.features import Features
    from vj.core.snapshot import Snapshot
    from vj.render.uniforms import CommonUniforms
    from vj.resources import find_set
    from vj.sync.showclock import ShowClock

    be = mido.Backend(JACK_MIDI)
    drums = be.open_output("clockout", virtual=True, client_name="drumbox")
    c = assemble.build_controls(load_set(find_set("demo")), 1)
    proc = ControlProcess(c, None, (("drumbox",), None))
    proc.start()
    try:
        c.listen_to(proc)
        import jack as jack_client

        watcher = jack_client.Client("test-watch", no_start_server=True)
        deadline = time.monotonic() + 10  # JACK connects a moment after the port opens: wait for it
        while not watcher.get_all_connections("drumbox:clockout") and time.monotonic() < deadline:
            time.sleep(0.05)
        watcher.close()
        drums.send(mido.Message("start"))
        tick = 60 / 132 / 24
        for _ in range(24 * 3 + 6):  # three beats and a quarter at 132 BPM
            drums.send(mido.Message("clock"))
            time.sleep(tick)
        deadline = time.monotonic() + 10
        while proc.tempo() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        clock = ShowClock(midi=c.outside_tempo)
        state = clock.tick(0.0, Features())
        beats, bpm = proc.tempo()
    finally:
        proc.stop()
        drums.close()
    assert state.source == "midi" and state.bpm == pytest.approx(132, rel=0.05)
    prog = gl_ctx.program(vertex_shader="#version 330\nin vec2 p; void main() { gl_Position = vec4(p, 0, 1); }",
                          fragment_shader="#version 330\nuniform float u_beat_phase; uniform float u_bpm; out vec4 c;"
                                          "void main() { c = vec4(u_beat_phase, u_bpm, 0, 1); }")
    CommonUniforms(gl_ctx, (8, 8)).apply(prog, Snapshot(0, 0.0, MappingProxyType({}), ("x",), 1, clock=state))
    assert prog["u_beat_phase"].value == pytest.approx(state.beat % 1.0)
    assert state.beat % 4 == pytest.approx(beats % 4)  # MIDI clock's place in the bar (counted from Start)
    assert prog["u_bpm"].value == pytest.approx(bpm)
