"""Audio features, the parts that are not rhythm: levels, automatic gain, bands, spectrum, bad samples."""

import numpy as np
import pytest

from vj.audio.features import Analyzer
from vj.core.features import AnalyzerConfig, Features, SOURCES
from vj.audio.sources import FileInput, open_audio
from vj.audio.synth import drum_pattern
from vj.core.errors import VJError
from helpers import write_wav

SR = 48000


def run(an, x):
    return [an.process(x[i:i + 512]) for i in range(0, len(x) - 511, 512)]


def tone(freq, seconds=1.0, amp=0.5):
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def burst_train(freq, n=8, gap=0.5):
    x = np.random.default_rng(0).standard_normal(int(SR * (n * gap + 1))) * 1e-3
    t = np.arange(int(0.15 * SR)) / SR
    b = np.sin(2 * np.pi * freq * t) * np.exp(-t / 0.04) * 0.8
    for i in range(n):
        s = int((0.5 + i * gap) * SR)
        x[s:s + len(b)] += b
    return x.astype(np.float32)


def test_digital_silence_is_exactly_zero():
    f = run(Analyzer(SR), np.zeros(SR, np.float32))[-1]
    assert (f.level, f.bass, f.mid, f.high, f.flux, f.centroid) == (0, 0, 0, 0, 0, 0)
    assert not f.onset and f.bpm == 0 and not f.spectrum.any()


def test_bands_separate_low_and_high_sounds():
    low = run(Analyzer(SR), np.concatenate([tone(60), tone(60)]))[-1]
    high = run(Analyzer(SR), np.concatenate([tone(6000), tone(6000)]))[-1]
    assert low.bass > 0.8 and low.high < 0.1
    assert high.high > 0.8 and high.bass < 0.1
    assert high.centroid > low.centroid + 0.4


def test_band_edges_are_configurable():
    x = np.concatenate([tone(600), tone(600)])
    default = run(Analyzer(SR), x)[-1]
    wide_bass = run(Analyzer(SR, AnalyzerConfig(edges=(1500.0, 4000.0))), x)[-1]
    assert default.mid > 0.8 and default.bass < 0.3
    assert wide_bass.bass > 0.8 and wide_bass.mid < 0.2


def test_spectrum_shows_where_the_sound_is():
    f = run(Analyzer(SR), tone(1000))[-1]
    spec = f.spectrum
    assert spec.shape == (64,) and spec.dtype == np.float32 and not spec.flags.writeable
    peak_band = int(np.argmax(spec))
    centre = np.geomspace(30, 16000, 66)[1:-1][peak_band]
    assert 800 < centre < 1250
    assert spec[:10].max() < 0.3 and spec[-10:].max() < 0.3


def test_auto_gain_makes_a_quiet_room_and_a_loud_club_read_alike():
    loud = run(Analyzer(SR), drum_pattern(120, 6, noise_db=-90).audio)
    quiet = run(Analyzer(SR), drum_pattern(120, 6, noise_db=-90).audio * 10 ** (-30 / 20))
    m_loud = np.mean([f.level for f in loud[-200:]])
    m_quiet = np.mean([f.level for f in quiet[-200:]])
    assert m_loud > 0.3
    assert abs(m_loud - m_quiet) < 0.1


def test_hits_make_the_level_rise_and_fall():
    tr = drum_pattern(120, 4, bass=False, noise_db=-90)
    feats = run(Analyzer(SR), tr.audio)
    times = np.array([f.t for f in feats])
    level = np.array([f.level for f in feats])
    for k in tr.onsets["kick"][1:]:
        just_after = level[(times > k + 0.01) & (times < k + 0.04)].max()
        before = level[(times > k - 0.1) & (times < k - 0.02)].min()
        assert just_after > before + 0.2


@pytest.mark.parametrize("freq, band", [(60, "bass"), (800, "mid"), (8000, "high")])
def test_a_hit_in_one_band_is_a_hit_of_that_band(freq, band):
    feats = run(Analyzer(SR), burst_train(freq))
    counts = {b: sum(getattr(f, f"{b}_hit") for f in feats) for b in ("bass", "mid", "high")}
    assert 8 <= counts[band] <= 9, counts  # eight bursts (and perhaps the very first hop)
    far = {"bass": "high", "mid": None, "high": "bass"}[band]
    if far:
        assert counts[far] <= 1, counts  # a band two away hardly ever
    pulses = [getattr(f, f"{band}_pulse") for f in feats]
    assert max(pulses) == 1.0 and min(pulses[-20:]) < 0.2  # jumps on a hit, decays after


