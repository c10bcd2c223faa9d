"""The control layer without sockets: priority, routes, LFOs, envelopes, scenes, the OSC address
space (OscRouter.handle is what the listener calls per message), mappings and MIDI message
handling (MidiControl._handle is what rtmidi's callback calls). The real peers are in
test_osc_peers.py and test_midi_jack.py."""

import math
import time
from pathlib import Path

import mido
import pytest

from vj import assemble
from vj.show.setfile import load_set
from vj.control import params as params_mod
from vj.control.mapping import Control, load_mapping
from vj.control.midi import MidiClock, MidiControl, _Port, fit_to, write_learned
from vj.control.modulators import Modulators
from vj.core.spec import EnvelopeSpec, LfoSpec
from vj.control.osc import ADDRESSES, OscRouter, build_message
from vj.control.params import ParamSpace
from vj.core.params import ParamSpec
from vj.control.routes import Route, Routes, curve
from vj.core.errors import ConfigError
from vj.resources import find_set

from helpers import ROOT


class Clock:
    """A hand-wound clock for the priority rules."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def demo_controls():
    return assemble.build_controls(load_set(find_set("demo")), 1)


# -- priority: a hand wins -------------------------------------------------------------------------------
def test_a_hand_holds_a_parameter_against_its_routes_then_they_fade_back():
    clock = Clock()
    p = ParamSpace([ParamSpec("x", 0.0, 1.0, 0.2, smooth=0.0)], clock=clock)
    r = Routes([Route("audio.level", "x", 0.5)])
    r.apply(p, {"audio.level": 1.0})
    assert p.value("x") == pytest.approx(0.7)  # untouched: the route acts fully
    p.set("x", 0.3, source="midi")
    p.tick(0.0)
    r.apply(p, {"audio.level": 1.0})
    assert p.value("x") == pytest.approx(0.3)  # held: exactly where the hand put it
    assert p.held("x")
    clock.t += params_mod.HOLD + params_mod.FADE / 2
    assert p.value("x") == pytest.approx(0.3 + 0.25)  # halfway back
    clock.t += params_mod.FADE
    assert p.value("x") == pytest.approx(0.8) and not p.held("x")


def test_set_files_and_scenes_do_not_hold():
    clock = Clock()
    p = ParamSpace([ParamSpec("x", 0.0, 1.0, 0.2, smooth=0.0)], clock=clock)
    for source in ("set", "scene"):
        p.set("x", 0.4, source=source)
        p.tick(0.0)
        Routes([Route("audio.level", "x", 0.5)]).apply(p, {"audio.level": 1.0})
        assert p.value("x") == pytest.approx(0.9)


# -- routes ---------------------------------------------------------------------------------------------------
def test_curves_span_zero_to_one_and_shape_the_middle():
    for name in ("linear", "exp", "log", "step"):
        assert curve(name, 0.0) == pytest.approx(0.0) and curve(name, 1.0) == pytest.approx(1.0)
    assert curve("exp", 0.5) < 0.5 < curve("log", 0.5)
    assert curve("step", 0.49) == 0.0 and curve("step", 0.5) == 1.0


def test_route_range_offset_and_clamped_source():
    p = ParamSpace([ParamSpec("x", -10.0, 10.0, 0.0, smooth=0.0)])
    Routes([Route("s", "x", amount=4.0, offset=-2.0)]).apply(p, {"s": 0.5})
    assert p.value("x") == pytest.approx(0.0)
    p.tick(0.0)
    Routes([Route("s", "x", amount=4.0, offset=-2.0)]).apply(p, {"s": 7.0})  # sources are clamped to 0..1
    assert p.value("x") == pytest.approx(2.0)
    p.tick(0.0)
    Routes([Route("s", "x", amount=4.0)]).apply(p, {"s": float("nan")})  # a broken source counts as 0
    assert p.value("x") == 0.0


def test_attack_and_release_follow_their_own_time_constants():
    p = ParamSpace([ParamSpec("x", 0.0, 10.0, 0.0, smooth=0.0)])
    r = Routes([Route("s", "x", amount=1.0, attack=0.1, release=1.0)])
    r.apply(p, {"s": 0.0}, dt=0.0)
    p.tick(0.1)
    r.apply(p, {"s": 1.0}, dt=0.1)  # one attack time constant: 63 %
    assert p.value("x") == pytest.approx(1 - math.exp(-1), rel=1e-6)
    for _ in range(50):
        p.tick(0.1)
        r.apply(p, {"s": 1.0}, dt=0.1)
    p.tick(0.1)
    r.apply(p, {"s": 0.0}, dt=0.1)  # release is ten times slower: 10 % down
    assert p.value("x") == pytest.approx(math.exp(-0.1), rel=1e-3)


def test_routes_are_added_replaced_and_removed_live():
    c = demo_controls()
    n = len(c.routes.routes)
    c.post("route_add", Route("midi.1.cc.7", "feedback.zoom", 0.1))
    c.post("route_add", Route("midi.1.cc.7", "feedback.zoom", 0.2))  # same pair: replaces
    c.apply_pending()
    assert len(c.routes.routes) == n + 1 and c.routes.routes[-1].amount == 0.2
    assert "midi.1.cc.7" in c.modulators.watch
    c.post("route_remove", "midi.1.cc.7", "feedback.zoom")
    c.apply_pending()
    assert len(c.routes.routes) == n


# -- LFOs and envelopes -----------------------------------------------------------------------------------
def test_lfo_shapes_over_the_beat():
    assert LfoSpec("a", "sine", 4).value(0) == pytest.approx(0.0)
    assert LfoSpec("a", "sine", 4).value(2) == pytest.approx(1.0)
    assert LfoSpec("a", "triangle", 1).value(0.25) == pytest.approx(0.5)
    assert LfoSpec("a", "saw", 0.25).value(0.125) == pytest.approx(0.5)  # a sixteenth note
    assert LfoSpec("a", "square", 64).value(31) == 1.0 and LfoSpec("a", "square", 64).value(33) == 0.0  # 16 bars
    assert LfoSpec("a", "sine", 4, phase=0.5).value(0) == pytest.approx(1.0)


def test_random_lfo_holds_one_value_per_cycle_and_repeats_with_the_seed():
    lfo = LfoSpec("r", "random", 1)
    assert lfo.value(3.1, seed=5) == lfo.value(3.9, seed=5)  # held through the beat
    cycles = [lfo.value(b + 0.5, seed=5) for b in range(32)]
    assert len(set(cycles)) > 25 and all(0.0 <= v <= 1.0 for v in cycles)
    assert cycles == [lfo.value(b + 0.5, seed=5) for b in range(32)]  # a render repeats
    assert cycles != [lfo.value(b + 0.5, seed=6) for b in range(32)]


def test_envelopes_fire_on_onsets_and_on_notes_then_decay():
    m = Modulators((), (EnvelopeSpec("hit", "audio.onset", attack=0.0, decay=0.1),
                        EnvelopeSpec("pad", "midi.10.note.36", attack=0.05, decay=0.2)))
    v = m.values(0.0, 1 / 60, {"audio.onset": 0.0})
    assert v["env.hit"] == 0.0 and v["env.pad"] == 0.0
    v = m.values(0.0, 1 / 60, {"audio.onset": 1.0})
    assert v["env.hit"] == pytest.approx(1.0)
    v = m.values(0.0, 0.1, {})
    assert v["env.hit"] == pytest.approx(math.exp(-1), rel=1e-6)
    m.controls.set("midi.10.note.36", 1.0, event=True)  # what a MIDI note-on does
    v = m.values(0.0, 0.025, {})
    assert v["env.pad"] == pytest.approx(0.5)  # halfway up a 50 ms attack
    assert v["midi.10.note.36"] == 1.0  # and the note's value is a source too


# -- scenes -------------------------------------------------------------------------------------------------------
def test_a_scene_sets_its_values_and_prompts_without_holding_them():
    c = demo_controls()
    seen = []
    c.params.on_change(lambda n, v, s: seen.append((n, s)))
    c.post("scene", "storm", origin="test")
    c.apply_pending()
    assert c.scene == "storm" and c.params.target("noise.walk") == 12.0
    assert not c.params.held("noise.walk") and ("noise.walk", "scene") in seen
    c.post("scene", 2)
    c.apply_pending()
    assert c.scene == "drowned" and c.prompts[0] == "blue ocean waves"
    c.post("scene", "nope")  # refused with a warning, the show goes on
    c.apply_pending()
    assert c.scene == "drowned" and c.counters.get("bad_actions") == 1


# -- the OSC address space ---------------------------------------------------------------------------------
def test_osc_addresses_move_the_namespace():
    c = demo_controls()
    r = OscRouter(c)
    r.handle("/vj/param/feedback.amount", [0.3])
    r.handle("/vj/param/fx/kaleido/sides", [9])  # slashes for dots, as TouchOSC likes them
    r.handle("/vj/param/feedback.zoom/norm", [1.0])
    r.handle("/vj/prompt", ["a new first prompt"])
    r.handle("/vj/prompt/3", ["a third prompt, added live"])
    r.handle("/vj/prompt/1/weight", [0.5])
    r.handle("/vj/scene", ["calm"])
    r.handle("/vj/seed", [42])
    r.handle("/vj/source/x", [0.25])
    r.handle("/vj/route", ["osc.x", "feedback.rotate", 2.0, "exp"])
    c.apply_pending()
    assert c.params.target("feedback.amount") == 0.4  # the scene came after
    assert c.params.target("fx.kaleido.sides") == 4  # and set this one too
    assert c.params.target("feedback.zoom") == 1.25
    assert c.prompts[0] == "a new first prompt" and c.prompts[2] == "a third prompt, added live"
    assert c.params.target("prompt.1.weight") == 0.5 and "prompt.3.weight" in c.params
    assert c.seed == 42
    assert c.routes.routes[-1] == Route("osc.x", "feedback.rotate", 2.0, curve="exp")
    assert c.modulators.controls.read()[0]["osc.x"] == 0.25
    assert c.params.held("feedback.amount") is False  # a scene after a hand: the scene's value, not held
    assert c.counters.get("osc_params") == 3


@pytest.mark.parametrize("address,args,counter", [
    ("/vj/param/feedback.amount", ["loud"], "osc_bad_args"),
    ("/vj/param/feedback.amount", [], "osc_bad_args"),
    ("/vj/param/feedback.amount", [float("nan")], "osc_bad_args"),
    ("/vj/param/feedback.amount", [True], "osc_bad_args"),
    ("/vj/param/nope", [0.1], "osc_unknown"),
    ("/vj/nope", [1], "osc_unknown"),
    ("/other/thing", [1], "osc_unknown"),
    ("/vj/scene", [1.5], "osc_bad_args"),
    ("/vj/scene", [17], "osc_bad_args"),  # the address is right, the scene is not there
    ("/vj/scene", ["stomr"], "osc_bad_args"),
    ("/vj/seed", [-1], "osc_bad_args"),
    ("/vj/bpm", [5000.0], "osc_bad_args"),
    ("/vj/prompt/0", ["x"], "osc_unknown"),
    ("/vj/prompt/1", [3], "osc_bad_args"),
    ("/vj/route", ["audio.level", "feedback.zoom"], "osc_bad_args"),
    ("/vj/route", ["audio.nope", "feedback.zoom", 1.0], "osc_unknown"),
    ("/vj/learn", ["nope"], "osc_unknown"),
])
def test_bad_osc_is_counted_and_changes_nothing(address, args, counter):
    c = demo_controls()
    before = dict(c.params.values())
    assert OscRouter(c).handle(address, args) == []
    c.apply_pending()
    assert c.counters.get(counter) == 1
    assert dict(c.params.values()) == before


def test_a_dropped_osc_message_says_what_and_from_where_once_not_a_hundred_times(caplog):
    c = demo_controls()
    r = OscRouter(c)
    sender = ("10.0.0.9", 9000)
    for _ in range(100):  # a controller patched to a wrong address, sending all the time
        r.handle("/vj/param/feedback.amout", [0.5], sender=sender)
    r.handle("/vj/param/feedback.zoom", ["lots"], sender=sender)
    lines = [m for m in caplog.messages if m.startswith("OSC")]
    assert lines == ["OSC: /vj/param/feedback.amout from 10.0.0.9:9000 dropped: no parameter 'feedback.amout' "
                     "(did you mean 'feedback.amount'?) (`vj params` lists the parameters, docs/hands.md the addresses)",
                     "OSC: /vj/param/feedback.zoom ['lots'] from 10.0.0.9:9000 dropped: it takes a finite number, "
                     "got 'lots'"]
    assert c.counters.get("osc_unknown") == 100 and c.counters.get("osc_bad_args") == 1
    caplog.clear()
    r.handle("/vj/param/x\n\x1b[31mvj: all good" + "y" * 300, [1.0], sender=sender)  # a hostile address
    r.handle("/vj/param/feedback.amout", [0.5], sender=sender)  # still throttled: said 0 s ago
    r.handle("/vj/param/noise.wlak", [0.5], sender=sender)  # another address: its own line
    lines = [m for m in caplog.messages if m.startswith("OSC")]
    assert len(lines) == 2 and "noise.wlak" in lines[1]
    assert "\n" not in lines[0] and "\x1b" not in lines[0] and "\\n\\x1b[31mvj: all good" in lines[0]
    assert len(lines[0]) < 300


def test_out_of_range_values_are_clamped_and_counted():
    c = demo_controls()
    r = OscRouter(c)
    r.handle("/vj/param/feedback.amount", [5.0])
    r.handle("/vj/param/feedback.zoom/norm", [-3.0])
    assert c.params.target("feedback.amount") == 0.99 and c.params.target("feedback.zoom") == 0.8
    assert c.counters.get("osc_clamped") == 2


def test_vj_list_answers_every_address_with_type_range_and_value():
    c = demo_controls()
    items = OscRouter(c).handle("/vj/list", [])
    assert items[-1] == ("/vj/list/end", [])
    listed = {args[0]: args for address, args in items[:-1]}
    assert all(address == "/vj/list/item" for address, _ in items[:-1])
    assert listed["/vj/param/feedback.amount"] == ["/vj/param/feedback.amount", "f", 0.0, 0.99, 0.55]
    for name in c.params.names():
        assert f"/vj/param/{name}" in listed
    for address in ("/vj/prompt/1", "/vj/prompt/2", "/vj/scene", "/vj/seed", "/vj/tap", "/vj/bpm", "/vj/learn",
                    "/vj/route", "/vj/route/remove", "/vj/status", "/vj/list", "/vj/source/<name>",
                    "/vj/param/feedback.amount/norm", "/vj/prompt/1/weight", "/vj/resample/2"):
        assert address in listed
    assert listed["/vj/param/feedback.amount/norm"] == ["/vj/param/feedback.amount/norm", "f", 0.0, 1.0,
                                                         pytest.approx(0.55 / 0.99)]


def test_every_address_the_router_acts_on_is_in_its_listing_and_acts():
    """The router and /vj/list read one table: each address listed is one the router takes."""
    c = demo_controls()
    r = OscRouter(c)
    listed = [args for _, args in r.handle("/vj/list", [])[:-1]]
    assert {a.path.split("/")[2] for a in ADDRESSES} == {item[0].split("/")[2] for item in listed}
    sample = {"f": [0.5], "s": ["a listed prompt"], "i": [1], "": [], "ssfs": ["audio.level", "feedback.zoom", 0.1, "exp"],
              "ss": ["audio.level", "feedback.zoom"]}
    for address, types, lo, hi, _ in listed:
        address = address.replace("<name>", "x")
        args = [1] if address == "/vj/scene" else ["feedback.amount"] if address == "/vj/learn" else sample[types]
        if types == "f" and hi > lo:
            args = [(lo + hi) / 2]  # inside its listed range
        before = c.counters.get("osc_unknown") + c.counters.get("osc_bad_args")
        r.handle(address, args)
        assert c.counters.get("osc_unknown") + c.counters.get("osc_bad_args") == before, address


# -- mappings --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted((ROOT / "mappings").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_mappings_parse_and_fit_the_demo_set(path):
    m = load_mapping(path)
    c = demo_controls()
    assert m.match and len(m.controls) >= 16
    assert fit_to(m, c.params) == m, "every target is a parameter of the demo set"
    scenes = [int(x.action.split(":")[1]) for x in m.controls if x.action and x.action.startswith("scene:")]
    assert scenes and min(scenes) == 0  # pads select scenes from the first


@pytest.mark.parametrize("text,msg", [
    ('[[control]]\ntype="cc"\nnumber=1\ntarget="x"', "missing match"),
    ('[device]\nmatch="x"\n[[control]]\ntype="knob"\ntarget="x"', "type 'knob'"),
    ('[device]\nmatch="x"\n[[control]]\ntype="cc"\nnumber=200\ntarget="x"', "number"),
    ('[device]\nmatch="x"\n[[control]]\ntype="cc"\nnumber=1\nmode="absolut"\ntarget="x"', "did you mean 'absolute'"),
    ('[device]\nmatch="x"\n[[control]]\ntype="cc"\nnumber=1', "either target"),
    ('[device]\nmatch="x"\n[[control]]\ntype="cc14"\nnumber=40\ntarget="x"', "MSB must be 0..31"),
    ('[device]\nmatch="x"\n[[control]]\ntype="cc"\nnumber=1\ntarget="x"\n[[control]]\ntype="cc"\nnumber=1\ntarget="y"',
     "the same cc 1/1"),
])
def test_bad_mappings_say_where_and_what(tmp_path, text, msg):
    (tmp_path / "m.toml").write_text(text)
    with pytest.raises(ConfigError, match=msg) as e:
        load_mapping(tmp_path / "m.toml")
    assert str(tmp_path / "m.toml") in str(e.value)


# -- MIDI messages through a mapping ----------------------------------------------------------------------------
class LedOutput:
    """Stands in for the controller's MIDI output (LED feedback): records what was sent."""

    def __init__(self) -> None:
        self.sent = []

    def send(self, msg) -> None:
        self.sent.append(msg)

    def close(self) -> None:
        pass


