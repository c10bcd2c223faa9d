"""Ableton Link with real peers, never on the machine's network: each test makes a network namespace
of its own with nothing but loopback in it (multicast routed to lo), and runs the Link sessions
inside it (`ip netns exec`), so that Link's discovery never leaves it."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT

pytest.importorskip("aalink", reason="the optional extra demontage[link] (make setup installs it)")


@pytest.fixture
def netns():
    if os.geteuid() != 0:
        pytest.skip("ip netns needs root (CI runs as root)")
    if not shutil.which("ip"):
        pytest.fail("the ip command is missing: `make setup` installs iproute2")
    from vj.sync.sandbox import loopback_namespace

    with loopback_namespace() as name:
        yield name


def inside(ns, *cmd):
    return ["ip", "netns", "exec", ns, *cmd]


# The other peer is a plain aalink session, as Ableton Live or Resolume would be; the show's side is
# démontage's own (LinkSession, ShowClock, the shaders' uniforms through EGL).
SESSIONS = r"""
import json, time
from types import MappingProxyType
from vj.core.features import Features
from vj.core.snapshot import Snapshot
from vj.render.context import open_headless
from vj.render.uniforms import CommonUniforms
from vj.sync.link import LinkSession
from vj.sync.sandbox import plain_peer
from vj.sync.showclock import ShowClock

peer = plain_peer(137.0)
show = ShowClock(4, link=LinkSession(120.0, 4))
t0 = time.perf_counter()
tick = lambda: show.tick(time.perf_counter() - t0, Features())
def until(cond, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False
out = {}
out["joined"] = until(lambda: tick().source == "link")
out["peers"] = show.state.peers
peer.tempo = 137.0  # whichever tempo the merged session kept, the peer now sets one
out["followed"] = until(lambda: abs(tick().bpm - 137.0) < 0.01) and show.state.bpm
def phase_errors(n=100):
    errs = []
    for _ in range(n):
        s = tick()
        b = peer.beat  # read right after, at the same moment within microseconds
        errs.append(((s.beat - b + 2.0) % 4.0 - 2.0) * 60.0 / s.bpm * 1000.0)
        time.sleep(0.01)
    return errs
out["phase_ms"] = max(abs(e) for e in phase_errors())
peer.tempo = 150.0  # the DJ moves the tempo
out["changed"] = until(lambda: abs(tick().bpm - 150.0) < 0.01)
time.sleep(0.5)  # the sessions settle on the new timeline (Link measures and corrects)
out["phase_ms_after_change"] = max(abs(e) for e in phase_errors(50))
show.propose(128.0)  # /vj/bpm 128 on the show
out["proposed"] = until(lambda: abs(peer.tempo - 128.0) < 0.01)
until(lambda: abs(tick().bpm - 128.0) < 0.01)
ctx = open_headless().ctx
prog = ctx.program(vertex_shader="#version 330\nin vec2 p; void main() { gl_Position = vec4(p, 0, 1); }",
                   fragment_shader="#version 330\nuniform float u_beat_phase; uniform float u_bpm; out vec4 c;"
                                   "void main() { c = vec4(u_beat_phase, u_bpm, 0, 1); }")
s = tick()
CommonUniforms(ctx, (8, 8)).apply(prog, Snapshot(0, 0.0, MappingProxyType({}), ("x",), 1, clock=s))
out["uniform_phase_vs_peer"] = abs(((prog["u_beat_phase"].value - peer.beat % 1.0) + 0.5) % 1.0 - 0.5)
out["uniform_bpm"] = prog["u_bpm"].value
peer.enabled = False  # the peer leaves the session
seen = []
def record():
    seen.append((time.perf_counter() - t0, tick()))
    return seen[-1][1].source == "free"
out["left"] = until(record)
(ta, a), (tb, b) = seen[-2], seen[-1]
out["note"], out["bpm_after"] = b.note, b.bpm
out["tempo_across_leaving"] = (b.beat - a.beat) / (tb - ta) * 60.0  # the step it takes: no jump in phase
print(json.dumps(out), flush=True)
"""


def test_the_show_follows_a_link_peer_proposes_its_tempo_and_keeps_in_phase(netns):
    r = subprocess.run(inside(netns, sys.executable, "-c", SESSIONS), capture_output=True, text=True, timeout=120,
                       cwd=ROOT)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["joined"] and out["peers"] == 1 and out["followed"] == pytest.approx(137.0)
    assert out["phase_ms"] < 3.0  # phases agree within a few milliseconds
    assert out["changed"] and out["phase_ms_after_change"] < 3.0
    assert out["proposed"]  # a tempo set on the show reached the peer
    assert out["uniform_phase_vs_peer"] < 0.01 and out["uniform_bpm"] == pytest.approx(128.0, abs=0.01)
    assert out["left"] and "Link session went away" in out["note"] and out["bpm_after"] == pytest.approx(128.0, abs=0.01)
    assert out["tempo_across_leaving"] == pytest.approx(128.0, rel=0.02)
