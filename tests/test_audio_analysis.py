"""Rhythm, measured: onsets, tempo and beats on drum tracks the tests synthesise, where the truth
is known (vj/audio/synth.py: kick/snare/hat patterns with swing, a bass line and a noise floor).

Scoring follows the MIR literature (vj/audio/evaluate.py): onsets matched within +-50 ms; beats
within +-70 ms, counted from 5 s on (a tracker needs a few beats to lock, as in MIREX).
"""

import json
import time

import numpy as np
import pytest

from vj.audio.evaluate import match
from vj.audio.features import Analyzer
from vj.core.features import AnalyzerConfig
from vj.audio.synth import FAMILIES, HATS, drum_pattern
from helpers import vj, write_wav

SR = 48000
TRACKS = [(bpm, pattern, swing) for bpm, pattern in
          ((90, "boombap"), (120, "four"), (128, "four"), (140, "techno"), (174, "break")) for swing in (0.0, 0.3)]
# drum & bass as a club mixes it: loud snare, hats 20 dB under it (synth.MIX), two-step kick: the
# tempo's octave is what it tests (its quiet sixteenth hats are not an onset detector's benchmark)
TEMPO_TRACKS = TRACKS + [(172, "dnb", swing) for swing in (0.0, 0.3)]


def analyse(audio, config=AnalyzerConfig()):
    an = Analyzer(SR, config)
    return [an.process(audio[i:i + 512]) for i in range(0, len(audio) - 511, 512)], an


@pytest.fixture(scope="module")
def analysed():
    out = {}
    for bpm, pattern, swing in TEMPO_TRACKS:
        tr = drum_pattern(bpm, 16, swing=swing, pattern=pattern, noise_db=-50, seed=5)
        out[(bpm, pattern, swing)] = (tr, analyse(tr.audio)[0])
    return out


@pytest.mark.parametrize("case", TRACKS, ids=lambda c: f"{c[0]}bpm-{c[1]}-swing{c[2]}")
def test_onset_f_measure(analysed, case):
    tr, feats = analysed[case]
    s = match([f.t for f in feats if f.onset], tr.all_onsets(), 0.05)
    assert s.f >= 0.95, (s.f, s.precision, s.recall)
    assert max(s.errors) <= 0.030  # detection time minus the true onset, in stream time


@pytest.mark.parametrize("case", TEMPO_TRACKS, ids=lambda c: f"{c[0]}bpm-{c[1]}-swing{c[2]}")
def test_bpm_within_one_of_the_truth_from_8_s_on_without_octave_errors(analysed, case):
    tr, feats = analysed[case]
    late = [f.bpm for f in feats if f.t >= 8.0]
    assert all(abs(b - tr.bpm) <= 1.0 for b in late), (min(late), max(late))
    assert feats[-1].confidence > 0.5


@pytest.mark.parametrize("case", TEMPO_TRACKS, ids=lambda c: f"{c[0]}bpm-{c[1]}-swing{c[2]}")
def test_beat_f_measure(analysed, case):
    tr, feats = analysed[case]
    beats = [f for f in feats if f.beat]
    predicted = [f.t - f.beat_phase * 60.0 / f.bpm for f in beats]  # the beat's own time in its hop
    s = match([t for t in predicted if t >= 5.0], [t for t in tr.beats if t >= 5.0], 0.07)
    assert s.f >= 0.9, (s.f, s.precision, s.recall)


def test_beat_and_bar_phase_run_from_0_to_1():
    tr = drum_pattern(124, 12, pattern="four", noise_db=-50, seed=2)
    feats, _ = analyse(tr.audio)
    late = [f for f in feats if f.t > 6]
    phases = np.array([f.beat_phase for f in late])
    assert phases.min() < 0.05 and phases.max() > 0.95
    bars = np.array([f.bar_phase for f in late])
    assert bars.min() < 0.05 and bars.max() > 0.95
    assert sum(f.beat for f in late) == pytest.approx(6 * 124 / 60, abs=1.5)


def test_the_bpm_range_is_configurable():
    tr = drum_pattern(90, 12, pattern="boombap", noise_db=-50, seed=1)
    feats, _ = analyse(tr.audio, AnalyzerConfig(bpm_range=(100.0, 200.0)))
    assert feats[-1].bpm == pytest.approx(180.0, abs=1.0)  # the only octave of 90 in range
    tr = drum_pattern(174, 12, pattern="break", noise_db=-50, seed=1)
    feats, _ = analyse(tr.audio, AnalyzerConfig(bpm_range=(60.0, 120.0)))
    assert feats[-1].bpm == pytest.approx(87.0, abs=1.0)