def midi_port(controls, controls_toml: str, tmp_path: Path, led: str = ""):
    path = tmp_path / "m.toml"
    path.write_text(f'[device]\nmatch = "test"\n{led}\n' + controls_toml)
    midi = MidiControl(controls, ("test",), path)
    port = _Port(midi, "test port", midi.fixed_mapping)
    port.output = LedOutput()
    midi.ports[port.name] = port
    return midi, port


def cc(n, v, ch=1):
    return mido.Message("control_change", channel=ch - 1, control=n, value=v)


def test_absolute_knobs_pick_up_the_value_before_they_move_it(tmp_path):
    c = demo_controls()
    midi, port = midi_port(c, '[[control]]\ntype="cc"\nnumber=0\ntarget="feedback.amount"\nrange=[0.0, 1.0]', tmp_path)
    # feedback.amount is 0.55: a knob at the bottom does nothing until it reaches the value
    midi._handle(port, cc(0, 0))
    midi._handle(port, cc(0, 40))
    assert c.params.target("feedback.amount") == 0.55 and c.counters.get("midi_pickup_wait") == 2
    midi._handle(port, cc(0, 80))  # crossed 0.55 on the way: picked up
    assert c.params.target("feedback.amount") == pytest.approx(80 / 127)
    midi._handle(port, cc(0, 20))
    assert c.params.target("feedback.amount") == pytest.approx(20 / 127)
    # a scene moves it away: the knob has to meet the new value again
    c.params.set("feedback.amount", 0.9, immediate=True, source="scene")
    midi._handle(port, cc(0, 25))
    assert c.params.target("feedback.amount") == 0.9
    midi._handle(port, cc(0, 115))  # within 3 % of 0.9
    assert c.params.target("feedback.amount") == pytest.approx(115 / 127)


