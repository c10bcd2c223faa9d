"""Bad input gets one clear line and exit status 2: never a traceback wall."""

import os

import pytest

from vj.cli import main
from helpers import vj


def run(capsys, *args):
    code = main(list(args))
    err = capsys.readouterr().err
    return code, err


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("vj: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("args, expect", [
    (["render", "sets/demo.toml", "--out", "/tmp/x.mp4", "--model", "sd-turbbo", "--audio", "none", "--duration", "1"],
     r"--model 'sd-turbbo' is unknown \(did you mean 'sd-turbo'\?\).*seedling \(built in.*sd-turbo, sdxl-turbo"),
    (["render", "nonesuch.toml", "--out", "/tmp/x.mp4"], r"set file 'nonesuch.toml' not found \(shipped sets: camera, club, degenerate, demo, faces, tour\)"),
    (["render", "demo", "--out", "/tmp/x.mp4", "--audio", "missing.wav"], r"--audio missing.wav: no such file"),
    (["render", "demo", "--out", "/tmp/x.mp4", "--audio", "none"], r"a silent render needs --duration"),
    (["render", "demo", "--out", "/nonexistent-dir/x.mp4", "--model", "tiny-random", "--duration", "1"],
     r"folder /nonexistent-dir does not exist"),
    (["render", "demo", "--out", "/tmp/x.mp4", "--size", "big"], r"--size: size 'big' is not WIDTHxHEIGHT"),
    (["run", "--headless", "--audio", "no-such-device-xyz", "--duration", "1"], r"no audio input matches 'no-such-device-xyz'|live audio needs PortAudio"),
    (["run", "--headless", "--duration", "-3"], r"--duration -3: a number of seconds above 0"),
    (["render", "demo", "--out", "/tmp/x.mp4", "--duration", "0"], r"--duration 0: a number of seconds above 0"),
])
def test_bad_input_is_one_clear_line(capsys, args, expect):
    import re

    code, err = run(capsys, *args)
    assert code == 2
    assert re.search(expect, one_error_line(err)), err


def test_bad_set_values_are_reported_before_any_model_loads(capsys, tmp_path):
    s = tmp_path / "s.toml"
    s.write_text('[params]\n"feedback.amout" = 0.5\n[generator]\nmodel = "stabilityai/sd-turbo"\n')
    code, err = run(capsys, "render", str(s), "--out", str(tmp_path / "x.mp4"), "--audio", "none", "--duration", "1")
    assert code == 2
    line = one_error_line(err)
    assert "did you mean 'feedback.amount'" in line
    assert "loading model" not in err


def test_an_offline_hub_model_fails_at_once_naming_alternatives(tmp_path):
    r = vj("render", "demo", "--model", "stabilityai/sd-turbo", "--out", str(tmp_path / "x.mp4"),
           "--duration", "1", "--audio", "none", env={"HF_HUB_OFFLINE": "1"}, timeout=120)
    assert r.returncode == 2
    line = one_error_line(r.stderr)
    assert line.startswith("vj: error: --model 'stabilityai/sd-turbo' can't be loaded") and "local Hugging Face cache" in line
    assert "needs nothing: seedling (built in" in line and "dcgan-faces" in line


def test_a_taken_osc_port_is_said_before_the_model_loads_and_leaves_nothing_behind():
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        r = vj("run", "--headless", "--duration", "2", "--audio", "none", "--model", "tiny-random",
               "--osc-port", str(port), timeout=120)
    assert r.returncode == 2
    assert f"can't listen on 127.0.0.1:{port} (Address already in use)" in one_error_line(r.stderr)
    assert "loading model" not in r.stderr and "leaked" not in r.stderr


@pytest.mark.skipif(os.path.exists("/dev/snd/seq"), reason="this machine has an ALSA sequencer")
def test_midi_without_a_sequencer_is_our_one_line_not_alsas_own(tmp_path, monkeypatch):
    """libasound prints `ALSA lib seq_hw.c:...(snd_seq_hw_open) open /dev/snd/seq failed` from C before
    our line: its handler is ours now (and says nothing); with -v its own lines come back."""
    monkeypatch.delenv("MIDO_BACKEND", raising=False)  # mido's own default: ALSA
    r = vj("learn", "noise.walk", "--midi", "nano", "--timeout", "1", cwd=tmp_path, timeout=120)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vj: error: MIDI:"), r.stderr
    r = vj("learn", "noise.walk", "--midi", "nano", "--timeout", "1", "-v", cwd=tmp_path, timeout=120)
    assert r.returncode == 2 and "ALSA lib" in r.stderr, r.stderr
