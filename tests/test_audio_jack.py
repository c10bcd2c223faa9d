"""Live audio through a real JACK server (dummy backend: no sound card needed): drums played by
ecasound into the sounddevice input of `vj run` / `vj features`, and a server that dies mid-show."""

import json
import re
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from vj.audio.synth import drum_pattern
from helpers import ROOT, Jack, probe, write_wav


@pytest.fixture
def jack():
    j = Jack()
    j.start()
    yield j
    j.stop()


@pytest.fixture(scope="module")
def drums(tmp_path_factory):
    return write_wav(tmp_path_factory.mktemp("jack") / "drums.wav",
                     np.tile(drum_pattern(124, 8, pattern="four", noise_db=-60, seed=4).audio, 3))


def levels(stderr: str) -> list[float]:
    return [float(x) for x in re.findall(r"\| audio ([0-9.]+) system", stderr)]


def vj(jack, *args):
    return subprocess.Popen([sys.executable, "-m", "vj", *args], cwd=ROOT, env=jack.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def vj_run(jack, *args, seconds):
    return vj(jack, "run", "--headless", "--audio", "system", "--duration", str(seconds), "--model", "tiny-random",
              "--seed", "1", "--size", "160x96", *args)


def played_into(jack, proc, wav):
    """Once `proc` has its JACK input, play `wav` into it; then wait for it: (returncode, out, err)."""
    try:
        jack.wait_for_port("PortAudio:in_0")
        jack.play(wav)
        out, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    return proc.returncode, out, err


def test_sound_through_jack_moves_the_features_and_is_recorded(jack, drums, tmp_path):
    out = tmp_path / "o.mp4"
    code, _, err = played_into(jack, vj_run(jack, "--out", str(out), seconds=11), drums)
    assert code == 0, err
    assert "audio: input 'system'" in err
    lv = levels(err)
    assert lv and max(lv) > 0.2, err  # the drums reached the analysis
    # the live input is in the recording, as long as the picture, and the tape beside it is gone
    streams = probe(out)["streams"]
    video = next(s for s in streams if s["codec_type"] == "video")
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert len(audio) == 1, streams
    assert abs(float(audio[0]["duration"]) - float(video["duration"])) < 1.5, (audio[0]["duration"], video["duration"])
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", str(out), "-map", "0:a", "-ac", "1", "-f", "f32le", "-"],
                         capture_output=True, check=True).stdout
    sound = np.frombuffer(pcm, np.float32)
    assert np.abs(sound).max() > 0.2  # the drums, not silence
    assert not (tmp_path / "o.audio.wav").exists()


def test_silence_through_jack_reads_zero(jack, tmp_path):
    proc = vj_run(jack, "--out", str(tmp_path / "o.mp4"), seconds=6)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert levels(err) == [0.0]


def test_vj_features_through_jack_finds_onsets_and_the_tempo(jack, drums):
    code, out, err = played_into(jack, vj(jack, "features", "system", "--json", "--duration", "13"), drums)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert {"t", "level", "bass", "mid", "high", "onset", "beat", "bpm", "beat_phase"} <= set(rows[0])
    playing = [r for r in rows if r["level"] > 0]
    assert len(playing) > 500
    t0 = playing[0]["t"]
    onsets = [r["t"] for r in playing if r["onset"]]
    assert len(onsets) == pytest.approx(2 * 124 / 60 * (playing[-1]["t"] - t0), rel=0.15)  # eighth notes
    late = [r["bpm"] for r in playing if r["t"] > t0 + 8]
    assert late and all(abs(b - 124) <= 1.0 for b in late), (min(late), max(late))
    assert sum(r["beat"] for r in playing if r["t"] > t0 + 8) >= 2


def test_a_server_that_dies_mid_show_is_survived_and_comes_back(jack, drums, tmp_path):
    show = vj_run(jack, "--out", str(tmp_path / "o.mp4"), seconds=24)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(show.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        jack.wait_for_port("PortAudio:in_0")
        jack.play(drums)
        deadline = time.monotonic() + 60
        while not any("playing" in ln for ln in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)
        jack.kill()  # the audio server crashes mid-show
        time.sleep(4)
        jack.start()  # ... and is started again
        jack.wait_for_port("PortAudio:in_0", timeout=30)  # vj found it again by itself
        jack.play(drums)
        show.wait(timeout=90)
    finally:
        show.kill()
        reader.join(10)
    err = "".join(lines)
    assert show.returncode == 0, err
    assert "audio input 'system' lost" in err and "LOST" in err
    assert "audio input 'system' is back" in err
    m = re.search(r"show: (\d+) frames in ([0-9.]+) s", err)
    assert m and float(m.group(2)) >= 23.5 and int(m.group(1)) >= 23 * 24  # the render loop never stopped
    assert levels(err)[-1] > 0.2  # and the sound drives it again
    # the recording keeps its whole picture, and its sound (silence where the input was gone) as long
    streams = probe(tmp_path / "o.mp4")["streams"]
    video = next(s for s in streams if s["codec_type"] == "video")
    audio = next(s for s in streams if s["codec_type"] == "audio")
    assert float(video["duration"]) >= 23.5
    assert abs(float(audio["duration"]) - float(video["duration"])) < 0.5
