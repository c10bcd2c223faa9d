"""Several generators in one show: the seedling on layer 1, the GAN on layer 2 ([generators.faces],
source "generator:faces"), each on its half of the frame; rendered offline frame-exactly (each half
the same as a render of that generator alone), played live (each half moving, the status line naming
each generator), held one by one, and `vj check` on broken tables."""

import re
from pathlib import Path

import numpy as np
import pytest

from vj import assemble
from vj.audio.sources import SilentInput
from vj.clock import ManualClock
from vj.show.setfile import load_set
from helpers import MemoryOutput, decode, vj

SIZE = (448, 128)  # the seedling (224x128, 1.75:1) in the left half, a 64x64 face in the right
HALF = SIZE[0] // 2

SET = """
[show]
size = [448, 128]
fps = 12

[generator]
model = "{main}"
{more}
[[prompt]]
text = "glowing red rings on black"

{layers}
[params]
"noise.walk" = 8.0
{params}
"""

LEFT = '[[layer]]\nsource = "generator"\nfit = "contain"\n'  # the main generator, pushed to the left half
RIGHT = '[[layer]]\nsource = "{source}"\nfit = "contain"\n'  # shifted to the right half
SHIFTS = {"left": '"layer.1.x" = -0.25\n', "right": '"layer.{n}.x" = 0.25\n'}


def write_set(folder: Path, name: str, main: str, more: str = "", left: bool = True, right: str | None = None,
              params: str = "") -> Path:
    layers = (LEFT if left else "") + (RIGHT.format(source=right) if right else "")
    shifts = (SHIFTS["left"] if left else "") + (SHIFTS["right"].format(n=2 if left else 1) if right else "")
    path = folder / f"{name}.toml"
    path.write_text(SET.format(main=main, more=more, layers=layers, params=shifts + params))
    return path


FACES = '[generators.faces]\nmodel = "dcgan-faces"\n'


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    """The two-generator show, and each generator alone in the same place, rendered by `vj render`."""
    d = tmp_path_factory.mktemp("layers")
    sets = {"both": write_set(d, "both", "seedling", FACES, right="generator:faces"),
            "seedling": write_set(d, "seedling", "seedling"),
            "faces": write_set(d, "faces", "dcgan-faces", left=False, right="generator")}
    out = {}
    for name, path in sets.items():
        mp4 = d / f"{name}.mp4"
        r = vj("render", str(path), "--out", str(mp4), "--duration", "1", "--seed", "7")
        assert r.returncode == 0, r.stderr
        out[name] = (decode(mp4, SIZE).astype(float), r.stderr)
    return out


def diff(a, b) -> float:
    return float(np.abs(a - b).mean())


def test_each_generator_paints_its_own_layer_as_it_does_alone(renders):
    both, said = renders["both"]
    seedling, faces = renders["seedling"][0], renders["faces"][0]
    assert both.shape == (12, 128, 448, 3)
    assert "generator 224x128, 1 step(s), generator faces 64x64" in said  # both made, each at its size
    # each half is what that generator alone makes there (the video codec's rounding aside) ...
    assert diff(both[:, :, :HALF], seedling[:, :, :HALF]) < 2.0
    assert diff(both[:, :, HALF:], faces[:, :, HALF:]) < 2.0
    # ... and not the other one's, nor empty
    assert diff(both[:, :, :HALF], faces[:, :, :HALF]) > 15
    assert diff(both[:, :, HALF:], seedling[:, :, HALF:]) > 15
    for half in (both[:, :, :HALF], both[:, :, HALF:]):
        assert half.std() > 20
        assert diff(half[0], half[-1]) > 2  # and each moves with the walk


def render_in_process(path: Path, frames: int = 6, seen: dict | None = None) -> list[np.ndarray]:
    """The set built as `vj render` builds it (assemble.build_show), rendered here; `seen` gets the
    engine's overlay and status line at the end."""
    out = MemoryOutput()
    built = assemble.build_show(load_set(path), assemble.Options(seed=7, state=None), live=False, clock=ManualClock(),
                                audio=SilentInput(), outputs_for=lambda surface: [out])
    try:
        built.engine.render_offline(frames, 12.0)
        if seen is not None:
            seen.update(overlay=built.engine.overlay_info(), status=built.engine.status_line())
    finally:
        built.close()
    return [f.astype(float) for f in out.frames]


def test_a_layer_generator_has_its_own_seed_and_its_own_freeze(tmp_path):
    path = write_set(tmp_path, "shared", "seedling", FACES, right="generator:faces")
    shared = render_in_process(path)
    assert all(np.array_equal(a, b) for a, b in zip(shared, render_in_process(path)))  # frame-exact, every time
    own = render_in_process(write_set(tmp_path, "own", "seedling", FACES + "seed = 99\n", right="generator:faces"))
    assert diff(shared[3][:, :HALF], own[3][:, :HALF]) == 0  # the main generator: the show's seed, as before
    assert diff(shared[3][:, HALF:], own[3][:, HALF:]) > 5  # another face: a noise of its own
    seen: dict = {}
    held = render_in_process(write_set(tmp_path, "held", "seedling", FACES, right="generator:faces",
                                       params='"gen.faces.freeze" = 1.0\n'), seen=seen)
    assert "gen faces 0.0 fps" in seen["overlay"].lines[0]  # each generator named on the overlay
    assert "FROZEN: generator faces holds its image (gen.faces.freeze)" in seen["overlay"].warnings
    assert "| gen faces " in seen["status"] and "FROZEN: generator faces" in seen["status"]
    assert diff(held[1][:, :HALF], held[5][:, :HALF]) > 0.5  # the seedling walks on
    assert diff(held[1][:, HALF:], held[5][:, HALF:]) == 0  # the faces hold (before any: the warm-up wash)


