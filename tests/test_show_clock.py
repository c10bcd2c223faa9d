"""One clock for the show (vj/sync/showclock.py): which source drives, what happens when it goes,
and that everything (sources, shaders' uniforms, bars) reads the same beat.

The rule is tested here with readings handed in; the real peers (a JACK MIDI clock, Link sessions
in a network namespace, oscdump) are in test_midi_jack.py, test_link.py and test_osc_peers.py."""

from types import MappingProxyType

import numpy as np
import pytest

from vj.audio.features import Analyzer
from vj.audio.sources import FileInput
from vj.audio.synth import drum_pattern
from vj.core.features import Features
from vj.core.snapshot import ClockState, Snapshot
from vj.control.hand import HandTempo
from vj.sync.showclock import ShowClock
from helpers import write_wav

SR = 48000


def tracked(bpm, beats):
    return Features(bpm=bpm, beats=beats)


class Readings:
    """A source's readings handed in by the test: (beat, bpm) now, or None (gone)."""

    def __init__(self):
        self.now = None

    def __call__(self):
        return self.now


def run(clock, t0, t1, feats, fps=50.0, hand=None):
    states = []
    for i in range(int(round((t1 - t0) * fps))):
        states.append(clock.tick(t0 + i / fps, feats(t0 + i / fps) if callable(feats) else feats, hand))
    return states


def held(bpm):
    h = HandTempo()
    h.hold(bpm)
    return h


def test_before_any_source_it_runs_free_at_120():
    c = ShowClock()
    s = run(c, 0.0, 2.0, Features())
    assert s[-1].source == "free" and s[-1].bpm == 120.0 and s[-1].note == ""
    assert s[-1].beat == pytest.approx(2.0 * 1.98, abs=0.01)  # 2 beats a second


def test_the_tracker_brings_its_phase_and_the_count_only_moves_forward():
    c = ShowClock()
    run(c, 0.0, 1.0, Features())  # free: about beat 2
    before = c.beat
    s = c.tick(1.0, tracked(100.0, 37.3))
    assert s.source == "tracker" and s.bpm == 100.0
    assert s.beat % 4 == pytest.approx(37.3 % 4)  # in the tracker's bar
    assert before <= s.beat < before + 4  # forward to it, by less than a bar
    assert c.tick(1.02, tracked(100.0, 37.3 + 100 / 60 * 0.02), held(100.0)).source == "held"


def test_midi_clock_wins_over_the_tracker_and_link_over_both():
    midi = Readings()
    link = StandInLink()
    c = ShowClock(link=link, midi=midi)
    f = tracked(100.0, 10.0)
    assert c.tick(0.0, f).source == "tracker"
    midi.now = (5.0, 130.0)
    s = c.tick(0.02, f)
    assert s.source == "midi" and s.bpm == 130.0 and s.beat % 4 == pytest.approx(1.0)
    link.now, link.n = (8.5, 140.0), 0
    assert c.tick(0.04, f).source == "midi"  # a Link session alone: nobody to follow
    link.n = 2
    s = c.tick(0.06, f)
    assert s.source == "link" and s.bpm == 140.0 and s.peers == 2 and s.beat % 4 == pytest.approx(0.5)
    assert "Link, 2 peers" in s.describe()


class StandInLink:
    """Stands in for sync/link.LinkSession in the rule's test (the real one: test_link.py)."""

    def __init__(self):
        self.now, self.n, self.proposed = None, 0, []

    def reading(self):
        return None if self.now is None else (*self.now, self.n)

    def peers(self):
        return self.n

    def propose(self, bpm):
        self.proposed.append(bpm)


def test_when_the_source_goes_it_carries_on_at_the_last_tempo_without_a_jump_and_says_so():
    midi = Readings()
    c = ShowClock(midi=midi)
    for i in range(50):  # one second of MIDI clock at 150 BPM
        midi.now = (i * 0.02 * 2.5, 150.0)
        last = c.tick(i * 0.02, Features())
    midi.now = None  # the clock stops
    s = c.tick(1.0, Features())
    assert s.source == "free" and s.bpm == 150.0 and "MIDI clock went away" in s.note
    assert s.beat - last.beat == pytest.approx(0.02 * 2.5)  # the step it would have taken: no jump
    s = run(c, 1.02, 2.0, Features())[-1]
    assert s.beat == pytest.approx(last.beat + (2.0 - 0.02 - 0.98) * 2.5, abs=0.06)
    assert "went away" in s.describe()


def test_a_tempo_by_hand_is_proposed_to_link_when_set_and_when_the_session_is_found():
    link = StandInLink()
    c = ShowClock(link=link)
    hand = held(128.0)
    run(c, 0.0, 0.2, Features(), hand=hand)
    assert link.proposed == [128.0]  # once, not every frame
    link.now, link.n = (3.0, 141.0), 1  # the show finds the session's other peer: it hears 128 again
    s = c.tick(0.2, Features(), hand)
    assert link.proposed == [128.0, 128.0] and s.source == "link"
    hand.hold(133.0)
    c.tick(0.22, Features(), hand)
    assert link.proposed[-1] == 133.0
    tapped = HandTempo()  # taps into a sound input's tracker: the tracker's tempo is the hand's
    tapped.tap(0.0, audio=type("Input", (), {"analyzer": object(), "tap": lambda self, when: None})())
    c.tick(0.24, tracked(126.0, 10.0), tapped)
    assert link.proposed[-1] == 126.0 and len(link.proposed) == 4


