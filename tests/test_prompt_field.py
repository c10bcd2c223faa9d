"""Prompt fields: templates re-sampled on triggers, encoding off the hot path, slerp, chaos."""

import random
import threading
import time

import numpy as np
import pytest
import torch

from vj import assemble
from vj.audio.sources import SilentInput
from vj.clock import ManualClock
from vj.show.setfile import load_set, with_overrides
from vj.core.spec import PromptSpec, ShowSet
from vj.control.osc import OscRouter
from vj.core.errors import ConfigError
from vj.generate.loop import StreamLoop
from vj.generate.conditioning import Conditioning, _slerp_rows
from vj.generate.prompts import PromptCache, encode
from vj.core.templates import TemplateError, parse
from vj.render.compositor import Compositor
from vj.resources import find_set
from vj.core.snapshot import Snapshot
from helpers import MemoryOutput

CATHEDRAL = "a {flooded|burning|frozen} cathedral of {glass|flesh|circuitry}"


# -- templates ---------------------------------------------------------------------------------------
def test_a_template_gives_every_combination_and_nothing_else():
    t = parse(CATHEDRAL)
    assert t.count() == 9 and not t.fixed
    rng = random.Random(1)
    seen = {t.sample(rng) for _ in range(400)}
    assert seen == {f"a {a} cathedral of {b}" for a in ("flooded", "burning", "frozen")
                    for b in ("glass", "flesh", "circuitry")}


def test_nested_and_empty_choices_and_tidy_spaces():
    t = parse("{very |}dark {a {red|blue} bird|nothing}")
    assert t.count() == 2 * 3
    seen = {t.sample(random.Random(i)) for i in range(300)}
    assert seen == {"very dark a red bird", "very dark a blue bird", "very dark nothing",
                    "dark a red bird", "dark a blue bird", "dark nothing"}
    assert parse("plain text").fixed and parse("plain text").sample(random.Random(0)) == "plain text"


@pytest.mark.parametrize("text, where", [("a {b|c", "'{' at character 3 is never closed"),
                                         ("a b}", "'}' without its '{' at character 4"),
                                         ("a|b", "'|' outside {...} at character 2")])
def test_a_broken_template_says_where(text, where):
    with pytest.raises(TemplateError, match=where.replace("{", r"\{").replace("}", r"\}").replace("|", r"\|")
                       .replace(".", r"\.")):
        parse(text)


def test_resample_moves_to_a_different_text_when_it_can():
    t = parse("{a|b}")
    rng = random.Random(3)
    cur = "a"
    for _ in range(50):
        new = t.resample(rng, cur)
        assert new != cur
        cur = new


