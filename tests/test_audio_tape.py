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


KILLED_SHOW = r"""
import sys, time
import numpy as np
from pathlib import Path
from vj.audio.tape import AudioTape
from vj.output.base import ProgramFrame
from vj.output.ffmpeg import FfmpegOutput

class Still:  # stands in for the compositor: a grey program image (the GL side is not what is tested)
    size, output = (160, 96), None
    def read_rgba(self):
        return bytes([128]) * (160 * 96 * 4)

out = Path(sys.argv[1])
rec = FfmpegOutput(out, (160, 96), 24)
rec.tape = AudioTape(out.with_name(out.stem + ".audio.wav"), 48000, 2)
t0 = time.monotonic()
for i in range(24 * 3):  # 3 s of picture and, from 0.5 s on, a 440 Hz tone, in real time
    t = i / 24
    while time.monotonic() - t0 < t:
        time.sleep(0.002)
    rec.present(ProgramFrame(Still(), t, i))
    if t >= 0.5:
        n = np.arange(2000) + int((t - 0.5) * 48000)
        rec.tape.put(np.repeat(0.3 * np.sin(2 * np.pi * 440 * n / 48000)[:, None], 2, 1).astype(np.float32))
print("played", flush=True)
time.sleep(600)  # killed here, before anything is closed
"""


def test_a_killed_shows_tape_still_plays_and_vj_mux_puts_it_in(tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys

    from helpers import ROOT, probe, vj

    out = tmp_path / "night.mp4"
    child = subprocess.Popen([sys.executable, "-c", KILLED_SHOW, str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        assert child.stdout.readline().strip() == "played"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (tmp_path / "night.audio.json").exists():
            time.sleep(0.05)  # the writer has synced the tape and noted its offset
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        child.kill()
    tape = tmp_path / "night.audio.wav"
    data, sr = soundfile.read(tape, dtype="float32")  # its header never got its length: read to the end
    assert sr == 48000 and len(data) >= 2.0 * 48000
    note = json.loads((tmp_path / "night.audio.json").read_text())
    assert note["video"] == "night.mp4" and 0.4 < note["offset"] < 0.7
    r = vj("mux", str(out))
    assert r.returncode == 0, r.stderr
    assert "the sound is in" in r.stderr and not tape.exists() and not (tmp_path / "night.audio.json").exists()
    streams = {s["codec_type"]: s for s in probe(out)["streams"]}
    assert set(streams) == {"video", "audio"} and int(streams["video"]["nb_read_frames"]) >= 48
    assert abs(float(streams["audio"]["start_time"]) - 0.5) < 0.1  # the tone comes in where it played
    r = vj("mux", str(out))  # nothing left to put in: said in one line
    assert r.returncode == 0 and r.stderr.strip().splitlines()[-1] == f"vj: {out} has its sound already (no tape " \
                                                                       f"beside it): nothing to mux"
