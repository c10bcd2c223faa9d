"""Guided generation (issue 27): ControlNets and an IP-Adapter in the streaming loop.

The networks are tiny random ones built from configs for the tiny-random UNet (fixtures.tiny_controlnet:
diffusers' ControlNetModel.from_unet; fixtures.tiny_ip_adapter: an adapter file and a CLIP image
encoder laid out as h94/IP-Adapter lays them out), written to folders and read back through
diffusers' own loading code (ControlNetModel.from_pretrained, the pipeline's load_ip_adapter), as a
downloaded one is. The loop's result is checked against diffusers' StableDiffusionControlNetPipeline."""

import subprocess
import time
from types import MappingProxyType

import numpy as np
import pytest
import torch

from vj.core.snapshot import Snapshot
from vj.core.spec import ControlSpec, IpAdapterSpec
from vj.generate import fixtures, registry
from vj.generate.loop import StreamLoop

CPU = torch.device("cpu")


def tiny(**kw):
    return registry.load(registry.resolve("tiny-random"), CPU, torch.float32, **kw)


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """Two ControlNets (different weights) and an IP-Adapter, each in a folder of its own."""
    root = tmp_path_factory.mktemp("guided")
    pipe = tiny().pipe
    return {"a": fixtures.tiny_controlnet(root / "cn-a", pipe, seed=11),
            "b": fixtures.tiny_controlnet(root / "cn-b", pipe, seed=12),
            "ip": fixtures.tiny_ip_adapter(root / "ip", pipe)}


def shapes_png(path, box=(30, 90, 40, 100), size=128):
    from PIL import Image

    img = np.zeros((size, size, 3), np.uint8)
    y0, y1, x0, x1 = box
    img[y0:y1, x0:x1] = (250, 200, 40)
    img[60:70, 10:120] = (40, 90, 250)
    Image.fromarray(img).save(path)
    return path


@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    return shapes_png(tmp_path_factory.mktemp("pic") / "shapes.png")


def snap(values=None, prompt="a flooded cathedral", seed=7, t=0.0):
    v = {"noise.phase": 0.1, "prompt.1.weight": 1.0, "input.similarity": 1.0}
    v.update(values or {})
    return Snapshot(int(t * 24), t, MappingProxyType(v), (prompt,), seed)


def diff(a, b):
    return float(np.abs(a.astype(int) - b).mean())


def control(name, folder, source, **kw):
    return ControlSpec(name, str(folder), kw.pop("preprocessor", "canny"), source, **kw)


# -- ControlNets -------------------------------------------------------------------------------------
def test_scale_zero_is_exactly_no_control_and_more_scale_steers_more(nets, picture):
    plain = StreamLoop(tiny(), (128, 128), 2, seed=3).frame(snap())
    m = tiny(controls=[control("edges", nets["a"], f"image:{picture}")])
    loop = StreamLoop(m, (128, 128), 2, seed=3)
    d = {s: diff(loop.frame(snap({"control.edges.scale": s})), plain) for s in (0.0, 0.5, 1.0, 2.0)}
    assert d[0.0] == 0.0  # scale 0: the model's own picture, bit for bit
    assert 0.3 < d[0.5] < d[1.0] < d[2.0]
    assert m.controls[0].calls == 3 * 2  # not run at all at scale 0; once per step otherwise