def test_two_generators_play_live_each_in_its_process(tmp_path):
    path = write_set(tmp_path, "live", "seedling", FACES, right="generator:faces")
    out = tmp_path / "live.mp4"
    r = vj("run", str(path), "--headless", "--duration", "8", "--audio", "none", "--no-osc", "--out", str(out),
           timeout=400)
    assert r.returncode == 0, r.stderr
    status = [line for line in r.stderr.splitlines() if line.startswith("vj: t ")]
    assert status, r.stderr
    rates = re.search(r"\| gen +([\d.]+) fps \| gen faces +([\d.]+) fps \|", status[-1])
    assert rates and float(rates.group(1)) > 0 and float(rates.group(2)) > 0, status[-1]
    frames = decode(out, SIZE).astype(float)[-48:]  # the last seconds: both generators long running
    for half in (frames[:, :, :HALF], frames[:, :, HALF:]):
        assert half.std() > 20
        assert max(diff(a, b) for a, b in zip(half, half[1:])) > 1  # new frames keep coming on each side


BROKEN = """\
[show]
size = [640, 360]

[generator]
model = "seedling"
fallback = "seedling"

[generators.faces]
model = "dcgan-faces"
seeds = [1, 2]

[generators.box]
model = "sd-turbo"
remote = "gpubox"
key = "short"

[generators.idle]
model = "seedling"
fallback = "seedlnig"

[generators.lone]
modle = "seedling"

[generators.spare]
model = "seedling"
key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

[[prompt]]
text = "a storm"

[[layer]]
source = "generator:face"

[[layer]]
source = "generator:box"

[[layer]]
source = "input:spare"
"""


def test_vj_check_says_each_problem_of_the_generator_tables_on_its_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    lines = BROKEN.splitlines()

    def line_of(text: str, after: str = "") -> int:
        start = lines.index(after) if after else 0
        return next(i for i, x in enumerate(lines[start:], start + 1) if x.startswith(text))

    r = vj("check", str(path))
    assert r.returncode == 1
    got = {int(m.group(1)): m.group(2) for m in re.finditer(rf"^{re.escape(str(path))}:(\d+): (.*)$", r.stdout, re.M)}
    expected = {
        line_of("fallback"): '[generator]: fallback = "seedling" is its model already',
        line_of("seeds"): "[generators.faces]: seeds = [...] is the show's",
        line_of("remote"): "[generators.box]: remote = 'gpubox' is not HOST:PORT",
        line_of("key", "[generators.box]"): "[generators.box]: key is not a box's key (5 characters",
        line_of("[generators.idle]"): "[generators.idle]: no layer shows it",
        line_of('fallback = "seedlnig"'): "[generators.idle]: fallback: model 'seedlnig' is unknown (did you mean 'seedling'?)",
        line_of("modle"): "[generators.lone]: unknown key 'modle' (did you mean 'model'?)",
        line_of("key", "[generators.spare]"): "[generators.spare]: key without a box",
        line_of('source = "generator:face"'): "[[layer]] #1: source 'generator:face': the set has no "
                                              "[generators.face] (did you mean 'faces'?)",
    }
    for line, start in expected.items():
        assert got.get(line, "").startswith(start), (line, start, r.stdout)
    assert "short" not in r.stdout  # a key is never echoed (a secret one pasted by mistake stays out of logs)
    assert "Traceback" not in r.stdout + r.stderr


def test_an_input_layer_shows_the_image_its_generator_was_given(tmp_path):
    """[generators.look] paints over a video (image-to-image); "input:look" shows that video as it was
    given, "generator:look" what was made of it."""
    import subprocess

    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=24", "-t", "2",
                    "-pix_fmt", "yuv420p", str(clip)], check=True)
    look = f'[generators.look]\nmodel = "seedling"\ninput = "{clip}"\nsteps = 2\n'
    sets = {}
    for name, first in (("input", "input:look"), ("made", "generator:look")):
        path = tmp_path / f"{name}.toml"
        path.write_text(SET.format(main="dcgan-faces", more=look, params='"layer.1.x" = -0.25\n"layer.2.x" = 0.25\n',
                                   layers=RIGHT.format(source=first) + RIGHT.format(source="generator:look")))
        sets[name] = render_in_process(path, frames=4)[-1]
    shown, made = sets["input"][:, :HALF], sets["made"][:, :HALF]
    saturated = (shown.max(axis=-1) - shown.min(axis=-1) > 200).mean()
    assert saturated > 0.3  # the test pattern's pure colour bars, as the video gave them
    assert diff(shown, made) > 10  # not the painted frame
    assert diff(sets["input"][:, HALF:], sets["made"][:, HALF:]) == 0  # the painted frame, the same in both
