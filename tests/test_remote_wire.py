"""The remote generator's parts that need no network: the wire format (everything a snapshot
carries comes back whole; every malformed message is refused by kind), the order gate and the
stagger of alternating boxes, and how a set and the command line name a box and its key."""

from __future__ import annotations

import json
from types import MappingProxyType

import numpy as np
import pytest

from vj.core.boxes import pair_keys, parse_boxes, parse_keys
from vj.core.errors import ConfigError
from vj.core.features import Features
from vj.core.snapshot import ClockState, Snapshot, TransitionState
from vj.remote import wire
from vj.remote.alternate import InOrder, Stagger
from vj.show.setfile import parse_set

KEY = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"


def _snap(i: int = 4) -> Snapshot:
    spectrum = np.linspace(0, 1, 64, dtype=np.float32)
    return Snapshot(i, 2.5, MappingProxyType({"prompt.1.weight": 0.75, "noise.phase": 0.125, "lora.ink.weight": 1.5}),
                    ("a {red|blue} ring", "fog"), 11, Features(level=0.5, bass_pulse=0.9, onset=True, spectrum=spectrum),
                    (12, 13), TransitionState(3, 0.25), ClockState(128.0, 17.5, "link", 4, 2, ""))


def test_a_snapshot_travels_whole():
    d = wire.Decoder()
    msg = d.decode(wire.SnapEncoder().encode("s1", 9, _snap()))
    assert isinstance(msg, wire.Snap) and msg.seq == 9 and msg.session == "s1"
    s, want = msg.snapshot, _snap()
    assert dict(s.values) == dict(want.values)
    assert (s.index, s.t, s.prompts, s.seed, s.seeds, s.transition, s.clock) == (
        want.index, want.t, want.prompts, want.seed, want.seeds, want.transition, want.clock)
    assert s.audio.onset and s.audio.bass_pulse == 0.9 and np.array_equal(s.audio.spectrum, want.audio.spectrum)


def test_settings_and_frames_travel():
    d = wire.Decoder()
    s = wire.Settings(steps=2, size=(512, 288), seed=7, scheduler="lcm", negative="blur", input="pushed", deep_cache=2,
                      stream_batch=True, loras=("ink",))
    assert d.decode(wire.hello("s", s, "jpeg")) == wire.Hello("s", s, "jpeg")
    f = d.decode(wire.frame("s", 3, 40, 1.5, 12.0, 4, 2, "raw", 8, b"\x01" * 24))
    assert (f.index, f.t, f.width, f.height, f.input, bytes(f.data)) == (40, 1.5, 4, 2, 8, b"\x01" * 24)


def _bad_messages() -> list[tuple[str, list[bytes]]]:
    good = wire.SnapEncoder().encode("s", 1, _snap())
    head = json.loads(good[0])

    def snap(**change):
        return [json.dumps({**head, **change}).encode()] + good[1:]

    return [
        ("empty", []),
        ("not JSON", [b"\x00\xff"]),
        ("not JSON", [b"[" * 20000 + b"]" * 20000]),
        ("too large", [b" " * (wire.MAX_HEADER + 1)]),
        ("wrong type", [b"[1, 2]"]),
        ("wrong version", [b'{"v": 2, "kind": "ping"}']),
        ("not finite", [b'{"v": 1, "kind": "ping", "session": "s", "t": Infinity}']),
        ("unknown kind", [b'{"v": 1, "kind": "delete"}']),
        ("wrong parts", good[:2]),
        ("missing field", [b'{"v": 1, "kind": "ping", "session": "s"}']),
        ("unknown field", [b'{"v": 1, "kind": "bye", "session": "s", "rm": 1}']),
        ("wrong type", snap(index=1.5)),
        ("wrong type", snap(seed=True)),
        ("out of range", snap(t=1e300)),
        ("too large", snap(prompts=["p"] * 100)),
        ("wrong type", snap(transition=[1])),
        ("out of range", snap(transition=[1, 2.0])),
        ("wrong type", snap(audio={**head["audio"], "level": "loud"})),
        ("wrong size", good[:2] + [good[2][:-8]] + good[3:]),
        ("not finite", good[:2] + [np.full(3, np.nan).tobytes()] + good[3:]),
        ("not finite", good[:3] + [np.full(64, np.inf, np.float32).tobytes()]),
        ("out of range", [good[0], b"a\na\nb"] + good[2:]),
        ("wrong size", wire.frame("s", 1, 1, 0.0, 1.0, 4, 4, "raw", None, b"\x00" * 47)),
        ("too large", wire.frame("s", 1, 1, 0.0, 1.0, 4, 4, "jpeg", None, b"\x00" * 9000)),
        ("out of range", [json.dumps({"v": 1, "kind": "welcome", "session": "s", "boot": "b", "label": "x",
                                      "size": [0, 10], "codec": "jpeg"}).encode()]),
        ("out of range", [json.dumps({"v": 1, "kind": "credit", "session": "s", "pause": -1}).encode()]),
    ]