def test_a_tempo_change_is_followed():
    a = drum_pattern(120, 10, pattern="four", noise_db=-50, seed=1).audio
    b = drum_pattern(132, 12, pattern="four", noise_db=-50, seed=2).audio
    feats, _ = analyse(np.concatenate([a, b]))
    assert abs(next(f for f in feats if f.t >= 9.5).bpm - 120) <= 1.0
    assert all(abs(f.bpm - 132) <= 1.0 for f in feats if f.t >= 10 + 8)


def test_tap_tempo_and_a_held_bpm():
    tr = drum_pattern(124, 14, pattern="four", noise_db=-50, seed=1)
    an = Analyzer(SR)
    x = tr.audio
    feats = []
    taps = {int(round(t * SR / 512)) for t in (6.0, 6.5, 7.0, 7.5)}  # 120 BPM taps on a 124 track
    for k, i in enumerate(range(0, len(x) - 511, 512)):
        if k in taps:
            an.tap()
        feats.append(an.process(x[i:i + 512]))
    after = next(f for f in feats if f.t > 7.6)
    assert after.bpm == pytest.approx(120.0, abs=0.5)  # the taps hold the tempo
    an.set_bpm(None)  # give it back to the tracker
    for i in range(0, 8 * SR, 512):
        f = an.process(x[(i % (len(x) - 512)):(i % (len(x) - 512)) + 512])
    assert f.bpm == pytest.approx(124.0, abs=1.0)
    an.set_bpm(100.0)
    f = an.process(x[:512])
    assert f.bpm == 100.0
    with pytest.raises(ValueError):
        an.set_bpm(1000.0)


def test_silence_after_music_loses_confidence_but_keeps_time():
    tr = drum_pattern(124, 10, pattern="four", noise_db=-50, seed=1)
    feats, _ = analyse(np.concatenate([tr.audio, np.zeros(10 * SR, np.float32)]))
    playing = next(f for f in feats if f.t >= 9.5)
    quiet = feats[-1]
    assert playing.confidence > 0.6 and quiet.confidence < 0.2
    assert quiet.bpm == pytest.approx(124, abs=1.0)  # the beat clock keeps going for the visuals
    assert quiet.level == 0 and not quiet.onset


def test_every_onset_is_published_through_the_streaming_path_after_its_sound(tmp_path):
    """The live path end to end (see vj.bench.audio.stream_latency): a file played in real time ->
    ring -> analysis thread -> published features. Every onset comes out, each after its sound
    arrived (how soon is a benchmark: `vj bench audio`, figures in BENCHMARKS.md)."""
    from vj.bench.audio import stream_latency

    tr = drum_pattern(120, 6, pattern="four", noise_db=-50, seed=3)
    path = write_wav(tmp_path / "t.wav", tr.audio)
    truth = [t for t in tr.all_onsets() if t < 4.8]
    latencies = stream_latency(path, truth, 5.0)
    assert len(latencies) == len(truth) > 15  # every onset published, each matched to its own sound
    assert min(latencies) > 0.0  # measured after the fact, never before


def test_a_file_played_live_plays_to_its_last_sample_then_says_it_ended(tmp_path):
    """1 s of sound is not a whole number of 512-sample blocks: the last 384 samples are played
    (they were held back for good once), then silence, and the source says the file ended."""
    from vj.audio.sources import FilePlayback

    tone = (0.5 * np.sin(2 * np.pi * 220 * np.arange(48000) / 48000)).astype(np.float32)
    path = write_wav(tmp_path / "one_second.wav", tone)
    fp = FilePlayback(path, monitor=False)
    played = []
    fp._deliver = lambda block: played.append(block[:, 0].copy())  # what the sound card would get
    fp.start()
    try:
        for _ in range(300):
            if fp.ended:
                break
            time.sleep(0.01)
    finally:
        fp.close()
    assert fp.ended and fp.underruns == 0
    got = np.concatenate(played)
    assert len(got) > 48000
    assert np.abs(got[:48000] - tone).max() < 1e-4  # every sample, in order (16-bit file)
    assert not got[48000:].any()  # then silence


