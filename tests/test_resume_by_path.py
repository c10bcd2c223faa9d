"""The live state is kept by the set's file: a copy of the demo (which keeps `name = "demo"`)
resumes its own show, never the demo's; a state an older version kept under the set's name still
resumes the set it was of. Through `vj run --resume`, as a rig's service runs it."""

import json
import shutil

from helpers import ROOT, vj

COMMON = ["--headless", "--audio", "none", "--model", "seedling", "--size", "160x96", "--no-osc"]


def _play(set_path, state, *more):
    r = vj("run", str(set_path), *COMMON, "--state", str(state), *more, timeout=300)
    assert r.returncode == 0, r.stderr
    return r


def test_a_copied_set_resumes_its_own_show_and_an_older_state_of_the_set_still_resumes(tmp_path):
    state = tmp_path / "state"
    demo = ROOT / "sets" / "demo.toml"
    _play(demo, state, "--duration", "1.5")
    (own,) = (state / "live").glob("demo-*.json")  # the demo's, keyed by its file
    saved = json.loads(own.read_text())
    saved["scene"] = "storm"  # as if a pad had gone there before the power went
    own.write_text(json.dumps(saved))

    copy = tmp_path / "mine" / "demo.toml"
    copy.parent.mkdir()
    shutil.copy(demo, copy)
    r = _play(copy, state, "--duration", "1.5", "--resume")
    assert "resumed where the show was" not in r.stderr and "no saved state" in r.stderr, r.stderr
    assert len(list((state / "live").glob("demo-*.json"))) == 2  # the copy's own, beside the demo's

    r = _play(demo, state, "--duration", "1.5", "--resume")
    assert "resumed where the show was" in r.stderr and "scene storm" in r.stderr, r.stderr

    # the demo's state as an older version kept it: under the set's name alone
    older = state / "live" / "demo.json"
    own.replace(older)
    r = _play(demo, state, "--duration", "1.5", "--resume")
    assert "resumed where the show was" in r.stderr and "scene storm" in r.stderr, r.stderr
    other = tmp_path / "other" / "demo.toml"  # another copy, never played: the older state is not its
    other.parent.mkdir()
    shutil.copy(demo, other)
    r = _play(other, state, "--duration", "1.5", "--resume")
    assert "resumed where the show was" not in r.stderr and f"{older} is of {demo}" in r.stderr, r.stderr
    r = _play(copy, state, "--duration", "1.5", "--resume")  # the first copy: its own show (no scene moved)
    assert "resumed where the show was" in r.stderr and "scene -" in r.stderr, r.stderr
