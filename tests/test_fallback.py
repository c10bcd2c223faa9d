"""The fallback model: a set's model that can't load gives way to it with one line (vj render and vj
run, the shipped sets on this machine with no sd-turbo weights and no network), and a generator that
goes down during a show hands its layer to it until it is back."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from vj import assemble
from vj.audio.sources import SilentInput
from vj.clock import FramePacer, RealClock
from vj.core.errors import ModelLoadError
from vj.generate.fallback import FallbackGenerator, fallback_spec
from vj.generate.process import GeneratorConfig, ProcessGenerator
from vj.render.compositor import Compositor
from vj.resources import find_set
from vj.show.setfile import load_set, with_overrides
from helpers import ROOT, MemoryOutput, crash_mark, decode, vj, wait_until

OFFLINE = {"HF_HUB_OFFLINE": "1"}  # no sd-turbo here, and no hub to fetch it from


def fallback_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "fallback" in line]


def moving_pictures(frames: np.ndarray) -> None:
    """Not black, not one flat colour, and not one picture held still."""
    assert frames.mean() > 8, "black frames"
    assert min(f.std() for f in frames) > 3, "a flat frame"
    moved = [np.abs(frames[0].astype(float) - f).mean() for f in frames[1:]]
    assert max(moved) > 1.5, "frames that never change"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A video file as a camera would give it (ffmpeg's test pattern, moving)."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=24", "-t", "3",
                    "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


@pytest.mark.parametrize("name,left_out", [("club", "tiny_vae"), ("degenerate", None)])  # (camera plays the seedling)
def test_a_shipped_set_renders_on_its_fallback_without_its_model(name, left_out, clip, tmp_path):
    out = tmp_path / f"{name}.mp4"
    more = ["--input", str(clip)] if name == "camera" else []  # camera:0 is no camera here: a file instead
    r = vj("render", f"sets/{name}.toml", "--out", str(out), "--duration", "1.5", "--size", "320x180", "--seed", "5",
           *more, env=OFFLINE)
    assert r.returncode == 0, r.stderr
    said = fallback_lines(r.stderr)
    assert len(said) == 1, r.stderr  # exactly one line about it: what failed, what plays instead
    assert "model 'sd-turbo' can't be loaded" in said[0] and "its fallback 'seedling' plays instead" in said[0]
    if left_out:  # a setting that doesn't apply to the seedling is said in that line, never an error
        assert f"({left_out}: sd-turbo's settings, left out)" in said[0]
    else:
        assert "left out" not in said[0]
    assert "Traceback" not in r.stderr
    frames = decode(out, (320, 180))
    assert len(frames) == round(1.5 * load_set(find_set(name)).fps)
    moving_pictures(frames)


def test_a_set_whose_fallback_cannot_load_either_says_both_in_one_error(tmp_path):
    s = tmp_path / "both.toml"
    s.write_text('[generator]\nmodel = "sd-turbo"\nfallback = "sdxl-turbo"\n\n[[prompt]]\ntext = "a storm"\n')
    r = vj("render", str(s), "--out", str(tmp_path / "x.mp4"), "--duration", "1", env=OFFLINE)
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("vj: error")]
    assert len(errors) == 1, r.stderr
    assert re.search(r"model 'sd-turbo' can't be loaded.*and its fallback 'sdxl-turbo' can't load either: "
                     r"model 'sdxl-turbo' can't be loaded", errors[0])
    assert "plays instead" not in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_a_misspelt_fallback_is_said_before_any_model_loads(tmp_path):
    s = tmp_path / "typo.toml"
    s.write_text('[generator]\nmodel = "tiny-random"\nfallback = "seedlnig"\n\n[[prompt]]\ntext = "a storm"\n')
    r = vj("render", str(s), "--out", str(tmp_path / "x.mp4"), "--duration", "1", env=OFFLINE)
    assert r.returncode == 2
    assert "model 'seedlnig' is unknown" in r.stderr and "loading model" not in r.stderr


KEY = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"  # a public CURVE key's form (40 Z85 characters)


def test_a_remote_generator_renders_here_and_its_fallback_plays_when_its_model_cannot(tmp_path):
    """Boxes are for live shows: `vj render` of a set with remote = makes every frame here, said in a
    line; its model not here either, the error says so (one line), and with a fallback the fallback
    plays. (Live, a box that is lost hands its layer to the fallback: tests/test_remote.py.)"""
    s = tmp_path / "box.toml"
    s.write_text(f'[show]\nsize = [320, 180]\n\n[generator]\nmodel = "sd-turbo"\nremote = "127.0.0.1:7555"\n'
                 f'key = "{KEY}"\n\n[[prompt]]\ntext = "glowing red rings on black"\n\n[params]\n"noise.walk" = 20.0\n')
    r = vj("render", str(s), "--out", str(tmp_path / "x.mp4"), "--duration", "1", env=OFFLINE)
    assert r.returncode == 2, r.stderr
    assert "made here, with sd-turbo (remote boxes are for live shows)" in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("vj: error")]
    assert len(errors) == 1 and "model 'sd-turbo' can't be loaded" in errors[0], r.stderr
    s.write_text(s.read_text().replace('key =', 'fallback = "seedling"\nkey ='))
    r = vj("render", str(s), "--out", str(tmp_path / "x.mp4"), "--duration", "1", env=OFFLINE)
    assert r.returncode == 0, r.stderr
    said = fallback_lines(r.stderr)
    assert len(said) == 1 and "its fallback 'seedling' plays instead" in said[0], r.stderr
    moving_pictures(decode(tmp_path / "x.mp4", (320, 180)))


def test_vj_run_plays_the_fallback_live_and_says_so_in_the_status_line(tmp_path):
    out = tmp_path / "live.mp4"
    r = vj("run", "sets/degenerate.toml", "--headless", "--duration", "6", "--audio", "none", "--no-osc",
           "--size", "320x180", "--out", str(out), env=OFFLINE, timeout=400)
    assert r.returncode == 0, r.stderr
    said = fallback_lines(r.stderr)
    assert "its fallback 'seedling' plays instead" in said[0]
    assert sum("plays instead" in line for line in said) == 1
    status = [line for line in r.stderr.splitlines() if line.startswith("vj: t ")]
    assert status and all("generator: the fallback seedling plays (sd-turbo can't load)" in line for line in status)
    moving_pictures(decode(out, (320, 180))[10:])


def test_fallback_spec_keeps_what_describes_the_picture_and_names_what_it_leaves():
    # the camera set as a GPU would play it: sd-turbo, 2 steps at 512x288, the seedling its fallback
    show = with_overrides(load_set(find_set("camera")), model="sd-turbo", steps=2, gen_size=(512, 288), fallback="seedling",
                          controls=())
    spec, left = fallback_spec(show.generator)
    assert (spec.model, spec.steps, spec.input, spec.size, spec.tiny_vae) == ("seedling", 2, "camera:0", None, False)
    assert left == ("size = 512x288",)
    faces, left = fallback_spec(with_overrides(show, fallback="dcgan-faces").generator)
    assert (faces.steps, faces.input) == (1, None)  # a GAN: one pass from its latent, no image input
    assert left == ("steps = 2", 'input = "camera:0"', "size = 512x288")
    with pytest.raises(ModelLoadError, match="model 'nothing-here' is unknown"):
        fallback_spec(with_overrides(show, fallback="nothing-here").generator)


# -- during a show -----------------------------------------------------------------------------------
def test_a_generator_that_goes_down_hands_its_layer_to_the_fallback_until_it_is_back(gl_ctx, caplog):
    """The primary (tiny-random, 128x128) dies at snapshot 20, and its first restart dies again before
    it makes a frame; the fallback (the seedling, 224x128) plays meanwhile, said once; the third
    primary lives and has the layer back."""
    caplog.set_level("INFO", logger="vj")
    mark = crash_mark(os.getpid()) + ".count"
    if os.path.exists(mark):
        os.remove(mark)  # left by an earlier run whose process id this one reuses
    show = with_overrides(load_set(find_set("demo")), size=(160, 96), model="tiny-random")
    primary = assemble.process_generator(show, seed=1, wrap="helpers:crash_twice_from_frame_20")
    primary.start(wait_ready=True, timeout=180)
    gen = FallbackGenerator(primary, ProcessGenerator(GeneratorConfig("seedling", seed=1)), "generator",
                            "tiny-random", "seedling")
    out, clock, seen = MemoryOutput(), RealClock(), {}
    e = assemble.make_engine(assemble.build_controls(show, 1), Compositor(gl_ctx, show.size), gen, clock=clock,
                             audio=SilentInput(), outputs=[out])

    def check(_line):
        if gen.playing == "fallback" and gen.fallback_frames > 5:
            seen.setdefault("fallback", (gen.size, gen.state, e.status_line()))
        if "fallback" in seen and gen.playing == "primary" and gen.frames - gen.fallback_frames > 30:
            e.stop_requested = True

    clock.reset()
    try:
        s = e.run_live(300.0, FramePacer(24, clock), status_every=0.25, on_status=check)
    finally:
        for f in (mark, crash_mark(os.getpid())):
            if os.path.exists(f):
                os.remove(f)
    assert primary.restarts == 2  # it died twice
    size, state, status = seen["fallback"]
    assert size == (224, 128)  # the seedling's frames made the layer
    assert "the fallback seedling plays" in state and "the fallback seedling plays" in status
    handed = [m for m in caplog.messages if "the fallback seedling plays until it is back" in m]
    assert len(handed) == 1  # said once, though the primary fell twice
    assert sum("tiny-random is back" in m for m in caplog.messages) == 1
    assert gen.handovers == 1 and gen.playing == "primary" and gen.size == (128, 128)
    assert len(out.frames) == s.frames  # the renderer never stopped
    assert gen.state == "stopped" and gen.fallback.state == "stopped"


def children_named(parent: int, comm: str) -> list[int]:
    """Processes whose parent is `parent` and whose name (/proc/PID/comm, set by generate/process.py
    for each generator process: "vj <model>") is `comm`."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except (OSError, ValueError):
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == parent and name == comm:
            found.append(int(entry))
    return found


