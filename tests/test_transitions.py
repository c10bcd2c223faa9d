"""Scene transitions: parameters glide over beats, bars or seconds, a hand takes a parameter out of
the glide, the generator blends the prompts in embedding space, the compositor dissolves from the
image held at the change; a cut is still a cut."""

import tomllib

import numpy as np
import pytest
import torch

from vj import assemble
from vj.show.setfile import parse_set
from vj.core.errors import ConfigError
from vj.core.snapshot import Snapshot, TransitionState
from vj.generate.loop import StreamLoop
from vj.generate.prompts import encode
from vj.render.compositor import Compositor
from vj.show.graph import Moment

SET = """
[show]
transition = "1 bar"

[[layer]]
source = "generator"

[[layer]]
source = "feedback"
blend = "screen"

[[scene]]
name = "calm"
params = { "feedback.amount" = 0.2, "layer.2.blend" = 0 }
prompts = ["flooded glass"]

[[scene]]
name = "storm"
params = { "feedback.amount" = 0.8, "layer.2.blend" = 2 }
prompts = ["burning circuitry"]

[[scene]]
name = "snap"
transition = "cut"
params = { "feedback.amount" = 0.5 }

[[scene]]
name = "slow"
transition = "3 s"
params = { "feedback.amount" = 0.0 }
"""


def controls_for(text=SET):
    return assemble.build_controls(parse_set(tomllib.loads(text)), 1)


def beat(c, b):
    """One frame at beat b (120 BPM: half a second a beat)."""
    c.step_graph(Moment(b / 2.0, b))
    return c.params.target("feedback.amount")


def test_the_set_and_its_scenes_say_how_long_a_change_takes():
    show = parse_set(tomllib.loads(SET))
    assert show.transition == (1.0, "bars")
    assert [sc.transition for sc in show.scenes] == [None, None, (0.0, "s"), (3.0, "s")]
    with pytest.raises(ConfigError, match=r'transition = "2 bars", "4 beats", "1.5 s" or "cut" \(got \'soon\'\)'):
        parse_set(tomllib.loads(SET.replace('"3 s"', '"soon"')))


def test_parameters_glide_over_the_bar_and_stepped_ones_change_at_once():
    c = controls_for()
    beat(c, 0.0)
    c.recall("calm")  # the show's first scene lands whole
    assert c.params.target("feedback.amount") == pytest.approx(0.2) and c.transitions.current is None
    beat(c, 1.0)
    c.recall("storm")
    assert c.params.target("layer.2.blend") == 2  # a blend mode has no between: under the crossfade
    seen = [beat(c, b) for b in (1.0, 2.0, 3.0, 4.0, 5.0)]
    assert seen == pytest.approx([0.2, 0.35, 0.5, 0.65, 0.8])  # a straight line over 4 beats
    assert c.transition is None and c.transitions.current is None  # whole: the snapshot carries none
    assert beat(c, 6.0) == pytest.approx(0.8)


def test_the_snapshot_says_how_far_the_transition_is():
    c = controls_for()
    beat(c, 0.0)
    c.recall("calm")
    c.recall("storm")
    beat(c, 2.0)
    first = c.transition
    assert first == TransitionState(1, 0.5)
    c.recall("slow")  # another change under way: a new serial, from where things stand
    c.step_graph(Moment(1.0 + 1.5, 2.0))  # 1.5 s of 3
    assert c.transition == TransitionState(2, 0.5)
    assert c.params.target("feedback.amount") == pytest.approx(0.5 * 0.5)  # from 0.5 towards 0.0


def test_a_cut_lands_at_once():
    c = controls_for()
    beat(c, 0.0)
    c.recall("calm")
    c.recall("snap")
    assert c.params.target("feedback.amount") == pytest.approx(0.5) and c.transition is None


def test_a_hand_on_a_gliding_parameter_wins():
    c = controls_for()
    beat(c, 0.0)
    c.recall("calm")
    c.recall("storm")
    beat(c, 1.0)
    c.params.set("feedback.amount", 0.1, source="osc")
    assert [beat(c, b) for b in (2.0, 3.0, 5.0)] == pytest.approx([0.1, 0.1, 0.1])