def test_several_controlnets_are_summed_as_diffusers_multicontrolnet_does(nets, picture):
    """Our frame against StableDiffusionControlNetPipeline with both ControlNets (MultiControlNet),
    the same latents, maps, scales, steps and scheduler; and with guidance (the maps on both halves)."""
    from diffusers import StableDiffusionControlNetPipeline

    specs = [control("a", nets["a"], f"image:{picture}"),
             control("b", nets["b"], f"image:{picture}", preprocessor="softedge", start=0.5)]
    m = tiny(controls=specs)
    pipe = StableDiffusionControlNetPipeline(**{k: v for k, v in m.pipe.components.items()
                                                if k not in ("image_encoder",)},
                                             controlnet=[c.net for c in m.controls])
    pipe.set_progress_bar_config(disable=True)
    for guidance in (0.0, 5.0):
        loop = StreamLoop(m, (128, 128), 2, seed=3)
        s = snap({"control.a.scale": 0.8, "control.b.scale": 1.3, "gen.guidance": guidance})
        with torch.inference_mode():
            fg = loop.guided.frame(s, lambda: None)
            maps = [t for _, t, _ in fg.controls]
            cond, lat, guide = loop.conditioning(s), loop.latents(s), loop.guide(s)
            ours = loop.decode(loop.denoise(lat, cond, guide=guide, fg=fg))
        kw = {"negative_prompt_embeds": guide.uncond.embeds} if guide else {}
        ref = pipe(prompt_embeds=cond.embeds, image=maps, latents=lat.clone(), num_inference_steps=2,
                   guidance_scale=guidance, height=128, width=128, output_type="pt", controlnet_conditioning_scale=[0.8, 1.3],
                   control_guidance_start=[0.0, 0.5], control_guidance_end=[1.0, 1.0], **kw).images
        assert (ours - ref).abs().max().item() < 1e-4, guidance
    # each one steers, and together they are neither alone
    loop = StreamLoop(m, (128, 128), 2, seed=3)
    both, a, b = (loop.frame(snap({"control.a.scale": x, "control.b.scale": y})) for x, y in ((1, 1), (1, 0), (0, 1)))
    assert diff(both, a) > 0.3 and diff(both, b) > 0.3 and diff(a, b) > 0.3


def test_a_control_with_start_and_end_acts_only_on_its_steps(nets, picture):
    plain = StreamLoop(tiny(), (128, 128), 4, seed=3)
    m = tiny(controls=[control("late", nets["a"], f"image:{picture}", start=0.5, end=0.75)])
    loop = StreamLoop(m, (128, 128), 4, seed=3)
    assert diff(loop.frame(snap()), plain.frame(snap())) > 0.1
    assert m.controls[0].calls == 1  # steps 0..3: only step 2 lies in [0.5, 0.75]


@pytest.fixture(scope="module")
def still_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "still.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=128x128:r=30:d=2",
                    "-vf", "drawbox=x=30:y=20:w=60:h=70:color=yellow:t=fill", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def moving_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "moving.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=black:s=128x128:r=30:d=2[bg];color=c=yellow:s=24x80:r=30[fg];"
                    "[bg][fg]overlay=x='mod(t*300,100)':y=20:shortest=1", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def test_the_map_and_its_encoding_are_kept_while_the_input_is_still(nets, still_video, moving_video):
    for video, still in ((still_video, True), (moving_video, False)):
        m = tiny(controls=[control("edges", nets["a"], "input")])
        loop = StreamLoop(m, (128, 128), 2, seed=3, input=str(video))
        frames = [loop.frame(snap({"strength": 0.7}, t=0.2 + i / 10)) for i in range(4)]
        worker, c = loop.guided.workers[0], m.controls[0]
        assert c.calls == 4 * 2  # the ControlNet itself runs every step: the latents move
        if still:
            assert worker.made == 1 and worker.reused == 3  # the preprocessor ran once
            assert c.embedding.computed == 1  # and the map was encoded once
        else:
            assert worker.made == 4 and c.embedding.computed == 4
        assert all(f.std() > 1 for f in frames)


