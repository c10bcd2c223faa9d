"""`vj mux` after a show killed with kill -9: when its sound was a file, the recording has it already
(nothing to mux, said so); when there was no sound and no tape, it says that."""

import os
import signal
import subprocess
import sys

import pytest

from helpers import ROOT, probe, vj, wait_until


def _killed_show(out, audio: str) -> None:
    cmd = [sys.executable, "-m", "vj", "run", "demo", "--headless", "--model", "seedling", "--size", "160x96",
           "--fps", "12", "--no-osc", "--state", "none", "--audio", audio, "--no-monitor", "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    show = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        wait_until("a second of the recording on disk", lambda: out.exists() and out.stat().st_size > 20000,
                   timeout=240, alive=show)
    finally:
        os.killpg(show.pid, signal.SIGKILL)  # the show, its generator and its ffmpeg: no clean-up at all
        show.wait(30)


@pytest.mark.parametrize("audio", [str(ROOT / "sets" / "demo-beat.ogg"), "none"])
def test_mux_after_a_killed_show_says_what_there_is_to_do(tmp_path, audio):
    out = tmp_path / "show.mp4"
    _killed_show(out, audio)
    assert not (tmp_path / "show.audio.wav").exists()  # a file's sound (or none) is never taped
    kinds = {s["codec_type"] for s in probe(out)["streams"]}
    r = vj("mux", str(out))
    last = r.stderr.strip().splitlines()[-1]
    if audio != "none":
        assert kinds == {"video", "audio"}
        assert r.returncode == 0 and last == f"vj: {out} has its sound already (no tape beside it): nothing to mux"
    else:
        assert kinds == {"video"}
        assert r.returncode == 2 and last == (f"vj: error: {out}: no sound in it and no tape beside it "
                                              f"(show.audio.wav); name the tape with --tape WAV")
    r = vj("mux", str(out), "--tape", str(tmp_path / "elsewhere.wav"))
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1] == f"vj: error: --tape {tmp_path / 'elsewhere.wav'}: no such file"