def test_the_generator_blends_the_prompts_by_the_transitions_progress(tiny_model):
    loop = StreamLoop(tiny_model, (64, 64), 1, seed=2)
    old, new = encode(tiny_model, "flooded glass").embeds, encode(tiny_model, "burning circuitry").embeds

    def cond(text, tr, t):
        return loop.conditioning(Snapshot(0, t, {"prompt.fade": 0.0}, (text,), 2, transition=tr)).embeds

    assert torch.allclose(cond("flooded glass", None, 0.0), old)
    assert torch.allclose(cond("burning circuitry", TransitionState(1, 0.0), 0.1), old)  # it starts where it was
    assert torch.allclose(cond("burning circuitry", TransitionState(1, 0.25), 5.0), old + 0.25 * (new - old))
    assert torch.allclose(cond("burning circuitry", TransitionState(1, 0.75), 5.1), old + 0.75 * (new - old))
    assert torch.allclose(cond("burning circuitry", None, 5.2), new)  # the transition is over


def test_a_prompt_that_arrives_late_blends_over_what_is_left(tiny_model):
    loop = StreamLoop(tiny_model, (64, 64), 1, seed=2)
    old, new = encode(tiny_model, "flooded glass").embeds, encode(tiny_model, "burning circuitry").embeds
    loop.conditioning(Snapshot(0, 0.0, {}, ("flooded glass",), 2))
    # the new text lands halfway through (live, the encoder thread took that long): the rest of the way
    loop.conditioning(Snapshot(1, 1.0, {}, ("burning circuitry",), 2, transition=TransitionState(3, 0.5)))
    got = loop.conditioning(Snapshot(2, 1.5, {}, ("burning circuitry",), 2, transition=TransitionState(3, 0.75))).embeds
    assert torch.allclose(got, old + 0.5 * (new - old))


def test_the_compositor_dissolves_from_the_image_held_at_the_change(gl_ctx):
    c = Compositor(gl_ctx, (64, 48))
    values = {"gen.interpolate": 0.0}
    c.upload(np.full((32, 32, 3), (240, 0, 0), np.uint8))
    c.render(Snapshot(0, 0.0, values, ("x",), 1))
    c.upload(np.full((32, 32, 3), (0, 0, 240), np.uint8))

    def shown(tr, t):
        c.render(Snapshot(1, t, values, ("x",), 1, transition=tr))
        return c.read_frame().reshape(-1, 3).mean(0)

    assert shown(TransitionState(1, 0.0), 0.1) == pytest.approx((240, 0, 0), abs=1.5)  # the held image
    assert shown(TransitionState(1, 0.5), 0.2) == pytest.approx((120, 0, 120), abs=1.5)
    assert shown(TransitionState(1, 0.75), 0.3) == pytest.approx((60, 0, 180), abs=1.5)
    assert shown(None, 0.4) == pytest.approx((0, 0, 240), abs=1.5)
    c.upload(np.full((32, 32, 3), (0, 240, 0), np.uint8))
    assert shown(TransitionState(2, 0.0), 0.5) == pytest.approx((0, 0, 240), abs=1.5)  # a new one holds anew


def test_a_show_glides_between_scenes_of_its_graph(gl_ctx, tiny_model):
    from vj.audio.sources import SilentInput
    from vj.clock import ManualClock
    from helpers import MemoryOutput

    text = SET.replace('transition = "1 bar"\n', 'transition = "1 bar"\nsize = [96, 64]\nfps = 8\n') + \
        '[graph]\nstart = "calm"\n[[edge]]\nfrom = "calm"\nto = "storm"\nafter = "1 bar"\n'
    show = parse_set(tomllib.loads(text))
    controls = assemble.build_controls(show, 1)
    seen = []
    e = assemble.make_engine(controls, Compositor(gl_ctx, show.size), assemble.local_generator(show, tiny_model, 1),
                             clock=ManualClock(), audio=SilentInput(), outputs=[MemoryOutput()],
                             on_frame=[lambda s: seen.append((s.t, s.values["feedback.amount"], s.transition))])
    e.render_offline(40, 8.0)  # 5 s at 120 BPM from show time: storm lands at 2 s, whole at 4 s
    at = {round(t, 3): (v, tr) for t, v, tr in seen}
    assert at[1.875][0] == pytest.approx(0.2) and at[1.875][1] is None
    assert at[3.0][0] == pytest.approx(0.5, abs=0.02) and at[3.0][1].progress == pytest.approx(0.5)
    assert at[4.5][0] == pytest.approx(0.8) and at[4.5][1] is None
