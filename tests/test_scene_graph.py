"""The scene graph: edges on beats, bars, chance, notes and onsets; quantised moves; drift; the
same path under one seed; a running show walking it."""

import subprocess
import sys
from pathlib import Path

import pytest

from vj import assemble
from vj.audio.sources import SilentInput
from vj.clock import ManualClock
from vj.show.setfile import parse_set
from vj.core.spec import EdgeSpec, GraphSpec
from vj.render.compositor import Compositor
from vj.show.graph import Moment, SceneGraph
from helpers import MemoryOutput

ROOT = Path(__file__).resolve().parent.parent
FPS, BPM = 25.0, 120.0  # 2 beats a second: a bar every 2 s


def walk(g: SceneGraph, seconds: float, notes=None, onsets=None, energy=0.0, t0: float = 0.0):
    """Step the graph frame by frame; returns [(beat, scene, why)] of every move."""
    moves = []
    for i in range(int(seconds * FPS)):
        t = t0 + i / FPS
        beat = t * BPM / 60
        m = Moment(t, beat, (onsets or {}).get(i, 0.0), frozenset((notes or {}).get(i, ())), energy)
        move = g.step(m)
        if move is not None:
            moves.append((beat, move.target, move.why))
    return moves


def test_an_edge_after_n_bars_lands_on_the_bar():
    g = SceneGraph(("calm", "storm"), GraphSpec(edges=(EdgeSpec("calm", "storm", after=(2, "bars")),)), seed=1)
    moves = walk(g, 10.0)
    assert moves[0] == (0.0, "calm", "start")
    assert moves[1][:2] == (8.0, "storm") and "after 2 bars" in moves[1][2]  # 2 bars of 4 beats in
    assert len(moves) == 2  # no way out of storm: it stays


def test_a_note_edge_waits_for_the_next_bar_and_now_does_not():
    notes = {30: {"midi.1.note.36"}}  # frame 30: beat 2.4, inside the first bar
    spec = GraphSpec(edges=(EdgeSpec("calm", "storm", note="midi.1.note.36"),))
    moves = walk(SceneGraph(("calm", "storm"), spec, 1), 6.0, notes=notes)
    assert [m[:2] for m in moves] == [(0.0, "calm"), (4.0, "storm")]
    spec = GraphSpec(edges=(EdgeSpec("calm", "storm", note="midi.1.note.36", quantize="now"),))
    moves = walk(SceneGraph(("calm", "storm"), spec, 1), 6.0, notes=notes)
    assert [m[:2] for m in moves] == [(0.0, "calm"), (2.4, "storm")]


def test_an_onset_edge_needs_an_onset_at_least_that_strong():
    spec = GraphSpec(quantize="beat", edges=(EdgeSpec("calm", "storm", onset=0.6),))
    moves = walk(SceneGraph(("calm", "storm"), spec, 1), 6.0, onsets={10: 0.4, 40: 0.9})
    assert [m[:2] for m in moves] == [(0.0, "calm"), (4.0, "storm")]  # the 0.9 at beat 3.2, on the next beat


CHANCY = GraphSpec(edges=(
    EdgeSpec("a", "b", chance=0.5), EdgeSpec("a", "c", chance=0.5),
    EdgeSpec("b", "a", chance=0.3), EdgeSpec("b", "c", chance=0.3),
    EdgeSpec("c", "a", chance=0.4, weight=2.0), EdgeSpec("c", "b", chance=0.4),
))


def test_one_seed_takes_one_path_and_other_seeds_others():
    def path(seed):
        return [m[1] for m in walk(SceneGraph(("a", "b", "c"), CHANCY, seed), 120.0)]

    first = path(7)
    assert first == path(7)  # a rehearsal with --seed: the same path
    assert len(first) > 10 and set(first) == {"a", "b", "c"}
    others = [path(s) for s in (8, 9, 10)]
    assert all(p != first for p in others) and len({tuple(p) for p in others}) == 3


def test_drift_never_sticks_even_in_a_scene_with_no_way_out():
    spec = GraphSpec(drift=1.0, edges=(EdgeSpec("a", "b"), EdgeSpec("b", "dead")))  # no edge leaves "dead"
    moves = walk(SceneGraph(("a", "b", "dead"), spec, 3), 200.0)
    scenes = [m[1] for m in moves]
    assert {"a", "b", "dead"} <= set(scenes)
    beats = [m[0] for m in moves]
    assert max(b - a for a, b in zip(beats, beats[1:])) <= 8.0  # drift 1.0: a move every bar or two
    assert all("drift" in m[2] for m in moves[1:])


