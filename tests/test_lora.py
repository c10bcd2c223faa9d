"""LoRA adapters as faders: loaded once, weighted live by lora.<name>.weight, unloaded; a model's
own LoRA fused (sd15-lcm). The LoRA files are made here for the tiny random UNet (fixtures.tiny_lora)
and read back through diffusers' own LoRA loading, as a downloaded file would be."""

from types import MappingProxyType

import numpy as np
import pytest
import torch

from vj.core.errors import ModelLoadError
from vj.core.snapshot import Snapshot
from vj.core.spec import LoraSpec
from vj.generate import fixtures, lora, registry
from vj.generate.loop import StreamLoop

CPU = torch.device("cpu")


def tiny(**kw):
    return registry.load(registry.resolve("tiny-random"), CPU, torch.float32, **kw)


@pytest.fixture(scope="module")
def lora_file(tmp_path_factory):
    return fixtures.tiny_lora(tmp_path_factory.mktemp("lora"), tiny().pipe, text_encoder=True)


def snap(weight):
    values = {"noise.phase": 0.1, "prompt.1.weight": 1.0, "lora.glass.weight": weight}
    return Snapshot(0, 0.0, MappingProxyType(values), ("a flooded cathedral",), 7)


def diff(a, b):
    return np.abs(a.astype(int) - b).mean()


def test_a_lora_is_faded_by_its_parameter_without_reloading_and_unloaded(lora_file, caplog):
    base = StreamLoop(tiny(), (128, 128), 2, seed=3).frame(snap(0.0))
    with caplog.at_level("INFO", logger="vj"):
        m = tiny(loras=[LoraSpec("glass", str(lora_file), 1.0)])
    assert any("text-encoder layers are left out" in r.getMessage() for r in caplog.records)
    loop = StreamLoop(m, (128, 128), 2, seed=3)
    unet, weights = m.unet, {id(p) for p in m.unet.parameters()}
    d = {w: diff(loop.frame(snap(w)), base) for w in (0.0, 0.5, 1.0, 2.0)}
    assert d[0.0] == 0  # weight 0: the model as it was
    assert 0 < d[0.5] < d[1.0] < d[2.0]  # more weight, further from it
    assert m.unet is unet and {id(p) for p in m.unet.parameters()} == weights  # rescaled in place, nothing reloaded
    assert diff(loop.frame(snap(1.0)), base) == d[1.0]  # back to 1: the same picture as before
    m.loras.unload("glass")
    assert m.loras.names == []
    assert diff(loop.frame(snap(1.0)), base) == 0  # gone: its parameter no longer reaches anything


def test_two_loras_are_weighted_each_by_its_own_fader(lora_file, tmp_path):
    other = fixtures.tiny_lora(tmp_path, tiny().pipe, seed=9)
    m = tiny(loras=[LoraSpec("glass", str(lora_file), 0.0), LoraSpec("rust", str(other), 0.0)])
    loop = StreamLoop(m, (128, 128), 1, seed=3)
    v = lambda g, r: Snapshot(0, 0.0, MappingProxyType({"noise.phase": 0.1, "prompt.1.weight": 1.0,  # noqa: E731
                                                        "lora.glass.weight": g, "lora.rust.weight": r}),
                              ("a flooded cathedral",), 7)
    none, glass, rust = loop.frame(v(0, 0)), loop.frame(v(1, 0)), loop.frame(v(0, 1))
    assert diff(glass, none) > 0.5 and diff(rust, none) > 0.5 and diff(glass, rust) > 0.5
    assert diff(loop.frame(v(0, 0)), none) == 0


def test_a_fused_lora_is_the_adapter_at_full_weight_at_no_cost(lora_file):
    fused = tiny()
    lora.fuse(fused.pipe, str(lora_file))
    from peft.tuners.lora import LoraLayer

    assert not any(isinstance(mod, LoraLayer) for mod in fused.unet.modules())  # baked in: no LoRA layers per frame
    adapter = tiny(loras=[LoraSpec("glass", str(lora_file), 1.0)])
    a = StreamLoop(fused, (128, 128), 2, seed=3).frame(snap(1.0))
    assert diff(a, StreamLoop(adapter, (128, 128), 2, seed=3).frame(snap(1.0))) < 0.05
    assert diff(a, StreamLoop(tiny(), (128, 128), 2, seed=3).frame(snap(1.0))) > 0.5


def test_a_lora_that_cannot_be_loaded_is_said_in_one_line_and_the_show_goes_on(tmp_path, caplog):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with caplog.at_level("WARNING", logger="vj"):
        m = tiny(loras=[LoraSpec("broken", str(bad), 1.0)])
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(lines) == 1 and "lora 'broken'" in lines[0] and "goes on without it" in lines[0] and "\n" not in lines[0]
    assert m.loras.names == []
    assert StreamLoop(m, (128, 128), 1, seed=3).frame(snap(1.0)).std() > 1