def test_a_missing_or_wrong_control_model_is_one_line_and_the_show_goes_on(nets, tmp_path, picture, caplog):
    (tmp_path / "notanet").mkdir()
    (tmp_path / "notanet" / "config.json").write_text('{"_class_name": "ControlNetModel", "block_out_channels": [8]}')
    xl = registry.load(registry.resolve("tiny-random-xl"), CPU, torch.float32)
    other = fixtures.tiny_controlnet(tmp_path / "xl-net", xl.pipe)
    specs = [control("gone", tmp_path / "nothing-here", "input"), control("broken", tmp_path / "notanet", "input"),
             control("other", other, "input"), control("fine", nets["a"], f"image:{picture}")]
    with caplog.at_level("WARNING", logger="vj"):
        m = tiny(controls=specs)
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(lines) == 3 and all("goes on without it" in x and "\n" not in x for x in lines), lines
    assert "control 'gone'" in lines[0] and "control 'broken'" in lines[1]
    assert "control 'other'" in lines[2] and "does not fit" in lines[2]
    assert [c.spec.name for c in m.controls] == ["fine"]
    assert StreamLoop(m, (128, 128), 1, seed=3).frame(snap()).std() > 1
    caplog.clear()
    with caplog.at_level("WARNING", logger="vj"):
        m = tiny(controls=specs[:1])
    assert m.controls is None and StreamLoop(m, (128, 128), 1, seed=3).frame(snap()).std() > 1


# -- IP-Adapter ------------------------------------------------------------------------------------
def ip_spec(nets, image, scale=0.6):
    return IpAdapterSpec(str(nets["ip"]), "ip-adapter.safetensors", "", "image_encoder", image, scale)


def test_ip_adapter_loads_through_diffusers_and_matches_its_pipeline(nets, picture):
    from diffusers import StableDiffusionPipeline

    m = tiny(ipadapter=ip_spec(nets, f"image:{picture}"))
    assert type(m.pipe.image_encoder).__name__ == "CLIPVisionModelWithProjection"
    plain = StreamLoop(tiny(), (128, 128), 2, seed=3).frame(snap())
    loop = StreamLoop(m, (128, 128), 2, seed=3)
    d = {s: diff(loop.frame(snap({"ipadapter.scale": s})), plain) for s in (0.0, 0.5, 1.5)}
    assert d[0.0] < 0.01 and 0.2 < d[0.5] < d[1.5]
    assert m.ip_adapter.encoded == 1  # the reference was encoded once, not per frame
    for guidance in (0.0, 4.0):
        s = snap({"ipadapter.scale": 0.9, "gen.guidance": guidance})
        with torch.inference_mode():
            fg = loop.guided.frame(s, lambda: None)
            cond, lat, guide = loop.conditioning(s), loop.latents(s), loop.guide(s)
            ours = loop.decode(loop.denoise(lat, cond, guide=guide, fg=fg))
        _, e, u = m.ip_adapter._ref
        embeds = torch.cat([u, e]) if guide else e
        pipe = StableDiffusionPipeline(**m.pipe.components)
        pipe.set_progress_bar_config(disable=True)
        kw = {"negative_prompt_embeds": guide.uncond.embeds} if guide else {}
        ref = pipe(prompt_embeds=cond.embeds, latents=lat.clone(), num_inference_steps=2, guidance_scale=guidance,
                   height=128, width=128, output_type="pt", ip_adapter_image_embeds=[embeds[:, None]], **kw).images
        assert (ours - ref).abs().max().item() < 1e-4, guidance
    assert m.ip_adapter.encoded == 1


def test_a_grab_takes_a_new_reference_once(nets, moving_video):
    m = tiny(ipadapter=ip_spec(nets, f"video:{moving_video}", 1.0))
    loop = StreamLoop(m, (128, 128), 1, seed=3)
    a = [loop.frame(snap({"ipadapter.grab": 0.0}, t=0.1 * i)) for i in range(3)]
    assert m.ip_adapter.encoded == 1 and diff(a[0], a[2]) == 0  # the video moves; the reference does not
    b = loop.frame(snap({"ipadapter.grab": 1.0}, t=1.5))  # /vj/grab: a frame of the video a second later
    assert m.ip_adapter.encoded == 2 and diff(b, a[0]) > 0.05
    loop.frame(snap({"ipadapter.grab": 1.0}, t=1.6))
    assert m.ip_adapter.encoded == 2