def test_the_trackers_bars_start_on_its_downbeat():
    """A boom-bap track that starts a beat late: its downbeat is not the tracker's first beat.
    The bar counted from the tracker's beats and its bar_phase turn over together."""
    tr = drum_pattern(96, 16, pattern="boombap", noise_db=-50, seed=3)
    audio = np.concatenate([np.zeros(int(SR * 60 / 96)), tr.audio])
    an = Analyzer(SR)
    feats = [an.process(audio[i:i + 512]) for i in range(0, len(audio) - 511, 512)]
    late = [f for f in feats if f.t > 8]
    assert an.tempo._downbeat != 0  # the case the old count got wrong (bars on beats // 4)
    wraps = [f.t for a, f in zip(late, late[1:]) if f.bar_phase < a.bar_phase - 0.5]
    bars = [f.t for a, f in zip(late, late[1:]) if f.beats // 4 > a.beats // 4]
    assert len(bars) >= 3 and wraps == bars


def test_audio_bar_and_the_shaders_bar_phase_agree_on_the_downbeat(gl_ctx, tiny_model, tmp_path):
    """The engine end to end: audio.bar fires on the frames where u_bar_phase turns over."""
    from vj import assemble
    from vj.clock import ManualClock
    from vj.show.setfile import load_set, with_overrides
    from vj.render.compositor import Compositor
    from vj.resources import find_set
    from helpers import MemoryOutput

    tr = drum_pattern(96, 14, pattern="boombap", noise_db=-50, seed=3)
    wav = write_wav(tmp_path / "late.wav", np.concatenate([np.zeros(int(SR * 60 / 96), np.float32), tr.audio]))
    show = with_overrides(load_set(find_set("demo")), size=(160, 96), fps=24.0)
    controls = assemble.build_controls(show, 1)
    seen = []
    e = assemble.make_engine(controls, Compositor(gl_ctx, show.size), assemble.local_generator(show, tiny_model, 1),
                             clock=ManualClock(), audio=FileInput(wav), outputs=[MemoryOutput()],
                             on_frame=[lambda s: seen.append((s.t, s.values["audio.bar"], s.clock))])
    e.render_offline(24 * 14, 24.0)
    late = [(t, bar, c) for t, bar, c in seen if t > 8]
    assert all(c.source == "tracker" for _, _, c in late)
    fired = [t for t, bar, _ in late if bar > 0.5]
    wrapped = [t for (_, _, a), (t, _, c) in zip(late, late[1:]) if c.bar_phase < a.bar_phase - 0.5]
    assert len(fired) >= 3 and fired == wrapped


def test_the_shaders_read_the_show_clock(gl_ctx):
    from vj.render.uniforms import CommonUniforms

    prog = gl_ctx.program(vertex_shader="#version 330\nin vec2 p; void main() { gl_Position = vec4(p, 0, 1); }",
                          fragment_shader="#version 330\nuniform float u_beat_phase; uniform float u_bar_phase;"
                                          "uniform float u_bpm; out vec4 c;"
                                          "void main() { c = vec4(u_beat_phase, u_bar_phase, u_bpm, 1); }")
    u = CommonUniforms(gl_ctx, (8, 8))
    snap = Snapshot(0, 0.0, MappingProxyType({}), ("x",), 1, Features(bpm=90.0, beat_phase=0.9, bar_phase=0.1),
                    clock=ClockState(133.0, 6.25, "midi"))
    u.apply(prog, snap)
    assert prog["u_beat_phase"].value == pytest.approx(0.25)
    assert prog["u_bar_phase"].value == pytest.approx(2.25 / 4)
    assert prog["u_bpm"].value == pytest.approx(133.0)


def test_a_tempo_held_by_hand_without_sound_drives_the_clock_from_where_it_was():
    c = ShowClock()
    before = run(c, 0.0, 1.0, Features())[-1]  # free at 120
    hand = held(128.0)
    s = run(c, 1.0, 2.0, Features(), hand=hand)
    assert [x.source for x in s] == ["held"] * len(s) and s[-1].bpm == 128.0
    assert s[0].beat - before.beat == pytest.approx(0.02 * 128 / 60)  # no jump in phase: on at the new tempo
    assert "128.0 BPM (held)" in s[-1].describe()
    hand.hold(None)  # /vj/bpm 0 with no tracker: it runs free at the tempo it had
    s = c.tick(2.0, Features(), hand)
    assert s.source == "free" and s.bpm == 128.0 and "held tempo went away" in s.note


def test_taps_without_sound_set_the_tempo_and_put_the_beat_on_the_last_tap():
    now = [100.0]
    c = ShowClock(monotonic=lambda: now[0])
    hand = HandTempo()
    run(c, 0.0, 1.0, Features(), hand=hand)
    assert c.state.source == "free"
    for i in range(4):  # four taps 0.5 s apart: 120 BPM
        hand.tap(100.0 + 0.5 * i)
    assert hand.bpm == pytest.approx(120.0)
    now[0] = 101.6  # the frame comes 0.1 s after the last tap
    s = c.tick(1.02, Features(), hand)
    assert s.source == "held" and s.bpm == pytest.approx(120.0)
    assert s.phase == pytest.approx(0.1 * 2.0)  # 0.2 of a beat after the beat the tap put down
    hand.tap(108.0)  # after a pause: a new run, one tap: the phase moves, the tempo stays
    hand.tap(108.1)  # a second 0.1 s later is a run of its own tempo: 600 BPM, held at 400
    assert hand.bpm == 400.0
    hand.tap(110.5)
    hand.tap(111.0)
    hand.tap(111.6)  # intervals 0.5 and 0.6: the median of two is their mean
    assert hand.bpm == pytest.approx(60 / 0.55)