def test_a_set_with_a_broken_template_fails_in_one_line(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[[prompt]]\ntext = "a {flooded|burning cathedral"\n')
    with pytest.raises(ConfigError, match=r"\[\[prompt\]\] #1: prompt .* never closed"):
        load_set(p)
    p.write_text('[[prompt]]\ntext = "a {x|y}"\nresample = ["bars"]\n')
    with pytest.raises(ConfigError, match="did you mean 'bar'"):
        load_set(p)


# -- re-sampling on triggers -----------------------------------------------------------------------------
def controls_with(prompts, seed=1):
    show = ShowSet(None, prompts=tuple(prompts))
    return assemble.build_controls(show, seed)


def test_prompts_resample_on_their_triggers_only():
    c = controls_with([PromptSpec(CATHEDRAL, 1.0, ("audio.onset",)), PromptSpec("{red|blue|green} {fog|smoke}", 0.5, ("audio.bar",))])
    first, second = list(c.prompts)
    assert "audio.onset" in c.modulators.triggers and "audio.bar" in c.modulators.triggers
    c.on_triggers({"audio.beat"})
    assert c.prompts == [first, second]
    c.on_triggers({"audio.onset"})
    assert c.prompts[0] != first and c.prompts[1] == second
    c.on_triggers({"audio.bar"})
    assert c.prompts[1] != second
    assert c.counters.get("resampled") == 2


def test_sampling_follows_the_seed():
    a = controls_with([PromptSpec(CATHEDRAL, 1.0, ("audio.onset",))], seed=9)
    b = controls_with([PromptSpec(CATHEDRAL, 1.0, ("audio.onset",))], seed=9)
    seq_a, seq_b = [], []
    for _ in range(6):
        a.on_triggers({"audio.onset"})
        b.on_triggers({"audio.onset"})
        seq_a.append(a.prompts[0])
        seq_b.append(b.prompts[0])
    assert seq_a == seq_b and len(set(seq_a)) > 1


def test_osc_and_midi_resample(tmp_path):
    c = controls_with([PromptSpec(CATHEDRAL), PromptSpec("{a|b} {c|d}")])
    r = OscRouter(c)
    before = list(c.prompts)
    r.handle("/vj/resample/2", [])
    c.apply_pending()
    assert c.prompts[0] == before[0] and c.prompts[1] != before[1]
    r.handle("/vj/resample", [])
    c.apply_pending()
    assert c.prompts[0] != before[0]
    r.handle("/vj/prompt/1", ["a {broken"])  # refused at the door, counted, nothing changes
    c.apply_pending()
    assert c.counters.get("osc_bad_args") == 1 and c.templates[0].text == CATHEDRAL
    r.handle("/vj/prompt/1", ["{wet|dry} stone"])
    c.apply_pending()
    assert c.prompts[0] in ("wet stone", "dry stone")

    from vj.control.mapping import load_mapping

    m = tmp_path / "m.toml"
    m.write_text('[device]\nname = "x"\nmatch = "x"\n[[control]]\ntype = "note"\nchannel = 1\nnumber = 36\n'
                 'action = "resample:2"\nmode = "trigger"\n')
    assert load_mapping(m).controls[0].action == "resample:2"


def test_the_bar_trigger_resamples_in_a_running_show(gl_ctx, tiny_model):
    show = with_overrides(load_set(find_set("demo")), size=(160, 96),
                          prompts=(PromptSpec(CATHEDRAL, 1.0, ("audio.bar",)),))
    controls = assemble.build_controls(show, 1)
    gen = assemble.local_generator(show, tiny_model, 1)
    seen = []
    e = assemble.make_engine(controls, Compositor(gl_ctx, show.size, show.effect), gen, clock=ManualClock(),
                             audio=SilentInput(), outputs=[MemoryOutput()], on_frame=[lambda s: seen.append(s.prompts[0])])
    e.render_offline(48, 8.0)  # 6 s; with no tempo the bar is 2 s (120 BPM): bars start at 2 and 4 s
    changes = [i for i in range(1, len(seen)) if seen[i] != seen[i - 1]]
    assert changes == [16, 32]


# -- encoding off the hot path ----------------------------------------------------------------------------
def test_a_new_prompt_never_blocks_a_frame_and_fades_in_when_ready(tiny_model):
    gate = threading.Event()
    asked = []

    def slow_encoder(model, text):
        asked.append(text)
        if text == "burning circuitry":
            assert gate.wait(30)  # held until the frames below are done
        return encode(model, text)

    loop = StreamLoop(tiny_model, (128, 128), 1, seed=2, live=True)
    loop.prompts = PromptCache(tiny_model, background=True, encoder=slow_encoder)

    def frame(t, text, fade=0.5):
        return loop.frame(Snapshot(0, t, {"noise.phase": 0.2, "prompt.fade": fade}, (text,), 2))

    old = frame(0.0, "flooded glass")  # the first frame waits for its prompt once (nothing to show yet)
    for i in range(3):  # the text changes: frames go on with the old embedding while it is encoded
        assert np.array_equal(frame(0.1 + i * 0.1, "burning circuitry"), old)
    assert loop.prompts.pending() == 1
    gate.set()
    deadline = time.monotonic() + 30
    while loop.prompts.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    half = frame(1.0, "burning circuitry")  # arrives now: halfway through the fade at t = 1.25
    quarter = frame(1.25, "burning circuitry")
    done = frame(1.6, "burning circuitry")
    ref = StreamLoop(tiny_model, (128, 128), 1, seed=2)
    target = ref.frame(Snapshot(0, 0.0, {"noise.phase": 0.2}, ("burning circuitry",), 2))
    assert np.array_equal(half, old)  # the fade starts from where it was
    d = lambda a, b: float(np.abs(a.astype(float) - b).mean())
    assert 0 < d(quarter, old) < d(done, old)
    assert np.array_equal(done, target)
    assert asked.count("burning circuitry") == 1


def test_offline_encoding_is_immediate(tiny_model):
    loop = StreamLoop(tiny_model, (128, 128), 1, seed=2)
    a = loop.frame(Snapshot(0, 0.0, {"noise.phase": 0.2, "prompt.fade": 0.0}, ("flooded glass",), 2))
    b = loop.frame(Snapshot(1, 0.1, {"noise.phase": 0.2, "prompt.fade": 0.0}, ("burning circuitry",), 2))
    assert not np.array_equal(a, b) and loop.prompts.encoded == 2


# -- blending ------------------------------------------------------------------------------------------------
def test_slerp_keeps_the_norm_of_each_token_and_meets_the_ends():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1, 77, 32, generator=g), torch.randn(1, 77, 32, generator=g) * 2
    assert torch.allclose(_slerp_rows(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(_slerp_rows(a, b, 1.0), b, atol=1e-5)
    mid = _slerp_rows(a, b, 0.5)
    expect = (a.norm(dim=-1) + b.norm(dim=-1)) / 2
    assert torch.allclose(mid.norm(dim=-1), expect, rtol=1e-4)
    linear_mid = (a + b) / 2
    assert (linear_mid.norm(dim=-1) < expect - 1e-3).float().mean() > 0.9  # the sum loses energy; slerp doesn't


def test_blend_goes_from_sum_to_slerp_continuously():
    g = torch.Generator().manual_seed(1)
    parts = [(0.7, Conditioning(torch.randn(1, 77, 16, generator=g))), (0.6, Conditioning(torch.randn(1, 77, 16, generator=g)))]
    at = [Conditioning.blend(parts, s).embeds for s in (0.0, 0.01, 0.5, 1.0)]
    assert torch.allclose(at[0], 0.7 * parts[0][1].embeds + 0.6 * parts[1][1].embeds)
    small, large = (at[1] - at[0]).abs().mean(), (at[3] - at[0]).abs().mean()
    assert 0 < small < 0.05 * large


# -- continuity of chaos, slerp and the seed list ----------------------------------------------------------
def mean_diff(a, b):
    return float(np.abs(a.astype(np.float64) - b).mean())


@pytest.mark.parametrize("knob", ["chaos", "prompt.slerp", "noise.seed.2.weight", "walk"])
def test_small_moves_of_the_fields_make_small_changes(tiny_model, knob):
    loop = StreamLoop(tiny_model, (128, 128), 1, seed=5)

    def at(delta):
        v = {"noise.phase": 0.1, "prompt.1.weight": 0.8, "prompt.2.weight": 0.5, "noise.seed.1.weight": 1.0,
             "noise.seed.2.weight": 0.0}
        if knob == "walk":
            v["noise.phase"] += delta
        elif knob == "noise.seed.2.weight":  # an equal-power crossfade towards the second seed
            v["noise.seed.1.weight"], v["noise.seed.2.weight"] = np.cos(delta * np.pi), np.sin(delta * np.pi)
        else:
            v[knob] = delta
        return loop.frame(Snapshot(0, 0.0, v, ("glass", "flesh"), 5, seeds=(77,)))

    ref = at(0.0)
    small, large = mean_diff(ref, at(0.02)), mean_diff(ref, at(0.5))
    assert 0 < small < large
    assert small < 0.25 * large
