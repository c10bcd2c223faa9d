"""MIDI through a real JACK server (dummy backend): a controller played by another process through
a virtual JACK MIDI port, into the control process as `vj run --midi NAME` starts it."""

import json
import re
import socket
import subprocess
import sys
import time

import pytest

from vj import assemble
from vj.show.setfile import load_set
from vj.control.mapping import load_mapping
from vj.control.osc import build_message
from vj.control.process import ControlProcess
from vj.resources import find_set

from helpers import ROOT, Jack, wait_until

JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"

# A stand-in for the hardware controller (the only fake here): a real JACK MIDI port owned by
# another process, which plays what it reads on stdin, one JSON list of messages per line.
CONTROLLER = r"""
import json, sys, time
import mido
be = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
out = be.open_output("ctrl", virtual=True, client_name="fakectl")
leds = []  # what the show sends back to light the pads
inp = be.open_input("leds", virtual=True, client_name="fakectl-leds", callback=lambda m: leds.append(m.bytes()))
print("ready", flush=True)
for line in sys.stdin:
    for m in json.loads(line):
        if m[0] == "sleep":
            time.sleep(m[1])
        elif m[0] == "leds":
            print(json.dumps(leds), flush=True)
        else:
            out.send(mido.Message(m[0], **m[1]))
    print("sent", flush=True)
"""

MAPPING = """
[device]
match = "fakectl"
led_feedback = true
led_on = 21
led_channel = 7

[[control]]
type = "cc"
channel = 1
number = 0
target = "feedback.amount"
takeover = "jump"

[[control]]
type = "cc14"
channel = 1
number = 1
target = "feedback.zoom"
takeover = "jump"

[[control]]
type = "note"
channel = 1
number = 36
target = "fx.kaleido.amount"
range = [0.0, 1.0]
mode = "toggle"

[[control]]
type = "pitchbend"
channel = 2
target = "feedback.rotate"
takeover = "jump"

[[control]]
type = "program"
channel = 1
action = "scene"

[[control]]
type = "note"
channel = 1
number = 40
action = "scene:storm"

[[control]]
type = "note"
channel = 1
number = 41
action = "scene:2"

[[control]]
type = "cc"
channel = 1
number = 16
target = "fx.kaleido.sides"
mode = "relative"
encoding = "twos"
step = 0.05
"""