def test_a_looped_file_starts_again_sample_true_and_never_ends(tmp_path):
    from vj.audio.sources import FilePlayback

    tone = (0.5 * np.sin(2 * np.pi * 300 * np.arange(4000) / 48000)).astype(np.float32)  # not whole blocks
    fp = FilePlayback(write_wav(tmp_path / "loop.wav", tone), monitor=False, loop=True)
    played = []
    fp._deliver = lambda block: played.append(block[:, 0].copy())
    fp.start()
    try:
        while sum(len(b) for b in played) < 5 * len(tone) + 1024:
            time.sleep(0.01)
    finally:
        fp.close()
    got = np.concatenate(played)[: 5 * len(tone)]
    assert np.abs(got - np.tile(tone, 5)).max() < 1e-4  # five times round, no gap, no click added
    assert not fp.ended and fp.underruns == 0 and fp.track.loop


# Drum & bass and breaks as the floor counts them (synth.FAMILIES; the held-out family is only ever
# measured, by `vj bench audio --accuracy`, never tested or tuned on here)
DEV_FAMILIES = [f for f in FAMILIES if not f.held_out]


@pytest.mark.parametrize("family", DEV_FAMILIES, ids=lambda f: f.name)
def test_drum_and_bass_with_nothing_on_beat_3_reads_the_floors_tempo_not_half(family):
    """No bass, no hats: beat 3 carries no hit, only the snare on 2 and 4 says the tempo."""
    rows = family.rows(HATS["none"])
    tr = drum_pattern(174, 16, bass=False, rows=rows, mix={"snare": 0.8}, noise_db=-55, seed=3)
    late = [f.bpm for f in analyse(tr.audio)[0] if f.t >= 8.0]
    assert all(abs(b - 174) <= 1.0 for b in late), (min(late), max(late))


@pytest.mark.parametrize("family", DEV_FAMILIES, ids=lambda f: f.name)
def test_a_break_whose_kicks_fall_off_the_beat_is_read_at_its_snares_tempo_and_beat(family):
    """The fastest tempo of the families with a bass line and hats on the off-beats: the Think-like
    break's kicks repeat every beat and a half (its rhythm alone reads 2/3 or 2/5 of the tempo:
    107 or 71 for 178); its snare on 2 and 4 says 178. Its beats land on the beat, not on the kicks."""
    rows = family.rows(HATS["off-beat eighths"])
    tr = drum_pattern(178, 16, rows=rows, mix={"snare": 0.8, "hat": 0.8 * 10 ** (-8 / 20), "bass": 0.6},
                      noise_db=-55, seed=1)
    feats = analyse(tr.audio)[0]
    late = [f.bpm for f in feats if f.t >= 8.0]
    assert all(abs(b - 178) <= 1.0 for b in late), (min(late), max(late))
    beats = [f.t - f.beat_phase * 60.0 / f.bpm for f in feats if f.beat and f.t >= 5]
    s = match(beats, [b for b in tr.beats if b >= 5], 0.07)
    assert s.f >= 0.9, (s.f, s.precision, s.recall)


@pytest.mark.parametrize("bpm, pattern", [(120, "four"), (90, "boombap")])
def test_a_low_passed_intro_keeps_its_tempo_with_no_snare_band_left(bpm, pattern):
    """A DJ's low-pass at 200 Hz leaves the kick and the bass: the backbeat test has no snare band to
    read and must not invent one (its kicks say the tempo, as before the filter)."""
    tr = drum_pattern(bpm, 16, pattern=pattern, noise_db=-90, seed=2)
    spec = np.fft.rfft(tr.audio)
    spec[np.fft.rfftfreq(len(tr.audio), 1.0 / SR) > 200] *= 1e-4
    late = [f.bpm for f in analyse(np.fft.irfft(spec, len(tr.audio)).astype(np.float32))[0] if f.t >= 8.0]
    assert all(abs(b - bpm) <= 1.0 for b in late), (min(late), max(late))


@pytest.mark.parametrize("bpm", [162, 167])
def test_a_snare_played_late_once_in_four_bars_does_not_move_the_tempo(bpm):
    """The jungle family's fourth bar plays its last snare on the "and" of 4: the backbeat is
    judged on a typical bar, and the reading holds within 1 BPM from 8 s on (it wandered to 4/7
    or 2/3 of the tempo for half a second when every bar had to show it)."""
    family = next(f for f in FAMILIES if f.name == "four-bar jungle break")
    rows = family.rows(HATS["none"])
    tr = drum_pattern(bpm, 16, bass=False, rows=rows, mix={"snare": 0.7}, noise_db=-55, seed=31)
    late = [f.bpm for f in analyse(tr.audio)[0] if f.t >= 8.0]
    assert all(abs(b - bpm) <= 1.0 for b in late), (min(late), max(late))