def test_time_runs_faster_while_the_band_is_loud_and_presence_is_slow():
    quiet = run(Analyzer(SR), np.concatenate([tone(60, amp=0.02), tone(60, amp=0.02)]))
    loud = run(Analyzer(SR), np.concatenate([np.zeros(SR // 2, np.float32), tone(60), tone(60)]))
    assert loud[-1].bass_time > 1.5 and loud[-1].high_time < 0.2
    f_half = next(f for f in loud if f.t >= 1.0)  # half a second into the tone
    assert f_half.bass > 0.8 and f_half.bass_presence < 0.3  # the level is there at once, presence builds
    assert loud[-1].bass_presence > f_half.bass_presence
    assert quiet[-1].bass_time > 0.3  # automatic gain: a quiet tone is still a tone


def test_bad_samples_are_ignored_and_counted():
    x = tone(440, 0.2)
    x[100:110] = np.nan
    x[200] = np.inf
    x[300:305] = 1.5  # clipping
    an = Analyzer(SR)
    f = run(an, x)[-1]
    assert an.bad_samples == 11 and an.clipped == 5
    assert np.isfinite([f.level, f.bass, f.mid, f.high, f.flux, f.centroid]).all()


def test_sources_are_zero_to_one_and_named_for_routes():
    tr = drum_pattern(124, 6, noise_db=-60)
    for f in run(Analyzer(SR), tr.audio)[::10]:
        src = f.as_sources()
        assert set(src) == set(SOURCES)
        assert all(0.0 <= v <= 1.0 for v in src.values()), src


def test_events_between_two_reads_are_not_lost():
    f1 = Features(t=1.0, onset=True)
    f2 = Features(t=1.01)
    merged = f2.merged_events([f1])
    assert merged.onset and merged.t == 1.01


def test_file_input_is_frame_exact(tmp_path):
    path = write_wav(tmp_path / "a.wav", drum_pattern(120, 3).audio)
    a, b = FileInput(path), FileInput(path)
    fa = [a.poll(i / 24).as_dict() for i in range(72)]
    fb = [b.poll(i / 24).as_dict() for i in range(72)]
    assert fa == fb
    assert a.analyzer.samples == (int(71 / 24 * SR) // 512) * 512  # exactly the hops that ended by t
    assert a.track.path == path


def test_file_input_keeps_the_onsets_of_every_hop_it_reads(tmp_path):
    tr = drum_pattern(120, 4, noise_db=-60)
    path = write_wav(tmp_path / "a.wav", tr.audio)
    polled = [FileInput(path)]
    frames = [polled[0].poll(i / 10) for i in range(40)]  # 10 fps: 9 hops per read
    assert sum(f.onset for f in frames) >= 0.9 * len([t for t in tr.all_onsets() if t < 3.9]) / 1.0 - 8


def test_file_input_reads_to_the_end_and_then_goes_quiet(tmp_path):
    path = write_wav(tmp_path / "a.wav", drum_pattern(120, 1).audio)
    a = FileInput(path)
    assert a.poll(0.9).level > 0
    assert a.poll(3.0).level == 0


def test_a_channel_can_be_chosen(tmp_path):
    stereo = np.stack([np.zeros(SR, np.float32), tone(60)], axis=1)
    path = write_wav(tmp_path / "st.wav", stereo)
    assert FileInput(path, channel=1).poll(0.9).level == 0
    assert FileInput(path, channel=2).poll(0.9).level > 0.5
    with pytest.raises(VJError, match="channel 3 does not exist"):
        FileInput(path, channel=3)


def test_formats_libsndfile_cannot_read_go_through_ffmpeg(tmp_path):
    import subprocess

    wav = write_wav(tmp_path / "a.wav", drum_pattern(120, 2).audio)
    m4a = tmp_path / "a.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    f = FileInput(m4a)
    assert f.duration == pytest.approx(2.0, abs=0.1)
    assert f.poll(1.0).level > 0.3
    f.close()
    assert not f._temp.exists()  # the decoded copy is cleaned up


def test_open_audio_errors_are_one_clear_line(tmp_path):
    with pytest.raises(VJError, match="audio file 'nope.wav' not found"):
        open_audio("nope.wav", live=False)
    bad = tmp_path / "x.wav"
    bad.write_text("not audio")
    with pytest.raises(VJError, match="can't be read"):
        open_audio(str(bad), live=False)
    assert open_audio("none", live=True).poll(1.0).level == 0