def test_the_performer_jumps_anywhere_and_next_follows_an_edge():
    spec = GraphSpec(edges=(EdgeSpec("calm", "storm", weight=1.0), EdgeSpec("calm", "drowned", after=(64, "bars"))))
    g = SceneGraph(("calm", "storm", "drowned"), spec, 5)
    walk(g, 0.1)
    g.jump("drowned")  # at the next bar
    beat, scene, why = walk(g, 3.0, t0=0.1)[0]
    assert scene == "drowned" and 4.0 <= beat < 4.0 + BPM / 60 / FPS and why.startswith("jump")  # the bar's first frame
    g.jump("calm", quantize="now")
    assert walk(g, 0.1, t0=3.1)[0][1] == "calm"
    assert g.next(Moment(3.2, 6.4)) == "storm"  # the way whose states hold (drowned's needs 64 bars)
    with pytest.raises(ValueError):
        g.jump("nowhere")


SET = """
[[scene]]
name = "calm"
params = { "feedback.amount" = 0.2 }

[[scene]]
name = "storm"
params = { "feedback.amount" = 0.8 }

[graph]
start = "calm"
quantize = "bar"

[[edge]]
from = "calm"
to = "storm"
after = "1 bars"

[[edge]]
from = "storm"
to = "calm"
after = "2 bars"
"""


def test_a_set_with_a_graph_walks_it_in_a_running_show(gl_ctx, tiny_model):
    show = parse_set(__import__("tomllib").loads(SET + '[show]\nsize = [160, 96]\nfps = 8\n'))
    assert show.graph is not None and len(show.graph.edges) == 2 and show.graph.edges[0].after == (1.0, "bars")
    controls = assemble.build_controls(show, 1)
    seen = []
    e = assemble.make_engine(controls, Compositor(gl_ctx, show.size), assemble.local_generator(show, tiny_model, 1),
                             clock=ManualClock(), audio=SilentInput(), outputs=[MemoryOutput()],
                             on_frame=[lambda s: seen.append((s.t, controls.scene, s.values["feedback.amount"]))])
    e.render_offline(80, 8.0)  # 10 s; no tempo: 120 BPM from show time, a bar every 2 s
    changes = [(t, scene) for (t, scene, _), (_, before, _) in zip(seen[1:], seen) if scene != before]
    assert changes == [(2.0, "storm"), (6.0, "calm"), (8.0, "storm")]
    assert seen[0][1] == "calm" and all(v == pytest.approx(0.8, abs=0.05) for t, s, v in seen if s == "storm" and t > 4.5)


def test_vj_check_finds_a_bad_edge_on_its_line(tmp_path):
    bad = tmp_path / "graph.toml"
    bad.write_text(SET.replace('to = "calm"', 'to = "clam"').replace('after = "1 bars"', 'after = "soon"'))
    r = subprocess.run([sys.executable, "-m", "vj", "check", str(bad)], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert len(lines) == 2, r.stdout
    assert lines[0].startswith(f"{bad}:17: [[edge]] #1: after = \"8 bars\"") and "'soon'" in lines[0]
    assert lines[1].startswith(f"{bad}:21: [[edge]] #2: to = 'clam': no such scene (did you mean 'calm'?)")


def test_a_move_by_osc_can_say_where_it_lands():
    import tomllib

    from vj.control.osc import OscRouter

    show = parse_set(tomllib.loads(SET.replace('[[edge]]\nfrom = "calm"\nto = "storm"\nafter = "1 bars"\n', '')))
    c = assemble.build_controls(show, 1)
    osc = OscRouter(c)
    c.step_graph(Moment(0.0, 0.0))  # the start: calm
    osc.handle("/vj/scene", ["storm"])  # the set's quantize: the next bar
    c.apply_pending()
    c.step_graph(Moment(0.5, 1.0))
    assert c.scene == "calm"
    osc.handle("/vj/scene", ["storm", "now"])  # this move's own: at once
    c.apply_pending()
    c.step_graph(Moment(0.6, 1.2))
    assert c.scene == "storm"
    osc.handle("/vj/scene", ["calm", "soon"])
    assert c.counters.get("osc_bad_args") == 1 and list(c.inbox.drain()) == []