def test_a_lora_of_another_family_is_refused_in_one_line(tmp_path):
    xl = registry.load(registry.resolve("tiny-random-xl"), CPU, torch.float32)
    f = fixtures.tiny_lora(tmp_path, xl.pipe)
    with pytest.raises(ModelLoadError, match="lora 'x'.*does not fit") as e:
        lora.Loras(tiny().pipe).load("x", str(f))
    assert "\n" not in str(e.value)


def test_the_sets_loras_become_parameters_and_a_missing_file_is_one_line(lora_file, tmp_path):
    from vj.assemble import build_controls
    from vj.show.setfile import parse_set
    from vj.core.errors import ConfigError

    (tmp_path / "glass.safetensors").write_bytes(lora_file.read_bytes())
    show = parse_set({"generator": {"model": "tiny-random"},
                      "lora": [{"name": "glass", "source": "glass.safetensors", "weight": 0.7},
                               {"name": "pixels", "source": "nerijs/pixel-art-xl"}]}, tmp_path / "set.toml")
    assert [(lo.name, lo.weight) for lo in show.loras] == [("glass", 0.7), ("pixels", 1.0)]
    assert show.loras[0].source == str(tmp_path / "glass.safetensors")
    params = build_controls(show).params
    assert params.spec("lora.glass.weight").hi == 2.0 and params.values()["lora.glass.weight"] == 0.7
    with pytest.raises(ConfigError, match=r"\[\[lora\]\] #1: source = 'gone.safetensors': no such file"):
        parse_set({"lora": [{"name": "gone", "source": "gone.safetensors"}]}, tmp_path / "set.toml")
    with pytest.raises(ConfigError, match=r"\[\[lora\]\] #2: name .a. is taken by \[\[lora\]\] #1"):
        parse_set({"lora": [{"name": "a", "source": "o/a"}, {"name": "a", "source": "o/b"}]})


def test_sd15_lcm_is_sd15_with_lcm_lora_fused_and_the_lcm_scheduler():
    spec = registry.resolve("sd15-lcm")
    assert spec.lora == "latent-consistency/lcm-lora-sdv1-5" and spec.scheduler == "lcm" and spec.family == "sd"
    rnd = registry.resolve("random:sd15-lcm")  # its architecture, for benchmarks: the LCM scheduler, no LoRA
    assert rnd.scheduler == "lcm" and rnd.config.endswith("sd15.json") and rnd.lora is None
    with pytest.raises(ModelLoadError, match="sd15-lcm.*not in the local Hugging Face cache"):
        registry.load(spec, CPU, torch.float32)  # offline here: one line that says what to do


SET = """
[show]
size = [128, 96]
fps = 12

[generator]
model = "tiny-random"
steps = 3
scheduler = "dpm"
negative = "blurry, dull"
size = [128, 128]
seed = 4

[[prompt]]
text = "a flooded cathedral"

[[lora]]
name = "glass"
source = "glass.safetensors"
weight = 0.0

[params]
"gen.guidance" = 4.0

[[route]]
source = "lfo.sweep"
target = "lora.glass.weight"
amount = 2.0

[[lfo]]
name = "sweep"
shape = "saw"
beats = 4
"""


def test_a_set_with_a_scheduler_guidance_and_a_lora_renders_and_plays_live(lora_file, tmp_path, gl_ctx):
    """The whole way: vj check, vj render (the generator in step), and the generator process (live)."""
    from helpers import MemoryOutput, decode, vj

    (tmp_path / "glass.safetensors").write_bytes(lora_file.read_bytes())
    path = tmp_path / "old-families.toml"
    path.write_text(SET)
    r = vj("check", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    r = vj("render", str(path), "--out", str(tmp_path / "out.mp4"), "--duration", "2")
    assert r.returncode == 0, r.stderr
    frames = decode(tmp_path / "out.mp4", (128, 96))
    assert len(frames) == 24
    # the LFO sweeps the LoRA's weight: the frames move although prompt and noise stand still
    assert np.abs(frames[2].astype(int) - frames[20]).mean() > 0.5

    from vj import assemble
    from vj.audio.sources import SilentInput
    from vj.clock import FramePacer, RealClock
    from vj.show.setfile import load_set
    from vj.render.compositor import Compositor

    show = load_set(path)
    gen = assemble.process_generator(show, seed=4)
    gen.start(wait_ready=True, timeout=120)
    try:
        out, clock = MemoryOutput(), RealClock()
        e = assemble.make_engine(assemble.build_controls(show, 4), Compositor(gl_ctx, show.size), gen, clock=clock,
                                 audio=SilentInput(), outputs=[out])

        def enough(_line):
            if gen.frames >= 3:  # frames shown (a busy machine makes fewer of the snapshots it is sent)
                e.stop_requested = True

        s = e.run_live(60, FramePacer(12, clock), status_every=0.25, on_status=enough)
    finally:
        gen.stop()
    assert s.gen_frames >= 3 and s.gen_errors == 0
    assert out.frames[-1].std() > 2