def test_a_knob_soft_takeover_holds_back_is_shown_against_the_value_until_it_picks_it_up(tmp_path, caplog):
    caplog.set_level("INFO", logger="vj")
    c = demo_controls()
    midi, port = midi_port(c, '[[control]]\ntype="cc"\nnumber=0\ntarget="feedback.amount"\nrange=[0.0, 1.0]', tmp_path)
    midi._handle(port, cc(0, 0))
    midi._handle(port, cc(0, 13))
    c.apply_pending()
    assert c.waiting_controls() == ["feedback.amount: MIDI control at 0.102, value 0.55; turn it up to pick it up"]
    assert sum("feedback.amount waits for its control" in r.getMessage() for r in caplog.records) == 1  # once a wait
    assert c.waiting_controls(now=time.monotonic() + 60) == []  # a knob left alone: said for a while, not for ever
    midi._handle(port, cc(0, 127))
    midi._handle(port, cc(0, 90))  # passed the value: picked up, and the line goes
    c.apply_pending()
    assert c.waiting_controls() == [] and c.params.target("feedback.amount") == pytest.approx(90 / 127)


def test_a_tempo_fader_holds_the_tempo_and_a_set_mido_backend_wins(tmp_path, monkeypatch):
    from vj.control.midi import backend_name

    c = demo_controls()
    midi, port = midi_port(c, '[[control]]\ntype="cc"\nnumber=7\naction="bpm"\nrange=[100.0, 200.0]\n'
                              '[[control]]\ntype="cc"\nnumber=8\naction="bpm"\nmode="relative"\nstep=0.01\n'
                              'range=[100.0, 200.0]', tmp_path)
    midi._handle(port, cc(7, 127))
    c.apply_pending()
    assert c.hand.bpm == 200.0
    c.bpm = 200.0  # what the show clock then says
    midi._handle(port, cc(8, 1))
    midi._handle(port, cc(8, 1))  # two detents up, 1 % of 100 BPM each
    c.apply_pending()
    assert c.hand.bpm == pytest.approx(202.0)
    with pytest.raises(ConfigError, match="a knob, fader or encoder"):
        load_mapping_text('[device]\nmatch="x"\n[[control]]\ntype="note"\nnumber=1\naction="bpm"', tmp_path)
    monkeypatch.setenv("MIDO_BACKEND", "mido.backends.rtmidi/LINUX_ALSA")
    assert backend_name() == "mido.backends.rtmidi/LINUX_ALSA"


