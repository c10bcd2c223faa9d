"""The show log: a witness's JSON lines (start, scenes and why, prompts drawn, moves by hand,
warnings, end), and a seed never reused by an unseeded show."""

import json
import logging

from vj import assemble
from vj.show.setfile import load_set
from vj.resources import find_set
from vj.show.log import ShowLog, used_seeds
from helpers import vj


def entries(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_render_is_logged_and_no_unseeded_show_repeats_a_seed(tmp_path):
    state = tmp_path / "state"
    args = ["render", "demo", "--model", "tiny-random", "--duration", "0.25", "--size", "160x96", "--state", str(state)]
    for k in range(2):
        r = vj(*args, "--out", str(tmp_path / f"r{k}.mp4"))
        assert r.returncode == 0, r.stderr
    r = vj(*args, "--out", str(tmp_path / "seeded.mp4"), "--seed", "7")
    assert r.returncode == 0, r.stderr
    logs = sorted((state / "shows").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    assert len(logs) == 3
    starts = [entries(p)[0] for p in logs]
    assert all(s["kind"] == "start" and s["model"] == "tiny-random" and s["mode"] == "render" for s in starts)
    assert starts[0]["seed_drawn"] and starts[1]["seed_drawn"] and starts[0]["seed"] != starts[1]["seed"]
    assert starts[2]["seed"] == 7 and not starts[2]["seed_drawn"]
    assert used_seeds(state) == {s["seed"] for s in starts}
    for p in logs:
        e = entries(p)
        assert e[-1]["kind"] == "end" and e[-1]["frames"] == 6 and e[-1]["dropped"] == 0
        drawn = [x for x in e if x["kind"] == "prompt"]
        assert drawn and drawn[0]["slot"] == 2 and drawn[0]["why"] == "start"  # the demo's template, as drawn
        assert "{" not in drawn[0]["text"]


def test_a_drawn_seed_skips_the_seeds_of_logged_shows(monkeypatch):
    import secrets

    draws = iter([11, 11, 12, 13])
    monkeypatch.setattr(secrets, "randbits", lambda n: next(draws))
    show = load_set(find_set("demo"))
    assert assemble.resolve_seed(None, show, {11, 12}) == (13, True)
    assert assemble.resolve_seed(5, show, {5}) == (5, False)  # asked for: a rehearsal repeats itself


def test_scenes_moves_warnings_and_the_end_are_witnessed(tmp_path):
    now = [0.0]
    journal = ShowLog.new(tmp_path, "demo", lambda: now[0])
    c = assemble.build_controls(load_set(find_set("demo")), 1, journal=journal)
    now[0] = 1.5
    c.recall("storm", "edge calm->storm (after 8 bars)")
    for k in range(50):  # a knob turned through fifty values in a moment: coarsened
        c.params.set("noise.walk", k / 10, source="osc")
    c.params.set("feedback.amount", 0.3, source="scene")  # not a hand: not a move
    logging.getLogger("vj").warning("MIDI: nanoKONTROL2 unplugged")
    logging.getLogger("vj").error("generator: the process died")
    journal.close(frames=36)
    e = entries(journal.path)
    kinds = [x["kind"] for x in e]
    assert kinds[-1] == "end" and e[-1]["frames"] == 36
    scene = next(x for x in e if x["kind"] == "scene")
    assert scene["scene"] == "storm" and scene["why"].startswith("edge calm->storm") and scene["t"] == 1.5
    moves = [x for x in e if x["kind"] == "move"]
    assert {m["name"] for m in moves} == {"noise.walk"} and 1 <= len(moves) <= 2  # its last value a second
    assert (moves[-1]["value"], moves[-1]["source"]) == (4.9, "osc")
    assert {"warning", "fault"} <= set(kinds)
    assert next(x for x in e if x["kind"] == "fault")["message"] == "generator: the process died"
    assert all("wall" in x and "t" in x for x in e)
    logging.getLogger("vj").warning("after the show")  # its handler is gone with it
    assert entries(journal.path) == e


def test_no_log_is_kept_when_asked_and_two_shows_in_one_second_get_two_files(tmp_path):
    a = ShowLog.new(tmp_path, "demo", lambda: 0.0)
    b = ShowLog.new(tmp_path, "demo", lambda: 0.0)
    a.close()
    b.close()
    assert a.path != b.path and a.path.exists() and b.path.exists()
    r = vj("render", "demo", "--model", "tiny-random", "--duration", "0.25", "--size", "160x96", "--state", "none",
           "--out", str(tmp_path / "x.mp4"), env={"VJ_STATE": str(tmp_path / "elsewhere")})
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "elsewhere").exists()