def test_an_ip_adapter_that_cannot_be_loaded_is_one_line(tmp_path, caplog):
    spec = IpAdapterSpec(str(tmp_path), "ip-adapter.safetensors", "", "image_encoder", "input")
    with caplog.at_level("WARNING", logger="vj"):
        m = tiny(ipadapter=spec)
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(lines) == 1 and "[ipadapter]" in lines[0] and "goes on without it" in lines[0]
    assert m.ip_adapter is None and StreamLoop(m, (128, 128), 1, seed=3).frame(snap()).std() > 1


# -- the whole way: a set, vj check, vj render, the live generator process ----------------------------
TWIN = """
[show]
size = [256, 128]
fps = 12

[generator]
model = "tiny-random"
steps = 1
size = [128, 128]
input = "{video}"
seed = 4

[[prompt]]
text = "a flooded cathedral"

[[control]]
name = "edges"
model = "{net}"
preprocessor = "canny"
source = "input"
scale = 1.0

[[layer]]
source = "control"          # the twin's skeleton, on the left
fit = "contain"
[[layer]]
source = "generator"        # the twin, on the right
fit = "contain"

[params]
"strength" = 0.8
"layer.1.x" = -0.25
"layer.2.x" = 0.25
"""


def skeleton_of(frame):
    """The left half (the control layer) against the canny map of the box the video shows."""
    left = frame[:, :128].astype(int).mean(axis=2)
    return (left < 40).mean(), (left > 150).mean()