@pytest.mark.parametrize("kind,parts", _bad_messages(), ids=[k for k, _ in _bad_messages()])
def test_every_malformed_message_is_refused_by_kind(kind, parts):
    with pytest.raises(wire.BadMessage) as e:
        wire.Decoder().decode(parts)
    assert e.value.kind == kind, e.value.detail


def test_frames_are_admitted_in_snapshot_order_only():
    gate = InOrder()
    assert [gate.admit(i) for i in (1, 3, 2, 3, 7, 5, 8)] == [True, True, False, False, True, False, True]
    assert gate.dropped == 3


def test_two_boxes_in_step_are_moved_half_a_frame_apart():
    st = Stagger(settle_frames=1)
    period = 0.1
    # both land together: the second is asked to pause about half a frame time
    assert st.arrived("a", 0.0, ["b"], period) == 0.0
    pause = st.arrived("b", 0.001, ["a"], period)
    assert pause == pytest.approx(period / 2 - 0.001, abs=0.005)
    assert st.arrived("b", period + 0.001, ["a"], period) == 0.0  # settling: not asked again at once
    # evenly spread: nothing to do, frame after frame
    st2 = Stagger()
    for k in range(6):
        assert st2.arrived("a", k * period, ["b"], period) == 0.0 or k == 0
        assert st2.arrived("b", k * period + period / 2, ["a"], period) == 0.0
    # three boxes: a third of a frame time apart
    st3 = Stagger()
    st3.arrived("a", 0.0, ["b", "c"], period)
    st3.arrived("b", period / 3, ["a", "c"], period)
    assert st3.arrived("c", period / 3 + 0.002, ["a", "b"], period) == pytest.approx(period / 3 - 0.002, abs=0.005)
    st2.forget("a")
    assert st2.arrived("b", 10.0, [], period) == 0.0


def test_a_box_and_its_key_as_written():
    assert parse_boxes("10.0.0.5:9310", "w") == ("10.0.0.5:9310",)
    assert parse_boxes(["a:1", "b:2"], "w") == ("a:1", "b:2")
    assert parse_boxes("[::1]:9310,box:9311", "w") == ("[::1]:9310", "box:9311")
    for bad in ("box", "box:", ":9310", "box:99999", ["a:1", "a:1"], 5, []):
        with pytest.raises(ConfigError):
            parse_boxes(bad, "w")
    assert pair_keys(("a:1", "b:2"), (KEY,), "w") == (KEY, KEY)  # one key for every box
    with pytest.raises(ConfigError, match="2 boxes and 3 keys"):
        pair_keys(("a:1", "b:2"), (KEY,) * 3, "w")
    with pytest.raises(ConfigError, match="needs the box's key"):
        pair_keys(("a:1",), (), "w")
    with pytest.raises(ConfigError, match="not a box's key"):
        parse_keys("short", "w")


def test_a_set_names_its_boxes_in_its_generator_table():
    s = parse_set({"generator": {"model": "sd-turbo", "remote": ["10.0.0.5:9310", "10.0.0.6:9310"],
                                 "key": [KEY, KEY]}})
    assert s.remote == ("10.0.0.5:9310", "10.0.0.6:9310") and s.remote_keys == (KEY, KEY)
    with pytest.raises(ConfigError, match=r"\[generator\].*needs the box's key"):
        parse_set({"generator": {"remote": "10.0.0.5:9310"}})
    with pytest.raises(ConfigError, match="not HOST:PORT"):
        parse_set({"generator": {"remote": "10.0.0.5", "key": KEY}})