class Controller:
    def __init__(self, env) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", CONTROLLER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
        assert self.proc.stdout.readline().strip() == "ready"

    def send(self, *messages) -> None:
        self.proc.stdin.write(json.dumps(messages) + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "sent"

    def leds(self) -> list:
        self.proc.stdin.write(json.dumps([["leds"]]) + "\n")
        self.proc.stdin.flush()
        got = json.loads(self.proc.stdout.readline())
        assert self.proc.stdout.readline().strip() == "sent"
        return got

    def unplug(self) -> None:
        """The device leaves as a USB controller does: its JACK client closes and its port goes at once
        (a killed client's port would linger until the server's -t timeout, 10 s in tests/helpers.Jack)."""
        self.proc.stdin.close()  # the stand-in's loop ends, its ports close with it
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def cc(n, v, ch=1):
    return ["control_change", {"channel": ch - 1, "control": n, "value": v}]


@pytest.fixture
def rig(tmp_path, monkeypatch):
    """A JACK server, the controller's process, and the demo set's controls with a control process
    listening to it (MIDI and OSC) — everything `vj run --midi fakectl` sets up."""
    jack = Jack(period=64)
    jack.start()
    try:
        yield from _rig(jack, tmp_path, monkeypatch)
    finally:  # also when the setup fails: a server left behind would answer the next test's clients
        jack.stop()


def _rig(jack, tmp_path, monkeypatch):
    for k in ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION"):
        monkeypatch.setenv(k, jack.env[k])
    monkeypatch.setenv("MIDO_BACKEND", JACK_MIDI)
    monkeypatch.setenv("VJ_MAPPINGS", str(tmp_path / "mine"))
    (tmp_path / "fake.toml").write_text(MAPPING)
    env = {**jack.env, "MIDO_BACKEND": JACK_MIDI}
    ctl = Controller(env)
    c = assemble.build_controls(load_set(find_set("demo")), 1)
    c.params.set("fx.kaleido.amount", 0.0)  # the toggle pad's effect starts off (a toggle follows its parameter)
    proc = ControlProcess(c, ("127.0.0.1", 0, ()), (("fakectl",), tmp_path / "fake.toml"))
    proc.start()
    c.listen_to(proc)
    # the controller's port connected to ours before anything is played into it (JACK connects a
    # moment after the port opens: a message sent meanwhile is lost)
    deadline = time.monotonic() + 10
    while "fakectl:ctrl" not in _connections(jack.env) and time.monotonic() < deadline:
        time.sleep(0.05)

    class Rig:
        pass

    r = Rig()
    r.jack, r.ctl, r.c, r.proc, r.env, r.tmp = jack, ctl, c, proc, env, tmp_path
    r.until = lambda cond, timeout=20.0: frames_until(c, cond, timeout)
    try:
        yield r
    finally:
        proc.stop()
        if r.ctl.proc.poll() is None:
            r.ctl.unplug()


def frames_until(c, cond, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c.apply_pending()
        if cond():
            return True
        time.sleep(0.005)
    return False


def test_controller_messages_move_parameters_through_the_mapping(rig):
    c = rig.c
    assert rig.proc.info.midi == ("fakectl:ctrl",)
    rig.ctl.send(cc(0, 127), cc(1, 127), cc(33, 127), ["note_on", {"note": 36, "velocity": 100}],
                 ["pitchwheel", {"channel": 1, "pitch": -8192}], cc(16, 2), cc(16, 2))
    assert rig.until(lambda: c.params.target("feedback.rotate") == -10.0 and c.params.target("fx.kaleido.sides") > 6)
    assert c.params.target("feedback.amount") == 0.99
    assert c.params.target("feedback.zoom") == 1.25  # 14 bits: 16383 of 16383
    assert c.params.target("fx.kaleido.amount") == 1.0  # toggled on
    assert c.params.target("fx.kaleido.sides") == pytest.approx(6 + 4 * 0.05 * 22)
    assert c.params.held("feedback.amount")  # a hand: the routes wait
    rig.ctl.send(["program_change", {"program": 1}])
    assert rig.until(lambda: c.scene == "storm")
    # every CC is also a modulation source: route an unmapped knob live (as /vj/route does)
    from vj.control.routes import Route

    c.post("route_add", Route("midi.1.cc.74", "noise.kick", 1.0))
    c.apply_pending()
    rig.ctl.send(cc(74, 127))
    assert rig.until(lambda: c.modulators.values(0.0, 0.0, {}).get("midi.1.cc.74") == 1.0)
    counters = rig.proc.store.counter_dict()
    assert counters["midi_messages"] >= 9 and counters.get("midi_errors", 0) == 0


def test_toggles_light_the_controllers_pads_through_its_output_port(rig):
    deadline = time.monotonic() + 10
    while "fakectl-leds" not in _connections(rig.jack.env) and time.monotonic() < deadline:
        time.sleep(0.05)
    rig.ctl.send(["note_on", {"note": 36, "velocity": 100}], ["note_off", {"note": 36}])
    assert rig.until(lambda: rig.c.params.target("fx.kaleido.amount") == 1.0)
    rig.ctl.send(["note_on", {"note": 36, "velocity": 100}])
    assert rig.until(lambda: rig.c.params.target("fx.kaleido.amount") == 0.0)
    lit, dark = [0x96, 36, 21], [0x96, 36, 0]  # note on, channel 7: green, off

    def pad():  # the toggle's pad (the scene pads have their own test)
        return [m for m in rig.ctl.leds() if m[1] == 36]

    deadline = time.monotonic() + 5
    while not (lit in pad() and pad()[-1] == dark) and time.monotonic() < deadline:
        time.sleep(0.05)
    leds = pad()
    first = leds.index(lit)
    # dark when the show opened the port (if that made it), lit green by the first press, dark again
    assert set(map(tuple, leds[:first])) <= {tuple(dark)} and leds[first:] == [lit, dark]
    rig.c.params.set("fx.kaleido.amount", 1.0, source="osc")  # moved elsewhere: the light follows
    deadline = time.monotonic() + 5
    while pad()[-1] != lit and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pad()[first:] == [lit, dark, lit]


def test_scene_pads_light_the_scene_that_plays(rig):
    deadline = time.monotonic() + 10
    while "fakectl-leds" not in _connections(rig.jack.env) and time.monotonic() < deadline:
        time.sleep(0.05)
    rig.ctl.send(["note_on", {"note": 40, "velocity": 100}], ["note_off", {"note": 40}])
    assert rig.until(lambda: rig.c.scene == "storm")

    def lit():
        """The newest light of each scene pad (note on, channel 7)."""
        last = {}
        for status, note, vel in rig.ctl.leds():
            if status == 0x96 and note in (40, 41):
                last[note] = vel
        return last

    deadline = time.monotonic() + 5
    while lit() != {40: 21, 41: 0} and time.monotonic() < deadline:
        rig.c.apply_pending()  # the show's frames: they tell the control process which scene plays
        time.sleep(0.05)
    assert lit() == {40: 21, 41: 0}
    rig.ctl.send(["note_on", {"note": 41, "velocity": 100}])  # scene 2 by its index: "drowned"
    assert rig.until(lambda: rig.c.scene == "drowned")
    deadline = time.monotonic() + 5
    while lit() != {40: 0, 41: 21} and time.monotonic() < deadline:
        rig.c.apply_pending()
        time.sleep(0.05)
    assert lit() == {40: 0, 41: 21}


def _connections(env) -> str:
    """The JACK ports our LED output is connected to (jack_lsp -c lists each port's connections)."""
    out = subprocess.run(["jack_lsp", "-c"], env=env, capture_output=True, text=True).stdout
    return "".join(line for line in out.splitlines(True) if line.startswith("   "))


def test_midi_clock_gives_the_show_its_tempo_and_beat(rig):
    tick = 60 / 126 / 24  # 126 BPM
    rig.ctl.send(["start", {}], *([["clock", {}], ["sleep", tick]] * 96))  # four beats
    # sent is not yet received: the last ticks may still be on their way through JACK
    # JACK without real-time scheduling may drop a tick on a busy machine: wait until they stop coming
    assert rig.until(lambda: rig.proc.store.clock[1] >= 90, timeout=10)
    seen = None
    while seen != rig.proc.store.clock[1]:
        seen = rig.proc.store.clock[1]
        time.sleep(0.3)
    running, ticks, last, bpm = rig.proc.store.clock
    assert running == 1.0 and 90 <= ticks <= 96 and bpm == pytest.approx(126, rel=0.05)
    assert rig.proc.beats(now=last + 0.1) == pytest.approx(ticks / 24)  # as the show reads it just after the tick
    assert rig.proc.beats(now=last + 1.0) is None  # a clock gone quiet is no clock
    rig.ctl.send(["stop", {}])
    assert rig.until(lambda: rig.proc.beats() is None, timeout=2)


def test_learn_over_osc_writes_the_mapping_and_binds_the_knob(rig):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(build_message("/vj/learn", ["noise.walk"]).dgram, ("127.0.0.1", rig.proc.info.osc[1]))
    assert rig.until(lambda: rig.proc.store.counter_dict().get("midi_learn_armed") == 1, timeout=10)
    rig.ctl.send(cc(21, 5))  # the control the performer moves
    path = rig.tmp / "mine" / "fakectl.toml"
    assert rig.until(lambda: rig.proc.store.counter_dict().get("midi_learned") == 1, timeout=5)
    learned = [x for x in load_mapping(path).controls if x.target == "noise.walk"]
    assert [(x.type, x.channel, x.number) for x in learned] == [("cc", 1, 21)]
    assert len(load_mapping(path).controls) == 9  # the mapping in use, plus the new binding
    rig.ctl.send(cc(21, 0), cc(21, 64))  # picks up near 3 of 0..60, then moves it
    assert rig.until(lambda: rig.c.params.target("noise.walk") == pytest.approx(60 * 64 / 127))


def test_an_unplugged_controller_is_noticed_within_two_seconds_and_comes_back(rig):
    rig.ctl.unplug()
    t0 = time.monotonic()
    assert rig.until(lambda: "UNPLUGGED" in rig.proc.status(), timeout=5)
    assert time.monotonic() - t0 <= 2.0, "hot-plug took longer than 2 s"
    rig.ctl = Controller(rig.env)  # plugged back in
    assert rig.until(lambda: "UNPLUGGED" not in rig.proc.status(), timeout=5)
    rig.ctl.send(cc(0, 0))
    assert rig.until(lambda: rig.c.params.target("feedback.amount") == 0.0)
    assert rig.proc.store.counter_dict()["midi_ports_open"] == 1 and rig.proc.restarts == 0


def test_vj_run_midi_feeds_parameter_changes_back_over_osc(tmp_path):
    jack = Jack(period=64)
    jack.start()
    env = {**jack.env, "MIDO_BACKEND": JACK_MIDI, "VJ_MAPPINGS": str(tmp_path / "mine")}
    (tmp_path / "fake.toml").write_text(MAPPING)
    ctl = Controller(env)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        out.bind(("127.0.0.1", 0))
        out.settimeout(1.0)
        show = subprocess.Popen([sys.executable, "-m", "vj", "run", "--headless", "--duration", "8", "--model",
                                 "tiny-random", "--size", "160x96", "--osc-port", "0", "--midi", "fakectl", "--mapping",
                                 str(tmp_path / "fake.toml"), "--osc-out", f"127.0.0.1:{out.getsockname()[1]}"],
                                stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        try:
            lines = []
            while True:
                line = show.stderr.readline()
                lines.append(line)
                if not line or "playing" in line:
                    break
            assert any("MIDI: fakectl:ctrl" in x for x in lines), "".join(lines)
            # JACK connects the controller to the show's port a moment after it opens: a message sent
            # before that is lost (as the rig fixture waits)
            wait_until("the controller connected to the show", lambda: "fakectl:ctrl" in _connections(jack.env), 20)
            ctl.send(cc(0, 0))
            from pythonosc.osc_packet import OscPacket

            fed_back = None
            deadline = time.monotonic() + 10
            while fed_back is None and time.monotonic() < deadline:
                try:
                    data, _ = out.recvfrom(65536)
                except socket.timeout:
                    continue
                for m in OscPacket(data).messages:
                    if m.message.address == "/vj/param/feedback.amount":
                        fed_back = m.message.params[0]
            err = "".join(lines) + show.stderr.read()
            assert show.wait(60) == 0, err
        finally:
            show.kill()
            ctl.unplug()
            jack.stop()
    assert fed_back == 0.0, err
    assert re.search(r"midi \d+ msgs", err), err
