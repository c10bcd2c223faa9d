"""`after` counts from the bar a scene landed on, whatever its transition: a walk of three scenes, one
with a 2-bar transition, one with a 1-bar one, each left `after = "2 bars"`, rendered by `vj render`
at the free clock's 120 BPM (2 bars: 4 s) and a frame rate whose frames fall between the beats (as a
tempo from the music does); the show log's scene changes come 4 s apart, every one."""

import json

from helpers import vj

WALK = """
[show]
name = "walk"
size = [160, 96]
fps = 23.7
transition = "cut"

[generator]
model = "seedling"

[[scene]]
name = "a"
params = { "feedback.amount" = 0.2 }

[[scene]]
name = "b"
transition = "2 bars"
params = { "feedback.amount" = 0.6 }

[[scene]]
name = "c"
transition = "1 bar"
params = { "feedback.amount" = 0.9 }

[graph]
start = "a"

[[edge]]
from = "a"
to = "b"
after = "2 bars"

[[edge]]
from = "b"
to = "c"
after = "2 bars"

[[edge]]
from = "c"
to = "a"
after = "8 beats"
"""


def test_after_counts_from_the_bar_the_scene_landed_on_whatever_its_transition(tmp_path):
    (tmp_path / "walk.toml").write_text(WALK)
    r = vj("render", str(tmp_path / "walk.toml"), "--audio", "none", "--duration", "21", "--seed", "1",
           "--out", str(tmp_path / "walk.mp4"), "--state", str(tmp_path / "state"), timeout=600)
    assert r.returncode == 0, r.stderr
    (log,) = (tmp_path / "state" / "shows").glob("*.jsonl")
    scenes = [e for e in map(json.loads, log.read_text().splitlines()) if e["kind"] == "scene"]
    assert [e["scene"] for e in scenes] == ["a", "b", "c", "a", "b", "c"], scenes
    assert [e["transition"] for e in scenes[1:3]] == ["2 bars", "1 bar"]
    gaps = [later["t"] - earlier["t"] for earlier, later in zip(scenes, scenes[1:])]
    assert all(abs(gap - 4.0) <= 1 / 23.7 + 1e-6 for gap in gaps), gaps  # 2 bars at 120 BPM, to a frame
