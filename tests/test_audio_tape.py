"""The live input's tape (vj/audio/tape.py): hops written off the analysis thread, and a disk that
falls behind costs silence in the right place, never a shift of the sound against the picture."""

import time

import numpy as np
import soundfile

from vj.audio import tape as tape_mod


def test_hops_dropped_by_a_slow_disk_come_back_as_silence_in_place(tmp_path, monkeypatch):
    monkeypatch.setattr(tape_mod, "QUEUE_HOPS", 2)
    t = tape_mod.AudioTape(tmp_path / "x.wav", 48000, 2)
    real_write = t._file.write
    t._file.write = lambda data: (time.sleep(0.02), real_write(data))  # a disk that stalls
    hops = [np.full((512, 2), (k + 1) / 100, np.float32) for k in range(20)]
    t0 = time.perf_counter()
    for h in hops:
        t.put(h)  # from the analysis thread: must never wait for the disk
    assert time.perf_counter() - t0 < 0.05
    t.close()
    assert t.dropped > 0
    data, sr = soundfile.read(tmp_path / "x.wav", dtype="float32")
    assert sr == 48000 and data.shape == (20 * 512, 2)  # every hop has its place
    for k, h in enumerate(hops):
        block = data[k * 512:(k + 1) * 512, 0]
        assert np.allclose(block, h[0, 0], atol=1e-4) or np.allclose(block, 0.0)  # itself, or silence
    assert np.allclose(data[:512, 0], 0.01, atol=1e-4)  # the first always gets through
    t.put(hops[0])  # after close (a recording lost early): ignored


def test_an_input_that_went_quiet_leaves_silence_in_its_place(tmp_path, monkeypatch):
    """Lost for a second and back: what comes after is where it was played, not a second early."""
    now = [100.0]
    monkeypatch.setattr(tape_mod.time, "monotonic", lambda: now[0])
    t = tape_mod.AudioTape(tmp_path / "x.wav", 48000, 1)
    hop = 480  # 10 ms
    for k in range(10):  # 0.1 s of sound, in real time
        now[0] += hop / 48000
        t.put(np.full((hop, 1), 0.5, np.float32))
    now[0] += 1.0  # the input is gone for a second
    for k in range(10):
        now[0] += hop / 48000
        t.put(np.full((hop, 1), 0.25, np.float32))
    t.close()
    data, _ = soundfile.read(tmp_path / "x.wav", dtype="float32")
    assert abs(len(data) - 1.2 * 48000) <= hop  # 0.1 s + 1 s + 0.1 s
    assert np.allclose(data[: 10 * hop], 0.5, atol=1e-4)
    assert np.allclose(data[10 * hop: 10 * hop + 47000], 0.0)  # the silence
    assert np.allclose(data[-10 * hop:], 0.25, atol=1e-4)  # the sound after, at its time
    assert tape_mod.free_name(tmp_path / "x.wav") == tmp_path / "x-2.wav"  # never written over
