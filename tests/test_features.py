import numpy as np
import pytest

from vj.audio.features import FeatureTracker
from vj.audio.sources import FileInput, open_audio
from vj.audio.synth import drum_pattern
from vj.errors import VJError
from helpers import write_wav

SR = 48000


def run(tracker, x):
    return [tracker.process(x[i:i + 512]) for i in range(0, len(x) - 511, 512)]


def tone(freq, seconds=1.0, amp=0.5):
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_digital_silence_is_exactly_zero():
    f = run(FeatureTracker(SR), np.zeros(SR, np.float32))[-1]
    assert (f.level, f.bass, f.mid, f.high) == (0, 0, 0, 0)


def test_bands_separate_low_and_high_sounds():
    low = run(FeatureTracker(SR), np.concatenate([tone(60), tone(60)]))[-1]
    high = run(FeatureTracker(SR), np.concatenate([tone(6000), tone(6000)]))[-1]
    assert low.bass > 0.8 and low.high < 0.1
    assert high.high > 0.8 and high.bass < 0.1


def test_auto_gain_makes_a_quiet_room_and_a_loud_club_read_alike():
    loud = run(FeatureTracker(SR), drum_pattern(120, 6, noise_db=-90).audio)
    quiet = run(FeatureTracker(SR), drum_pattern(120, 6, noise_db=-90).audio * 10 ** (-30 / 20))
    m_loud = np.mean([f.level for f in loud[-200:]])
    m_quiet = np.mean([f.level for f in quiet[-200:]])
    assert m_loud > 0.3
    assert abs(m_loud - m_quiet) < 0.1


def test_hits_make_the_level_rise_and_fall():
    tr = drum_pattern(120, 4, bass=False, noise_db=-90)
    feats = run(FeatureTracker(SR), tr.audio)
    times = np.array([f.t for f in feats])
    level = np.array([f.level for f in feats])
    for k in tr.onsets["kick"][1:]:
        just_after = level[(times > k + 0.01) & (times < k + 0.04)].max()
        before = level[(times > k - 0.1) & (times < k - 0.02)].min()
        assert just_after > before + 0.2


def test_bad_samples_are_ignored_and_counted():
    x = tone(440, 0.2)
    x[100:110] = np.nan
    x[200] = np.inf
    tr = FeatureTracker(SR)
    f = run(tr, x)[-1]
    assert tr.bad_samples == 11
    assert np.isfinite([f.level, f.bass, f.mid, f.high]).all()


def test_file_input_is_frame_exact(tmp_path):
    path = write_wav(tmp_path / "a.wav", drum_pattern(120, 3).audio)
    a, b = FileInput(path), FileInput(path)
    fa = [a.poll(i / 24) for i in range(72)]
    fb = [b.poll(i / 24) for i in range(72)]
    assert fa == fb
    assert a.tracker.samples == (int(71 / 24 * SR) // 512) * 512  # exactly the hops that ended by t
    assert a.track.path == path


def test_file_input_reads_to_the_end_and_then_goes_quiet(tmp_path):
    path = write_wav(tmp_path / "a.wav", drum_pattern(120, 1).audio)
    a = FileInput(path)
    assert a.poll(0.9).level > 0
    assert a.poll(3.0).level == 0


def test_open_audio_errors_are_one_clear_line(tmp_path):
    with pytest.raises(VJError, match="audio file 'nope.wav' not found"):
        open_audio("nope.wav")
    bad = tmp_path / "x.wav"
    bad.write_text("not audio")
    with pytest.raises(VJError, match="can't be read"):
        open_audio(str(bad))
    assert open_audio("none").poll(1.0).level == 0