def test_a_twin_set_checks_renders_and_plays_live_with_its_skeleton(nets, still_video, tmp_path, gl_ctx):
    from helpers import MemoryOutput, decode, vj

    path = tmp_path / "twin.toml"
    path.write_text(TWIN.format(video=still_video, net=nets["a"]))
    r = vj("check", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    r = vj("render", str(path), "--out", str(tmp_path / "out.mp4"), "--duration", "1")
    assert r.returncode == 0, r.stderr
    frames = decode(tmp_path / "out.mp4", (256, 128))
    dark, bright = skeleton_of(frames[-1])
    assert dark > 0.7 and 0.01 < bright < 0.2  # white edges on black: the yellow box's outline
    assert frames[-1][:, 128:].std() > 2  # and the twin beside it

    from vj import assemble
    from vj.audio.sources import SilentInput
    from vj.clock import FramePacer, RealClock
    from vj.show.setfile import load_set

    show = load_set(path)
    gen = assemble.process_generator(show, seed=4)
    gen.start(wait_ready=True, timeout=120)
    try:
        out, clock = MemoryOutput(), RealClock()
        e = assemble.make_engine(assemble.build_controls(show, 4), assemble.make_compositor(gl_ctx, show), gen,
                                 clock=clock, audio=SilentInput(), outputs=[out])

        def enough(_line):  # the first frames may come before the video's first frame (no map yet)
            if gen.frames >= 5:
                e.stop_requested = True

        s = e.run_live(120, FramePacer(12, clock), status_every=0.25, on_status=enough)
    finally:
        gen.stop()
    assert s.gen_frames >= 5 and s.gen_errors == 0
    dark, bright = skeleton_of(out.frames[-1])
    assert dark > 0.7 and 0.01 < bright < 0.2  # the map came back through shared memory


def test_vj_check_knows_the_new_tables(tmp_path):
    from helpers import vj

    path = tmp_path / "bad.toml"
    path.write_text('[generator]\nmodel = "seedling"\ninput = "camera:0"\n\n'
                    '[[control]]\nname = "edges"\nmodel = "seedling-edges"\npreprocessor = "cany"\n\n'
                    '[[control]]\nname = "pose"\nmodel = "./controlnets/pose"\n\n'
                    '[[control]]\nname = "late"\nmodel = "org/net"\nsource = "clip-missing.mp4"\ncolour = "red"\n\n'
                    '[ipadapter]\nmodel = "h94/IP-Adapter"\nimage = "ref.png"\n')
    r = vj("check", str(path))
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 4, r.stdout
    assert lines[0].startswith(f"{path}:8: [[control]] #1: preprocessor = 'cany' (did you mean 'canny'?)")
    assert lines[1].startswith(f"{path}:12: [[control]] #2: model = './controlnets/pose': no such folder")
    assert lines[2].startswith(f"{path}:18: [[control]] #3: unknown key 'colour'")
    assert lines[3].startswith(f"{path}:22: [ipadapter]: image = 'ref.png': no such file")


def test_osc_grab_into_a_running_show_takes_a_new_reference(nets, moving_video, tmp_path):
    """/vj/grab from liblo's oscsend into `vj run`: the control process, the hub's ipadapter.grab, the
    snapshot, the generator process, which says it took a new reference frame."""
    import os
    import socket
    import sys

    from helpers import ROOT, wait_until
    from test_osc_peers import oscsend

    path = tmp_path / "look.toml"
    path.write_text(f'[show]\nsize = [128, 128]\nfps = 12\n[generator]\nmodel = "tiny-random"\nsteps = 1\n'
                    f'[[prompt]]\ntext = "a flooded cathedral"\n'
                    f'[ipadapter]\nmodel = "{nets["ip"]}"\nsubfolder = ""\nweights = "ip-adapter.safetensors"\n'
                    f'image = "video:{moving_video}"\nscale = 1.0\n')
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    show = subprocess.Popen([sys.executable, "-m", "vj", "run", str(path), "--headless", "--duration", "120",
                             "--osc-port", str(port), "--state", "none"], stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    lines: list[str] = []
    import threading

    reader = threading.Thread(target=lambda: lines.extend(iter(show.stderr.readline, "")), daemon=True)
    reader.start()

    def said(what):
        return any(what in x for x in list(lines))

    try:
        wait_until("the show listening", lambda: said("OSC: listening"), timeout=300, alive=show)
        assert said("ipadapter: "), "".join(lines)  # loaded in the generator process
        # the first frame takes the first reference; a grab after it takes another (sent until one lands)
        for _ in range(60):
            oscsend(port, "/vj/grab")
            try:
                wait_until("a new reference frame", lambda: said("a new reference frame"), timeout=5, alive=show)
                break
            except AssertionError:
                continue
        got = [x for x in lines if "a new reference frame" in x]
        assert got and "video:" in got[0], "".join(lines)
    finally:
        show.terminate()
        show.wait(30)


# -- the seedling's control branch ------------------------------------------------------------------
@pytest.mark.parametrize("season", ["seedling-1", "seedling"])
def test_the_seedlings_control_branch_keeps_the_inputs_edges(season):
    """seedling-edges, shipped in the package and loaded by ControlNetModel.from_pretrained as any
    ControlNet is (the branch of the season it guides): on pictures the painter never makes (a test
    card, letters, polygons, a house) and prompts it was not trained on, the output's edges follow
    the input's more with the control than without it, and more than with another picture's map
    (vj bench guided follow measures the same on more cases: BENCHMARKS.md). The second season's
    branch was trained on the straight frame: the loop straightens the UNet's frame while it acts,
    and only then."""
    from vj.bench.guided import edge_agreement, test_pictures, twin
    from vj.maps.preprocess import canny

    m = registry.load(registry.resolve(season), CPU, torch.float32,
                      controls=[ControlSpec("edges", "seedling-edges", "canny", "input")])
    assert m.controls and type(m.controls[0].net).__name__ == "ControlNetModel"
    framed = hasattr(m.unet.conv_in, "straight")
    assert m.controls[0].straightens == framed == (season == "seedling")
    size = m.spec.native_size
    loop = StreamLoop(m, size, 1, seed=1)
    pics = [p for _, p in test_pictures(*size)]
    maps = [canny(p) for p in pics]
    on, off, shuffled = [], [], []
    for i, pic in enumerate(pics):
        for prompt in ("emerald glass", "yellow spiral"):
            on.append(edge_agreement(twin(loop, pic, maps[i], prompt, 1.0), maps[i]))
            off.append(edge_agreement(twin(loop, pic, None, prompt, 1.0), maps[i]))
            shuffled.append(edge_agreement(twin(loop, pic, maps[i - 1], prompt, 1.0), maps[i]))
    on, off, shuffled = np.mean(on), np.mean(off), np.mean(shuffled)
    assert on > off + 0.1 and on > shuffled + 0.1, (on, off, shuffled)
    if framed:
        assert m.unet.conv_in.straight == 0.0  # straightened for the control's calls only


def test_grab_counts_up_the_reference_and_a_set_without_ipadapter_says_so(tmp_path, picture, caplog):
    from vj.assemble import build_controls
    from vj.control.osc import OscRouter
    from vj.show.setfile import parse_set

    show = parse_set({"ipadapter": {"model": "h94/IP-Adapter", "image": str(picture)},
                      "control": [{"name": "edges", "model": "seedling-edges"}]}, tmp_path / "set.toml")
    c = build_controls(show)
    assert c.params.spec("control.edges.scale").hi == 2.0 and c.params.values()["ipadapter.scale"] == 0.6
    OscRouter(c).handle("/vj/grab", [])
    OscRouter(c).handle("/vj/grab", [])
    c.apply_pending()
    assert c.params.values()["ipadapter.grab"] == 2.0
    plain = build_controls(parse_set({}))
    with caplog.at_level("WARNING", logger="vj"):
        OscRouter(plain).handle("/vj/grab", [])
        plain.apply_pending()
    assert plain.counters.get("bad_actions") == 1 and "no [ipadapter]" in caplog.text


FEEDBACK = """
[show]
size = [224, 128]
fps = 12

[generator]
model = "seedling"
steps = 1
size = [224, 128]
seed = 8

[[prompt]]
text = "red rings"

[[control]]
name = "held"
model = "seedling-edges"
preprocessor = "softedge"       # the seedling paints soft: canny finds no edge in it
source = "feedback"
scale = 1.0

[[layer]]
source = "{layer}"

[params]
"noise.walk" = 6.0
"""


def test_a_control_reading_feedback_keeps_the_structure_of_the_frame_before(tmp_path):
    """source = "feedback" through `vj check` and `vj render`: from the second frame on, each map is
    the edges of the frame made just before it, not of one further back (the walk moves the
    picture), frame-exact offline. Two renders of one seed: one showing the control's map, one
    the generator."""
    from helpers import decode, vj
    from scipy.ndimage import gaussian_filter
    from vj.maps.preprocess import softedge

    frames = {}
    for layer in ("control", "generator"):
        path = tmp_path / f"{layer}.toml"
        path.write_text(FEEDBACK.format(layer=layer))
        if layer == "control":
            r = vj("check", str(path))
            assert r.returncode == 0, r.stdout + r.stderr
        r = vj("render", str(path), "--out", str(tmp_path / f"{layer}.mp4"), "--duration", "1.5")
        assert r.returncode == 0, r.stderr
        frames[layer] = decode(tmp_path / f"{layer}.mp4", (224, 128))
    maps, made = frames["control"], frames["generator"]
    assert len(maps) == len(made) >= 12

    def soft(img):
        return gaussian_filter(img.astype(float), 2.0).ravel()

    def agree(a, b):
        return float(np.corrcoef(soft(a), soft(b))[0, 1])

    right, older = [], []
    for k in range(6, len(maps)):
        shown = maps[k].mean(axis=2)
        right.append(agree(shown, softedge(made[k - 1])))
        older.append(agree(shown, softedge(made[k - 6])))
    assert np.mean(right) > 0.5 and np.mean(right) > np.mean(older) + 0.1, (np.mean(right), np.mean(older))


PROGRAM = """
[show]
size = [224, 128]
fps = 12

[generator]
model = "seedling"
steps = 1
seed = 3

[[prompt]]
text = "blue dots"

[[control]]
name = "look"
model = "seedling-edges"
preprocessor = "softedge"
source = "program"
scale = 1.0

[[layer]]
source = "video:{video}"
{more}
[params]
"control.similarity" = 1.0      # a map for every frame (a still-looking program is not skipped)
"""

CONTROL_ADDED = """
[[layer]]
source = "control"
blend = "add"
"""


def _life_video(path, seconds: float = 3.0):
    """A video that changes every frame, dark with grey cells (ffmpeg's game of life)."""
    import subprocess

    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "life=s=224x128:mold=10:r=12:ratio=0.12:death_color=#000000:life_color=#707070:seed=7",
                    "-t", str(seconds), "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def test_a_control_reading_the_program_keeps_the_structure_of_what_was_shown(tmp_path):
    """source = "program" through `vj check`, `vj render` and `vj run`: the control's map is the
    edges of the composited picture a frame before (offline, exactly that frame). Two renders: the
    program with the video alone, and with the control's map added on top; what the map adds to
    frame k follows the edges of the program shown at frame k-1, not of one further back."""
    from helpers import decode, vj
    from scipy.ndimage import gaussian_filter
    from vj.maps.preprocess import softedge

    video = _life_video(tmp_path / "life.mp4")
    frames = {}
    for name, more in (("alone", ""), ("added", CONTROL_ADDED)):
        path = tmp_path / f"{name}.toml"
        path.write_text(PROGRAM.format(video=video, more=more))
        r = vj("check", str(path))
        assert r.returncode == 0, r.stdout + r.stderr
        r = vj("render", str(path), "--out", str(tmp_path / f"{name}.mp4"), "--duration", "2")
        assert r.returncode == 0, r.stderr
        frames[name] = decode(tmp_path / f"{name}.mp4", (224, 128)).astype(float)
    alone, added = frames["alone"], frames["added"]
    assert len(alone) == len(added) >= 20

    def agree(a, b):
        return float(np.corrcoef(gaussian_filter(a, 1.5).ravel(), gaussian_filter(b, 1.5).ravel())[0, 1])

    right, older = [], []
    for k in range(6, len(added)):
        the_map = (added[k] - alone[k]).mean(axis=2)  # what the control layer added: its map
        right.append(agree(the_map, softedge(added[k - 1].astype(np.uint8))))
        older.append(agree(the_map, softedge(added[k - 6].astype(np.uint8))))
    assert np.mean(right) > 0.5 and np.mean(right) > np.mean(older) + 0.1, (np.mean(right), np.mean(older))

    # live: the program picture crosses to the generator's process through shared memory, a few frames
    # late (the copy is collected on the next frame, the map made beside the generator, the frame made
    # from it shown on the next: 3-4 frames at 12 fps, measured)
    r = vj("run", str(tmp_path / "added.toml"), "--headless", "--audio", "none", "--duration", "4",
           "--out", str(tmp_path / "live.mp4"))
    assert r.returncode == 0, r.stderr
    live = decode(tmp_path / "live.mp4", (224, 128)).astype(float)
    video_frames = decode(video, (224, 128)).astype(float)
    right, older = [], []
    for k in range(len(live) - 12, len(live)):
        shown = min(video_frames, key=lambda v: np.abs(live[k] - v).mean())  # the video's frame under it
        the_map = (live[k] - shown).mean(axis=2)
        right.append(max(agree(the_map, softedge(live[k - j].astype(np.uint8))) for j in range(1, 7)))
        older.append(max(agree(the_map, softedge(live[k - j].astype(np.uint8))) for j in (12, 13, 14)))
    assert np.mean(right) > 0.6 and np.mean(right) > np.mean(older) + 0.3, (np.mean(right), np.mean(older))