@pytest.mark.parametrize("case", [("boombap", 82, 0.0, 9), ("techno", 124, 0.3, 7)], ids=lambda c: f"{c[0]}-{c[1]}")
def test_hats_on_every_eighth_are_not_taken_for_a_snare_at_four_thirds_of_the_tempo(case):
    """The snare's own period is a candidate tempo; read at 4/3 of the tempo, a grid's beats land
    on hats, then between them, as a backbeat would: the snare's beats must be near its loudest
    hits in a typical cycle (they land on the real snare only some of the time)."""
    pattern, bpm, swing, seed = case
    tr = drum_pattern(bpm, 16, swing=swing, pattern=pattern, noise_db=-60 if pattern == "techno" else -50, seed=seed)
    late = [f.bpm for f in analyse(tr.audio)[0] if f.t >= 8.0]
    assert all(abs(b - bpm) <= 1.0 for b in late), (min(late), max(late))


@pytest.mark.parametrize("bpm", [82, 85, 88])
@pytest.mark.parametrize("swing", [0.0, 0.3])
def test_hip_hop_whose_double_is_in_range_is_read_at_its_own_tempo_not_twice(bpm, swing):
    """The snare's own backbeat test (a break's kick wanders) must not call hip-hop twice as fast:
    read at 164-176, its snare on 2 and 4 falls on every fourth beat, not every other."""
    tr = drum_pattern(bpm, 16, swing=swing, pattern="boombap", noise_db=-50, seed=9)
    late = [f.bpm for f in analyse(tr.audio)[0] if f.t >= 8.0]
    assert all(abs(b - bpm) <= 1.0 for b in late), (min(late), max(late))


def test_quiet_sixteenth_hats_under_a_drum_and_bass_snare_are_found_where_they_can_be_heard():
    rows = FAMILIES[0].rows(HATS["sixteenths"])
    tr = drum_pattern(168, 16, rows=rows, mix={"snare": 0.8, "hat": 0.8 * 10 ** (-20 / 20)}, noise_db=-55, seed=3)
    feats, _ = analyse(tr.audio)
    heard, every = tr.heard_onsets(), tr.all_onsets()
    assert len(every) * 0.6 < len(heard) < len(every)  # some hats are masked by the snare's tail, most not
    s = match([f.t for f in feats if f.onset], heard, 0.05)
    assert s.f >= 0.9, (s.f, s.precision, s.recall)


def test_a_hit_is_heard_unless_everything_else_in_its_bands_is_louder():
    from vj.audio.synth import HEARD_FRAME, hat, heard, snare

    rng = np.random.default_rng(1)
    h = 0.05 * hat(SR, rng)
    alone = np.zeros(SR)
    alone[: len(h)] += h
    assert heard(alone, 0, h[:HEARD_FRAME], SR)
    under = alone.copy()
    under[:12000] += 0.9 * snare(SR, rng)[:12000]  # a snare 25 dB louder, at the same moment
    assert not heard(under, 0, h[:HEARD_FRAME], SR)


def test_vj_features_reads_a_break_on_a_file_at_the_floors_tempo(tmp_path):
    """The user's path: a Think-like break with a bass line, written to a file, through `vj features
    FILE --json` (the show's own streaming analysis): the tempo from 8 s on is 174, not 87 or 116."""
    family = next(f for f in FAMILIES if f.name == "think break")
    rows = family.rows(HATS["off-beat eighths"])
    tr = drum_pattern(174, 14, rows=rows, mix={"snare": 0.8, "hat": 0.8 * 10 ** (-16 / 20), "bass": 0.6},
                      noise_db=-55, seed=4)
    path = write_wav(tmp_path / "think.wav", tr.audio)
    r = vj("features", str(path), "--json", "--every", "10", timeout=120)
    assert r.returncode == 0, r.stderr
    late = [d["bpm"] for d in map(json.loads, r.stdout.splitlines()) if d["t"] >= 8.0]
    assert len(late) > 50 and all(abs(b - 174) <= 1.0 for b in late), (min(late), max(late))
