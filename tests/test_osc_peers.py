"""OSC with real peers: liblo's oscsend and oscdump, a Pure Data patch run headless, python-osc.

The receiving side is what `vj run` runs: the set's controls and the control process (its own
OSC listener); a test "frame" is what the engine does before each snapshot (apply_pending pulls
the control store). The last test runs `vj run` itself."""

import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_packet import OscPacket

from vj import assemble
from vj.show.setfile import load_set
from vj.control.osc import build_message
from vj.control.process import ControlProcess
from vj.resources import find_set

from helpers import ROOT, wait_until


def tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is missing: `make setup` installs it (liblo-tools, puredata-core)")
    return exe


class Show:
    """The demo set's controls with a live control process listening on a free port."""

    def __init__(self, allow=()) -> None:
        self.c = assemble.build_controls(load_set(find_set("demo")), 1)
        self.proc = ControlProcess(self.c, ("127.0.0.1", 0, tuple(allow)), None)
        self.proc.start()
        self.c.listen_to(self.proc)
        self.port = self.proc.info.osc[1]

    def frames_until(self, cond, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.c.apply_pending()
            if cond():
                return True
            time.sleep(0.005)
        return False

    def target(self, name: str) -> float:
        return self.c.params.target(name)

    def counters(self) -> dict:
        return self.proc.store.counter_dict()

    def stop(self) -> None:
        self.proc.stop()


@pytest.fixture
def show():
    s = Show()
    yield s
    s.stop()


def osc(address: str, *args) -> bytes:
    return build_message(address, args).dgram


def oscsend(port: int, address: str, types: str = "", *args) -> None:
    subprocess.run([tool("oscsend"), "127.0.0.1", str(port), address, types, *map(str, args)], check=True, timeout=10)


def test_oscsend_drives_parameters_prompts_seed_and_scenes(show):
    oscsend(show.port, "/vj/param/feedback.rotate", "f", -2.5)
    oscsend(show.port, "/vj/param/noise.walk/norm", "f", 0.5)
    oscsend(show.port, "/vj/prompt/2", "s", "a cathedral of moths")
    oscsend(show.port, "/vj/prompt/2/weight", "f", 1.25)
    oscsend(show.port, "/vj/seed", "i", 99)
    assert show.frames_until(lambda: show.c.seed == 99 and show.target("prompt.2.weight") == 1.25)
    assert show.target("feedback.rotate") == -2.5 and show.target("noise.walk") == 30.0
    assert show.c.prompts[1] == "a cathedral of moths"
    assert show.c.params.held("feedback.rotate")  # a hand: the routes wait
    oscsend(show.port, "/vj/scene", "s", "storm")
    assert show.frames_until(lambda: show.c.scene == "storm")
    assert show.target("noise.walk") == 12.0
    oscsend(show.port, "/vj/scene", "i", 0)
    assert show.frames_until(lambda: show.c.scene == "calm")


def test_a_pure_data_patch_run_headless_drives_the_show(show):
    """The shipped example patch, told where to send and which controls to move with -send."""
    patch = ROOT / "mappings" / "osc" / "demontage-remote.pd"
    pd = subprocess.Popen([tool("pd"), "-nogui", "-noaudio", "-nomidi", "-open", str(patch), "-send",
                           f"vj-port {show.port}; vj-feedback.amount 0.3; vj-noise.kick -0.5; vj-scene 2; "
                           f"vj-prompt.2.weight 1.5"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ok = show.frames_until(lambda: show.c.scene == "drowned" and abs(show.target("prompt.2.weight") - 1.5) < 1e-3)
    finally:
        pd.kill()
        log = pd.communicate()[0]
    assert ok, f"Pd's messages never arrived; Pd said:\n{log}"
    assert show.target("feedback.amount") == pytest.approx(0.9)  # the scene came after the slider
    assert show.target("noise.kick") == pytest.approx(-0.5, abs=1e-3)
    assert show.counters().get("osc_messages", 0) == 4 and show.counters().get("osc_bad_args", 0) == 0


def test_vj_list_answers_python_osc_and_a_given_port(show):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)

    def collect(request: bytes) -> list:
        s.sendto(request, ("127.0.0.1", show.port))
        got = []
        while True:
            data, _ = s.recvfrom(65536)
            for m in OscPacket(data).messages:
                got.append((m.message.address, list(m.message.params)))
                if m.message.address.endswith("/end"):
                    return got

    items = collect(osc("/vj/list"))
    listed = {args[0]: args for address, args in items if address == "/vj/list/item"}
    n_params, n_prompts = len(show.c.params.names()), len(show.c.prompts)
    # each parameter plain and /norm; /vj/prompt, each slot, its weight and its resample; resample, scene,
    # scene/next, seed, tap, bpm, learn, grab; the source pattern; route and route/remove; list and status
    assert len(listed) == 2 * n_params + 1 + 3 * n_prompts + 8 + 1 + 2 + 2
    assert "/vj/grab" in listed
    assert listed["/vj/param/noise.walk"] == ["/vj/param/noise.walk", "f", 0.0, 60.0, 3.0]
    assert listed["/vj/prompt/1"][4] == show.c.prompts[0]
    # Max's udpsend and Pd's netsend send from a port nobody listens on: `/vj/list <port>`
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    other.settimeout(5)
    s.sendto(osc("/vj/list", other.getsockname()[1]), ("127.0.0.1", show.port))
    data, _ = other.recvfrom(65536)
    assert OscPacket(data).messages[0].message.address == "/vj/list/item"
    status = dict(tuple(args) for address, args in collect(osc("/vj/status")) if address == "/vj/status/item")
    assert status["osc_messages"] >= 2


SENDER = r"""
import socket, sys
from pythonosc.osc_message_builder import OscMessageBuilder
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    b = OscMessageBuilder("/vj/param/feedback.amount"); b.add_arg((i + 1) / n * 0.9)
    s.sendto(b.build().dgram, ("127.0.0.1", port))
"""


def test_a_burst_of_ten_thousand_messages_the_latest_wins(show):
    subprocess.run([sys.executable, "-c", SENDER, str(show.port), "10000"], check=True, timeout=60)
    assert show.frames_until(lambda: abs(show.target("feedback.amount") - 0.9) < 1e-6)  # float32 on the wire
    # the listener is alive and still answers
    oscsend(show.port, "/vj/param/feedback.amount", "f", 0.1)
    assert show.frames_until(lambda: show.target("feedback.amount") == pytest.approx(0.1))
    c = show.counters()
    # most of the burst reached the listener (the kernel may drop some); the ones overtaken by a
    # newer value while waiting were skipped, not parsed
    assert c["osc_packets"] > 5000 and c["osc_packets"] == c["osc_messages"] + c.get("osc_coalesced", 0)
    assert c.get("osc_malformed", 0) == 0
    assert show.proc.restarts == 0


def test_a_control_process_that_dies_is_started_again_and_osc_reaches_the_show_again():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # a port the new process can take again
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = assemble.build_controls(load_set(find_set("demo")), 1)
    proc = ControlProcess(c, ("127.0.0.1", port, ()), None)
    proc.start()
    c.listen_to(proc)
    try:
        first = proc.pid
        os.kill(first, signal.SIGKILL)  # like the OOM killer
        wait_until("the control process's restart", lambda: (c.apply_pending(), proc.restarts >= 1)[1], 60)
        assert proc.pid != first
        assert "control process restarting" not in proc.status()
        values = iter([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] * 100)

        def arrived() -> bool:  # sent again until the new listener is up and takes it
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(osc("/vj/param/feedback.amount", v := next(values)), ("127.0.0.1", port))
            time.sleep(0.05)
            c.apply_pending()
            return c.params.target("feedback.amount") == pytest.approx(v)

        wait_until("an OSC value through the new control process", arrived, 60)
        assert proc.store.counter_dict().get("restarts") == 1
    finally:
        proc.stop()


def test_the_allow_list_drops_other_senders():
    closed = Show(allow=("192.0.2.7",))
    try:
        oscsend(closed.port, "/vj/param/feedback.amount", "f", 0.2)
        assert closed.frames_until(lambda: closed.counters().get("osc_not_allowed") == 1)
        closed.frames_until(lambda: False, timeout=0.2)
        assert closed.target("feedback.amount") == 0.55
        assert "1 not allowed" in closed.proc.status()
    finally:
        closed.stop()
    opened = Show(allow=("127.0.0.1",))
    try:
        oscsend(opened.port, "/vj/param/feedback.amount", "f", 0.2)
        assert opened.frames_until(lambda: opened.target("feedback.amount") == pytest.approx(0.2))
    finally:
        opened.stop()


def _blob_packet(size: int) -> bytes:
    address = b"/vj/param/feedback.amount\x00\x00\x00"
    return address + b",b\x00\x00" + struct.pack(">i", size) + b"abcd"


def test_fuzzed_packets_are_dropped_counted_and_shown_and_the_listener_goes_on(show):
    rng = random.Random(7)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dest = ("127.0.0.1", show.port)
    good = osc("/vj/param/feedback.zoom", 1.1)
    bad = [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))) for _ in range(300)]  # noise
    bad += [good[:n] for n in range(1, len(good))]  # every truncation of a good message
    bad += [b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 4000) + b"x"]  # a bundle element past its end
    bad += [_blob_packet(-8), _blob_packet(2**31 - 1), _blob_packet(-(2**31))]  # absurd blob sizes
    bad += [osc("/vj/param/feedback.zoom", "one point one"), osc("/vj/param/feedback.zoom", b"\x01\x02"),
            osc("/vj/param/feedback.zoom", 1.0, 2.0), osc("/vj/seed", 1.5), osc("/vj/scene", 3.25)]  # wrong types
    bad += [osc("/vj/param/no.such"), osc("/vj/nothing", 1), osc("/elsewhere", 1.0)]  # unknown addresses
    rng.shuffle(bad)
    for packet in bad:
        s.sendto(packet, dest)
    s.sendto(osc("/vj/param/feedback.rotate", 1e9), dest)  # out of range: clamped
    later = OscBundleBuilder(time.time() + 3600)  # stamped an hour ahead: applied now, counted
    later.add_content(build_message("/vj/param/noise.walk", [7.0]))
    s.sendto(later.build().dgram, dest)
    s.sendto(good, dest)
    assert show.frames_until(lambda: show.target("feedback.zoom") == pytest.approx(1.1) and show.target("noise.walk") == 7.0)
    assert show.target("feedback.rotate") == 10.0  # clamped to the top of its range
    c = show.counters()
    assert c["osc_malformed"] >= 300 and c["osc_unknown"] >= 3 and c["osc_bad_args"] >= 5
    assert c["osc_clamped"] == 1 and c["osc_future_timetags"] == 1
    assert c["osc_packets"] == len(bad) + 3
    status = show.proc.status()
    for label in ("malformed", "unknown address", "bad args", "clamped", "future time tags"):
        assert label in status, status
    assert show.proc.restarts == 0 and show.proc.alive