def load_mapping_text(text: str, tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return load_mapping(path)


def test_jump_takeover_and_14_bit_cc(tmp_path):
    c = demo_controls()
    midi, port = midi_port(c, '[[control]]\ntype="cc14"\nnumber=1\ntarget="feedback.zoom"\ntakeover="jump"\n'
                              '[[control]]\ntype="pitchbend"\nchannel=2\ntarget="feedback.rotate"\ntakeover="jump"', tmp_path)
    midi._handle(port, cc(1, 64))  # MSB
    midi._handle(port, cc(33, 127))  # LSB: 64 * 128 + 127 of 16383
    spec = c.params.spec("feedback.zoom")
    assert c.params.target("feedback.zoom") == pytest.approx(spec.denorm((64 * 128 + 127) / 16383))
    midi._handle(port, mido.Message("pitchwheel", channel=1, pitch=8191))
    assert c.params.target("feedback.rotate") == pytest.approx(10.0)


@pytest.mark.parametrize("encoding,up,down", [("twos", 3, 125), ("offset", 67, 61), ("signed", 3, 67)])
def test_relative_encoders(tmp_path, encoding, up, down):
    c = demo_controls()
    midi, port = midi_port(c, f'[[control]]\ntype="cc"\nnumber=5\ntarget="fx.kaleido.sides"\nmode="relative"\n'
                              f'encoding="{encoding}"\nstep=0.01', tmp_path)
    step = 0.01 * (24 - 2)
    midi._handle(port, cc(5, up))
    assert c.params.target("fx.kaleido.sides") == pytest.approx(6 + 3 * step)
    midi._handle(port, cc(5, down))
    assert c.params.target("fx.kaleido.sides") == pytest.approx(6)


def test_toggle_momentary_and_trigger_pads_light_their_leds(tmp_path):
    c = demo_controls()
    midi, port = midi_port(c, '[[control]]\ntype="note"\nnumber=8\ntarget="fx.kaleido.amount"\nrange=[0.0, 1.0]\nmode="toggle"\n'
                              '[[control]]\ntype="note"\nnumber=9\ntarget="noise.kick"\nrange=[0.0, 1.0]\nmode="momentary"\n'
                              '[[control]]\ntype="note"\nnumber=10\ntarget="feedback.amount"\nrange=[0.0, 0.9]\nmode="trigger"',
                           tmp_path, led="led_feedback = true\nled_on = 21\nled_channel = 7")
    on = lambda n, v=100: mido.Message("note_on", note=n, velocity=v)  # noqa: E731
    off = lambda n: mido.Message("note_off", note=n)  # noqa: E731
    c.params.set("fx.kaleido.amount", 0.0)  # off (the demo starts it at 0.8: on, nearer the top)
    midi._handle(port, on(8))
    midi._handle(port, off(8))
    assert c.params.target("fx.kaleido.amount") == 1.0
    midi._handle(port, on(8))
    assert c.params.target("fx.kaleido.amount") == 0.0
    c.params.set("fx.kaleido.amount", 1.0, source="osc")  # switched on elsewhere (OSC, a scene)
    midi._handle(port, off(8))
    midi._handle(port, on(8))  # one press switches it off: the pad follows the parameter
    assert c.params.target("fx.kaleido.amount") == 0.0
    midi._handle(port, on(9))
    assert c.params.target("noise.kick") == 1.0
    midi._handle(port, on(9, 0))  # note on with velocity 0 is a release
    assert c.params.target("noise.kick") == 0.0
    midi._handle(port, on(10))
    midi._handle(port, off(10))
    assert c.params.target("feedback.amount") == 0.9
    leds = [(m.channel, m.note, m.velocity) for m in port.output.sent]
    assert leds == [(6, 8, 21), (6, 8, 0), (6, 8, 0), (6, 9, 21), (6, 9, 0)]
    c.params.set("fx.kaleido.amount", 1.0, source="osc")  # moved elsewhere: the light follows
    midi.sync_leds()
    midi.sync_leds()  # said once, not every tick
    assert [(m.channel, m.note, m.velocity) for m in port.output.sent][len(leds):] == [(6, 8, 21)]


def test_program_change_and_pad_actions_select_scenes_and_tap(tmp_path):
    c = demo_controls()
    midi, port = midi_port(c, '[[control]]\ntype="program"\naction="scene"\n'
                              '[[control]]\ntype="note"\nnumber=1\naction="scene:storm"\n'
                              '[[control]]\ntype="note"\nnumber=2\naction="next-scene"\n'
                              '[[control]]\ntype="note"\nnumber=3\naction="tap"', tmp_path)
    midi._handle(port, mido.Message("program_change", program=2))
    c.apply_pending()
    assert c.scene == "drowned"
    midi._handle(port, mido.Message("note_on", note=2, velocity=100))
    c.apply_pending()
    assert c.scene == "burning"
    midi._handle(port, mido.Message("note_on", note=1, velocity=100))
    c.apply_pending()
    assert c.scene == "storm"
    taps = []

    class Audio:  # a sound input's beat tracker, as far as a tap goes
        analyzer = "the beat tracker"

        def tap(self, when=None):
            taps.append(when)

    midi._handle(port, mido.Message("note_on", note=3, velocity=100))
    c.apply_pending(Audio())
    assert len(taps) == 1 and c.hand.by_tracker
    for _ in range(2):  # without a sound input, the show's own tap tempo counts them
        midi._handle(port, mido.Message("note_on", note=3, velocity=100))
        c.apply_pending()
    assert not c.hand.by_tracker and c.hand.bpm is not None and 20 <= c.hand.bpm <= 400


def test_scene_pads_in_the_control_process_post_through_its_sink(tmp_path):
    """The same pads against the control process's StoreSink: what they ask goes up the pipe."""
    from vj.control.shared import SharedStore
    from vj.control.store_sink import StoreSink
    from vj.core.messages import Action

    c = demo_controls()
    store, sent = SharedStore(), []
    try:
        specs = tuple(enumerate(c.params.spec(n) for n in c.params.names()))
        sink = StoreSink(store, sent.append, specs, tuple(c.sources), tuple(c.scene_names()), tuple(c.prompts), 1)
        sink.show_state(tuple(c.prompts), "storm", 1)
        midi, port = midi_port(sink, '[[control]]\ntype="note"\nnumber=2\naction="next-scene"\n'
                                     '[[control]]\ntype="note"\nnumber=4\naction="prev-scene"\n', tmp_path)
        midi._handle(port, mido.Message("note_on", note=2, velocity=100))
        midi._handle(port, mido.Message("note_on", note=4, velocity=100))
        storm = c.scene_names().index("storm")
        assert sent == [Action("scene_next", (), "midi"), Action("scene", ((storm - 1) % len(c.scenes),), "midi")]
        for a in sent:  # and the show does them
            c.post(a.kind, *a.args, origin=a.origin)
        c.recall("storm")
        c.apply_pending()
        assert c.scene == c.scene_names()[(storm - 1) % len(c.scenes)]
        assert c.counters.get("bad_actions") == 0
    finally:
        store.close()


def test_every_cc_and_note_is_a_modulation_source_and_unmapped_is_counted(tmp_path):
    c = demo_controls()
    midi, port = midi_port(c, "", tmp_path)
    midi._handle(port, cc(74, 127, ch=3))
    midi._handle(port, mido.Message("note_on", channel=9, note=36, velocity=127))
    values, events = c.modulators.controls.read()
    assert values["midi.3.cc.74"] == 1.0 and values["midi.10.note.36"] == 1.0 and "midi.10.note.36" in events
    assert c.counters.get("midi_unmapped") == 2
    midi._handle(port, mido.Message("sysex", data=[1, 2, 3]))  # nothing to map, nothing breaks
    assert c.counters.get("midi_errors") == 0


def test_midi_clock_gives_tempo_and_beats():
    now = [100.0]
    clock = MidiClock(now=lambda: now[0])  # the ticks' times exactly: a busy machine cannot skew them
    assert clock.beats() is None
    clock.message("start")
    for i in range(48):  # two beats at 120 BPM: a tick every 1/48 s
        now[0] = 100.0 + i / 48
        clock.message("clock")
    assert clock.bpm == pytest.approx(120)
    assert clock.beats() == pytest.approx(2.0)
    now[0] += 0.6
    assert clock.beats() is None  # no tick for over half a second: the clock has stopped
    now[0] -= 0.6
    clock.message("stop")
    assert clock.beats() is None
    clock.message("continue")
    assert clock.running


def test_learn_appends_the_binding_to_the_users_mapping(tmp_path, monkeypatch):
    monkeypatch.setenv("VJ_MAPPINGS", str(tmp_path / "mine"))
    c = demo_controls()
    midi, port = midi_port(c, '[[control]]\ntype="cc"\nnumber=0\ntarget="feedback.amount"\nrange=[0.1, 0.9]\n'
                              'takeover="jump"', tmp_path)
    midi.learn("noise.walk")
    midi._handle(port, cc(21, 10))
    path = tmp_path / "mine" / "test.toml"
    m = load_mapping(path)
    learned = [x for x in m.controls if x.target == "noise.walk"]
    assert learned and (learned[0].type, learned[0].number) == ("cc", 21)
    kept = [x for x in m.controls if x.target == "feedback.amount"]
    assert kept[0].range == (0.1, 0.9) and kept[0].takeover == "jump"  # the rest of the mapping is kept
    midi._handle(port, cc(21, 127))  # bound from now on (through its pickup)
    midi._handle(port, cc(21, 0))
    assert c.params.target("noise.walk") == 0.0
    # learning the same knob for another parameter moves the binding, not duplicates it
    midi.learn("feedback.zoom")
    midi._handle(port, cc(21, 5))
    m = load_mapping(path)
    assert [x.target for x in m.controls if x.number == 21] == ["feedback.zoom"]


@pytest.mark.parametrize("port, device", [
    ("RtMidiOut Client:qa-knobs 130:0", "qa-knobs"),  # a virtual port made by a program
    ("nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0", "nanoKONTROL2"),  # ALSA
    ("a2j:nanoKONTROL2 [20] (capture): nanoKONTROL2 MIDI 1", "nanoKONTROL2"),  # JACK through a2j
    ("APC mini mk2:APC mini mk2 Control 24:0", "APC mini mk2"),
])
def test_a_learned_mapping_matches_the_controller_not_the_library_or_the_bridge(port, device, tmp_path, monkeypatch):
    from vj.control.midi import device_name
    from vj.control.mapping import load_mapping

    assert device_name(port) == device
    monkeypatch.setenv("VJ_MAPPINGS", str(tmp_path))
    m = load_mapping(write_learned(port, None, Control("cc", 1, 7, target="noise.walk")))
    assert m.match == device and m.match in port


def test_write_learned_copies_a_shipped_mapping_first(tmp_path, monkeypatch):
    monkeypatch.setenv("VJ_MAPPINGS", str(tmp_path))
    shipped = load_mapping(ROOT / "mappings" / "korg-nanokontrol2.toml")
    path = write_learned("nanoKONTROL2:nanoKONTROL2 _ CTRL", shipped, Control("cc", 1, 99, target="noise.walk"))
    m = load_mapping(path)
    assert path.parent == tmp_path and len(m.controls) == len(shipped.controls) + 1
    assert (ROOT / "mappings" / "korg-nanokontrol2.toml").read_text() == shipped.path.read_text()


def test_the_strict_packet_check_refuses_what_python_osc_would_guess_at():
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder

    from vj.control.osc_check import packet_ok

    def msg(address, *args):
        return build_message(address, args)

    full = msg("/x", "hello", 3, b"blob!", True, None, 2**40, 1.5)
    assert packet_ok(full.dgram) and packet_ok(msg("/a").dgram)
    # cut anywhere, it is refused (except right after the address: a message without arguments)
    assert [n for n in range(1, len(full.dgram)) if packet_ok(full.dgram[:n])] == [4]
    bundle = OscBundleBuilder(IMMEDIATELY)
    bundle.add_content(full)
    bundle.add_content(msg("/b", 1.0))
    outer = OscBundleBuilder(IMMEDIATELY)
    outer.add_content(bundle.build())
    d = outer.build().dgram
    assert packet_ok(d) and not packet_ok(d[:-4]) and not packet_ok(d + b"\0\0\0\0")
    assert not packet_ok(b"/x\0\0,b\0\0" + (-4).to_bytes(4, "big", signed=True))  # a negative blob size
    assert not packet_ok(b"/x\0\0,Q\0\0")  # a type tag nobody knows


def test_a_burst_keeps_only_the_newest_good_value_per_address():
    from vj.control.osc import OscServer

    def msg(address, *args):
        return build_message(address, args).dgram

    c = demo_controls()
    server = OscServer(OscRouter(c), "127.0.0.1", 0)
    try:
        me = ("127.0.0.1", 5555)
        server._serve_batch([(msg("/vj/param/feedback.amount", v), me) for v in (0.1, 0.2, 0.3)])
        assert c.params.target("feedback.amount") == pytest.approx(0.3)
        assert c.counters.get("osc_coalesced") == 2 and c.counters.get("osc_params") == 1
        # a bad message after a good one never hides it
        server._serve_batch([(msg("/vj/param/feedback.amount", 0.4), me),
                             (msg("/vj/param/feedback.amount", "junk"), me),
                             (msg("/vj/param/feedback.amount", float("nan")), me)])
        assert c.params.target("feedback.amount") == pytest.approx(0.4)
        assert c.counters.get("osc_bad_args") == 2 and c.counters.get("osc_coalesced") == 2
    finally:
        server.stop()
