"""Live audio through a real JACK server (dummy backend: no sound card needed) into `vj run`."""

import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from vj.audio.synth import drum_pattern
from helpers import ROOT, write_wav


@pytest.fixture
def jack(tmp_path):
    if not shutil.which("jackd") or not shutil.which("ecasound"):
        pytest.fail("jackd and ecasound are missing: `make setup` installs them (jackd2, ecasound)")
    name = f"vjtest{os.getpid()}"
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1"}
    proc = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "512"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while subprocess.run(["jack_lsp"], env=env, capture_output=True).returncode != 0:
        assert proc.poll() is None, "jackd exited at start"
        assert time.monotonic() < deadline, "jackd did not start"
        time.sleep(0.1)
    yield env
    proc.terminate()
    proc.wait(10)


def levels(stderr: str) -> list[float]:
    return [float(x) for x in re.findall(r"\| audio ([0-9.]+) system", stderr)]


def test_sound_through_jack_moves_the_features(jack, tmp_path):
    wav = write_wav(tmp_path / "beat.wav", np.tile(drum_pattern(124, 4, noise_db=-90).audio, 4))
    vj = subprocess.Popen([sys.executable, "-m", "vj", "run", "--headless", "--audio", "system", "--duration", "11",
                           "--model", "tiny-random", "--seed", "1", "--size", "160x96", "--out", str(tmp_path / "o.mp4")],
                          cwd=ROOT, env=jack, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    feeder = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait for vj's input ports, then play into them
            ports = subprocess.run(["jack_lsp"], env=jack, capture_output=True, text=True).stdout
            if "PortAudio:in_0" in ports:
                break
            time.sleep(0.2)
        assert "PortAudio:in_0" in ports, ports
        feeder = subprocess.Popen(["ecasound", "-q", "-i", str(wav), "-o", "jack,PortAudio"], env=jack,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, err = vj.communicate(timeout=90)
    finally:
        if feeder:
            feeder.terminate()
        vj.kill()
    assert vj.returncode == 0, err
    assert "audio: input 'system'" in err
    lv = levels(err)
    assert lv and max(lv) > 0.2, err  # the drums reached the analysis


def test_silence_through_jack_reads_zero(jack, tmp_path):
    r = subprocess.run([sys.executable, "-m", "vj", "run", "--headless", "--audio", "system", "--duration", "6",
                        "--model", "tiny-random", "--seed", "1", "--size", "160x96", "--out", str(tmp_path / "o.mp4")],
                       cwd=ROOT, env=jack, capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr
    assert levels(r.stderr) == [0.0]