def test_vj_run_hands_the_layer_to_the_fallback_when_its_generator_is_killed(tmp_path):
    """A live show's generator process killed from outside (kill -9, as the OOM killer does): the
    fallback plays, said once, until the restarted generator makes frames again, said once."""
    import signal
    import threading

    s = tmp_path / "spare.toml"
    s.write_text('[show]\nsize = [320, 180]\nfps = 24\n\n[generator]\nmodel = "tiny-random"\nfallback = "seedling"\n\n'
                 '[[prompt]]\ntext = "glowing red rings on black"\n\n[params]\n"noise.walk" = 6.0\n')
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    proc = subprocess.Popen([sys.executable, "-m", "vj", "run", str(s), "--headless", "--duration", "300", "--no-osc",
                             "--audio", "none", "--seed", "3"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()

    def said(text: str) -> bool:
        return any(text in line for line in list(lines))

    try:
        wait_until("the show playing", lambda: said("vj: playing spare"), 300, alive=proc)
        wait_until("the fallback's process", lambda: children_named(proc.pid, "vj seedling"), 60, alive=proc)
        spare = children_named(proc.pid, "vj seedling")[0]
        wait_until("a status line", lambda: said("vj: t "), 60, alive=proc)
        generator = children_named(proc.pid, "vj tiny-random")
        assert len(generator) == 1
        os.kill(generator[0], signal.SIGKILL)
        wait_until("the fallback taking over", lambda: said("the fallback seedling plays until it is back"), 60,
                   alive=proc)
        wait_until("the generator back", lambda: said("tiny-random is back"), 300, alive=proc)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(120) == 0
    finally:
        proc.kill()
        proc.wait(30)
    text = "".join(lines)
    assert text.count("plays until it is back") == 1 and text.count("is back;") == 1
    assert "Traceback" not in text
    assert not os.path.exists(f"/proc/{spare}")  # the fallback's process ended with the show
