"""The worst night: the live state saved once a second, `vj run --resume` after kill -9, and the
first recording still whole beside the second."""

import json
import os
import signal
import subprocess
import sys
import time
import tomllib

import pytest

from vj import assemble
from vj.show.setfile import parse_set
from vj.control.routes import Route
from vj.core.features import Features
from vj.core.snapshot import Snapshot
from vj.show import resume
from helpers import ROOT, decode
from test_osc_peers import oscsend
from test_stream_output import free_udp_port

SET = """
[show]
name = "night"

[[prompt]]
text = "{red|blue|green} rings"

[[scene]]
name = "calm"
params = { "feedback.amount" = 0.2 }

[[scene]]
name = "storm"
params = { "feedback.amount" = 0.8, "noise.walk" = 9.0 }
"""


def controls(seed=3):
    return assemble.build_controls(parse_set(tomllib.loads(SET)), seed)


def played(c):
    """A show's first minutes: a scene, a knob, a new prompt, a route added and one taken away, a tempo."""
    c.recall("storm", "jump (osc)")
    c.params.set("noise.walk", 4.5, source="midi")
    c.set_prompt(1, "{violet|orange} spiral")
    c.post("route_add", Route("audio.bass", "chaos", 0.5))
    c.post("route_add", Route("audio.high", "noise.walk", 2.0))
    c.post("route_remove", "audio.high", "noise.walk")
    c.post("seed", 99)
    c.post("bpm", 128.0)  # /vj/bpm 128 (no sound input here: the show's own held tempo)
    c.apply_pending()
    return resume.collect(c, Snapshot(0, 61.0, {}, tuple(c.prompts), c.seed, Features()), "night.toml", 3)


def test_what_a_show_played_comes_back_in_a_fresh_one():
    state = played(controls())
    assert state["scene"] == "storm" and state["moved"] == {"noise.walk": 4.5} and state["noise_seed"] == 99
    assert [r[0] for r in state["routes"]] == ["add", "remove"] and state["bpm"] == 128.0
    fresh = controls()
    assert resume.restore(json.loads(json.dumps(state)), fresh) == []
    fresh.apply_pending()  # the live routes come back through the same actions as OSC's
    assert fresh.scene == "storm" and fresh.params.target("feedback.amount") == pytest.approx(0.8)
    assert fresh.params.target("noise.walk") == pytest.approx(4.5)  # the knob wins over the scene, as it did
    assert fresh.prompts == state["prompts"] and fresh.templates[0].text == "{violet|orange} spiral"
    assert [(r.source, r.target, r.amount) for r in fresh.routes.routes] == [("audio.bass", "chaos", 0.5)]
    assert fresh.seed == 99 and fresh.transition is None  # landed whole
    assert resume.collect(fresh, Snapshot(0, 0.0, {}, (), 99, Features()), "night.toml", 3)["moved"] == state["moved"]


def test_what_the_set_no_longer_has_is_said_and_the_rest_restored():
    state = played(controls())
    state["scene"], state["moved"]["fx.gone.amount"] = "vanished", 1.0
    fresh = controls()
    lost = resume.restore(state, fresh)
    assert len(lost) == 2 and lost[0].startswith("scene: no scene 'vanished'") and "fx.gone.amount" in lost[1]
    assert fresh.params.target("noise.walk") == pytest.approx(4.5)


def test_the_saver_writes_whole_files_and_a_broken_one_is_said_in_a_line(tmp_path, caplog):
    c = controls()
    path = resume.state_path(tmp_path, "night")
    saver = resume.StateSaver(path, c, "night.toml", 3)
    for i in range(30):  # 3 s of frames at 10 fps: one copy a second
        c.params.set("noise.walk", i / 10, source="osc")
        saver.frame(Snapshot(i, i / 10, {}, tuple(c.prompts), c.seed, Features()))
    saver.close()
    assert json.loads(path.read_text())["moved"] == {"noise.walk": pytest.approx(2.9)}  # the last, on close
    assert 1 <= saver.saved <= 4 and not path.with_name(path.name + ".tmp").exists()
    path.write_text('{"version": 1, "scene": "sto')  # cut short by hand (a rename never leaves this)
    assert resume.load(path) is None
    assert resume.load(tmp_path / "none.json") is None
    said = [r.getMessage() for r in caplog.records]
    assert any("can't be read" in m for m in said) and any("no saved state" in m for m in said)


def _state_shows(path, scene, name, value):
    try:
        s = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return s.get("scene") == scene and abs(s.get("moved", {}).get(name, -1) - value) < 1e-3


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_kill_9_then_resume_brings_the_show_back_and_keeps_the_first_recording(tmp_path):
    out, state = tmp_path / "night.mp4", tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    port = free_udp_port()
    common = ["--headless", "--audio", "none", "--model", "tiny-random", "--size", "320x180", "--fps", "12",
              "--state", str(state), "--out", str(out)]
    first = subprocess.Popen([sys.executable, "-m", "vj", "run", "demo", "--osc-port", str(port), *common],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    saved = resume.state_file(state, ROOT / "sets" / "demo.toml", "demo")
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not saved.exists():
            time.sleep(0.2)  # the show is up: it saves its state each second
        assert saved.exists(), "the show never saved its state"
        oscsend(port, "/vj/scene", "s", "drowned")
        oscsend(port, "/vj/param/fx.kaleido.sides", "f", 7)
        while time.monotonic() < deadline and not _state_shows(saved, "drowned", "fx.kaleido.sides", 7.0):
            time.sleep(0.2)
        assert _state_shows(saved, "drowned", "fx.kaleido.sides", 7.0), saved.read_text()
        size = out.stat().st_size
        while time.monotonic() < deadline and out.stat().st_size <= size:
            time.sleep(0.1)  # more picture on disk after the moves
        first.kill()  # kill -9: no clean-up of any kind in the show's process
        first.wait(30)
        while time.monotonic() < deadline and _group_alive(first.pid):
            time.sleep(0.1)  # its generator, control process, ffmpeg and resource tracker notice and end
    finally:
        if _group_alive(first.pid):
            os.killpg(first.pid, signal.SIGKILL)  # whatever did not end by itself
    crash = first.stderr.read()
    assert "resource_tracker" not in crash and "Traceback" not in crash, crash  # the terminal after a crash
    first_frames = decode(out, (320, 180))  # fragmented mp4: what reached the disk plays
    assert len(first_frames) >= 12

    second = subprocess.run([sys.executable, "-m", "vj", "run", "demo", "--resume", "--duration", "3",
                             "--osc-port", str(free_udp_port()), *common],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "resumed where the show was" in second.stderr and "scene drowned" in second.stderr
    assert f"recording to {tmp_path / 'night-2.mp4'} beside it" in second.stderr
    assert _state_shows(saved, "drowned", "fx.kaleido.sides", 7.0)  # what the resumed show's controls hold
    log = sorted((state / "shows").glob("*.jsonl"))[-1]
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    back = [e for e in entries if e["kind"] == "resume"]
    assert back and back[0]["scene"] == "drowned" and "fx.kaleido.sides" in back[0]["moved"]
    assert len(decode(out, (320, 180))) == len(first_frames)  # the first recording, untouched
    assert len(decode(tmp_path / "night-2.mp4", (320, 180))) >= 24
