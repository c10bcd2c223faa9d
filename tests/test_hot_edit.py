"""Hot edits: a set saved while it plays lands at the next bar; a broken one is refused, said with
its file:line, and the old set plays on."""

import os
import subprocess
import sys
import time

import pytest

from vj import assemble, cli
from vj.show.setfile import load_set
from vj.core.features import Features
from vj.core.spec import Route
from vj.core.snapshot import Snapshot
from vj.show.hot_edit import SetWatcher
from helpers import ROOT

SET = """
[show]
name = "edit"
size = [160, 96]
fps = 12

[generator]
model = "tiny-random"

[[prompt]]
text = "flooded glass"

[params]
"feedback.amount" = 0.3

[[scene]]
name = "calm"
params = { "noise.walk" = 1.0 }
"""

EDITED = SET.replace('"feedback.amount" = 0.3', '"feedback.amount" = 0.6').replace("flooded glass", "burning circuitry") + """
[[route]]
source = "audio.bass"
target = "chaos"
amount = 0.5

[[scene]]
name = "storm"
params = { "noise.walk" = 9.0 }
"""

BROKEN = EDITED.replace('"feedback.amount" = 0.6', '"feedbak.amount" = 0.9')


def save(path, text):
    """Write and move the file's time on (two saves in one tick of the clock must both be seen)."""
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9 * (1 + int(time.time()) % 1000)))


def frame(bar: bool):
    return Snapshot(0, 0.0, {"audio.bar": 1.0 if bar else 0.0}, (), 1, Features())


def wait_for(what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not what():
        time.sleep(0.05)
    return what()


@pytest.fixture
def watched(tmp_path):
    path = tmp_path / "edit.toml"
    path.write_text(SET)
    show = load_set(path)
    args = cli.parser().parse_args(["run", str(path)])
    controls = assemble.build_controls(show, 1)
    w = SetWatcher(show, cli._reread(show, args), controls)
    yield path, controls, w
    w.close()


def test_an_edit_waits_for_the_bar_then_lands(watched):
    path, c, w = watched
    c.post("route_add", Route("audio.high", "noise.walk", 2.0))
    c.apply_pending()  # a route added by hand before the edit
    save(path, EDITED)
    assert wait_for(lambda: w.pending)
    w.frame(frame(bar=False))
    assert c.params.target("feedback.amount") == pytest.approx(0.3) and c.prompts == ["flooded glass"]
    w.frame(frame(bar=True))
    assert c.params.target("feedback.amount") == pytest.approx(0.6)
    assert c.prompts == ["burning circuitry"] and c.scene_names() == ["calm", "storm"]
    assert {(r.source, r.target) for r in c.routes.routes} == {("audio.bass", "chaos"), ("audio.high", "noise.walk")}
    assert w.applied == 1 and w.status() == ""


def test_a_broken_edit_is_refused_with_its_line_and_the_old_set_plays_on(watched):
    path, c, w = watched
    save(path, BROKEN)
    assert wait_for(lambda: w.error is not None)
    line = BROKEN.splitlines().index('"feedbak.amount" = 0.9') + 1
    assert w.status().startswith(f"SET ERROR {path}:{line}: [params]: no parameter named 'feedbak.amount'")
    assert "did you mean 'feedback.amount'" in w.status() and w.warnings()
    w.frame(frame(bar=True))
    assert c.params.target("feedback.amount") == pytest.approx(0.3) and c.scene_names() == ["calm"]
    save(path, EDITED)  # fixed: the error goes, the edit lands at the bar
    assert wait_for(lambda: w.pending) and w.error is None and w.warnings() == []
    w.frame(frame(bar=True))
    assert c.params.target("feedback.amount") == pytest.approx(0.6)


def test_what_needs_a_restart_is_said_and_the_rest_applied(watched, caplog):
    path, c, w = watched
    caplog.set_level("INFO", logger="vj")
    save(path, EDITED.replace("size = [160, 96]", "size = [320, 192]"))
    assert wait_for(lambda: w.pending)
    w.frame(frame(bar=True))
    said = [r.getMessage() for r in caplog.records if "applied at the bar" in r.getMessage()]
    assert said and "size changed: restart the show to apply" in said[0]
    assert w.show.size == (160, 96) and c.params.target("feedback.amount") == pytest.approx(0.6)


def test_a_live_show_takes_an_edit_and_refuses_a_broken_one_without_stopping(tmp_path):
    path = tmp_path / "edit.toml"
    path.write_text(SET)
    err = tmp_path / "err.txt"
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    with open(err, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "vj", "run", str(path), "--headless", "--audio", "none",
                                 "--duration", "14", "--no-osc", "--seed", "2"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=f, text=True)
    try:
        said = lambda s: s in err.read_text()
        assert wait_for(lambda: said("playing edit"), 180)
        save(path, EDITED)
        assert wait_for(lambda: said("set edit applied at the bar"), 30), err.read_text()
        save(path, BROKEN)
        assert wait_for(lambda: said("set edit refused"), 30), err.read_text()
        proc.wait(120)
    finally:
        proc.kill()
    text = err.read_text()
    assert proc.returncode == 0, text
    assert "SET ERROR" in text.split("set edit refused", 1)[1]  # the status line says it while it stands
    frames = int(text.rsplit("show: ", 1)[1].split(" frames", 1)[0])
    assert frames >= 12 * 10  # it went on rendering through both edits


def test_the_refusal_stands_on_the_overlay_while_the_show_renders(watched, gl_ctx, tiny_model):
    from vj.audio.sources import SilentInput
    from vj.clock import ManualClock
    from vj.render.compositor import Compositor
    from helpers import MemoryOutput

    path, c, w = watched
    out = MemoryOutput()
    e = assemble.make_engine(c, Compositor(gl_ctx, w.show.size), assemble.local_generator(w.show, tiny_model, 1),
                             clock=ManualClock(), audio=SilentInput(), outputs=[out], on_frame=[w.frame],
                             status=[w.status], warnings=[w.warnings])
    save(path, BROKEN)
    assert wait_for(lambda: w.error is not None)
    e.render_offline(30, 12.0)  # past a bar: nothing of the broken set lands, the frames go on
    assert len(out.frames) == 30 and c.params.target("feedback.amount") == pytest.approx(0.3)
    assert any(x.startswith(f"set not applied: {path}:") for x in e.overlay_info().warnings)
    assert "SET ERROR" in e.status_line()