def test_vj_run_sends_features_events_and_parameter_feedback_to_oscdump(tmp_path):
    """`vj run` as a TouchDesigner user starts it: OSC in on a port, OSC out to a surface."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        port_in, port_out = a.getsockname()[1], b.getsockname()[1]
    dump = subprocess.Popen([tool("oscdump"), "-L", str(port_out)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    show = subprocess.Popen([sys.executable, "-m", "vj", "run", "--headless", "--duration", "7", "--model", "tiny-random",
                             "--size", "160x96", "--audio", "sets/demo-beat.ogg", "--osc-port", str(port_in), "--osc-out", f"127.0.0.1:{port_out}"],
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        lines = []
        while time.monotonic() < deadline:  # wait until it listens
            line = show.stderr.readline()
            lines.append(line)
            if "OSC: listening" in line or not line:
                break
        assert any("OSC: listening" in x for x in lines), "".join(lines)
        time.sleep(1.0)
        oscsend(port_in, "/vj/scene", "s", "storm")
        oscsend(port_in, "/vj/param/feedback.amount", "s", "not a number")
        err = "".join(lines) + show.stderr.read()
        assert show.wait(60) == 0, err
    finally:
        show.kill()
        time.sleep(0.3)
        dump.terminate()
    out = dump.communicate(timeout=10)[0]
    for address in ("/vj/audio/level", "/vj/audio/bass", "/vj/audio/mid", "/vj/audio/high", "/vj/audio/bpm",
                    "/vj/audio/beat_phase", "/vj/status/fps"):
        assert address in out, f"{address} never came out"
    assert re.search(r"/vj/audio/(onset|beat) i 1", out), "the demo's beat made no events"
    # the show clock in every bundle: its beat number counts up, and its phases agree with each other
    beats = [int(x) for x in re.findall(r"/vj/clock/beat i (-?\d+)", out)]
    phases = [float(x) for x in re.findall(r"/vj/clock/phase f ([-\d.e]+)", out)]
    bar_phases = [float(x) for x in re.findall(r"/vj/clock/bar_phase f ([-\d.e]+)", out)]
    bpms = [float(x) for x in re.findall(r"/vj/clock/bpm f ([-\d.e]+)", out)]
    assert len(beats) == len(phases) == len(bar_phases) == len(bpms) > 30
    assert beats[-1] - beats[0] >= 6  # seven seconds at 70 BPM or more
    assert all(b - a >= -1 for a, b in zip(beats, beats[1:]))  # the tracker's phase may pull back a hair, no more
    assert all(abs((4 * bp) % 1.0 - p) < 1e-3 or abs(abs((4 * bp) % 1.0 - p) - 1) < 1e-3
               for p, bp in zip(phases, bar_phases))
    assert all(20 <= b <= 400 for b in bpms)
    assert re.search(r"/vj/param/noise\.walk f 12\.0", out), "the scene's changes were not fed back"
    assert re.search(r"scene storm", err) and re.search(r"osc \d+ msgs \(1 bad args\)", err), err
