"""A tempo set by hand, through the paths a performer takes, with and without sound: `--bpm` on the
command line, `/vj/bpm` and `/vj/tap` from a separate OSC sender, the window's T key under Xvfb,
a JACK MIDI fader and pad mapped to `bpm` and `tap`. Each is read back from outside the show: a
Link peer's tempo, the show clock in OSC out (`oscdump`), the saved state, `/vj/list` after a
`--resume`, the status line.

Link runs only inside a network namespace the test makes (loopback alone, vj/sync/sandbox.py):
the show, the Link peer, oscsend and oscdump all run in it, so Link's multicast never leaves it."""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading

import pytest

from helpers import ROOT, Jack, wait_until, write_wav
from test_stream_output import free_udp_port

SHOW = ["--headless", "--model", "tiny-random", "--size", "96x64", "--fps", "12"]


def _inside(ns):
    return ["ip", "netns", "exec", ns] if ns else []


class Show:
    """`vj run ARGS` as a process (in a namespace, or not), its stderr read line by line."""

    def __init__(self, args, ns=None, env=None) -> None:
        e = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        e.update(env or {})
        self.proc = subprocess.Popen([*_inside(ns), sys.executable, "-m", "vj", "run", *args], cwd=ROOT, env=e,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stderr.readline, "")), daemon=True).start()

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, what: str, pattern: str, timeout: float = 240.0, since: int = 0) -> re.Match:
        """The newest line (from line `since` on) that has `pattern`, once there is one."""
        found = []

        def seen():
            found[:] = [m for m in (re.search(pattern, x) for x in list(self.lines)[since:]) if m][-1:]
            return bool(found)

        try:
            wait_until(what, seen, timeout, alive=self.proc)
        except AssertionError as e:
            raise AssertionError(f"{e}: {self.text()[-3000:]}") from None
        return found[0]

    def stop(self) -> int:
        """Ctrl-C, as a performer ends a show: it writes its state and ends."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(60)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb) -> None:
        """The show's own words when the test fails (pytest shows what was printed), then it ends."""
        if kind is not None:
            said = [x for x in self.lines if " | " not in x] + [x for x in self.lines if " | " in x][-3:]
            print(f"--- {' '.join(self.proc.args[-12:])}:\n{''.join(said)[-6000:]}")
        self.kill()


class OscDump:
    """liblo's oscdump on a port: what the show sends out (OSC out, /vj/list answers)."""

    def __init__(self, port: int, ns=None) -> None:
        self.proc = subprocess.Popen([*_inside(ns), shutil.which("oscdump"), "-L", str(port)], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")), daemon=True).start()

    def last(self, address: str) -> float | None:
        """The newest float argument of `address` (e.g. /vj/clock/bpm)."""
        for line in reversed(list(self.lines)):
            m = re.search(re.escape(address) + r" f ([-\d.e]+)", line)
            if m:
                return float(m.group(1))
        return None

    def wait_near(self, address: str, value: float, tol: float, timeout: float = 60.0) -> float:
        def near():
            v = self.last(address)
            return v is not None and abs(v - value) <= tol

        wait_until(f"{address} near {value:g} (last: {self.last(address)})", near, timeout)
        return self.last(address)

    def count(self, address: str) -> int:
        return sum(1 for line in list(self.lines) if f" {address} " in f" {line}")

    def listed(self, address: str) -> float | None:
        """The value /vj/list said for `address`."""
        for line in reversed(list(self.lines)):
            m = re.search(r'/vj/list/item \w+ "' + re.escape(address) + r'" "\w*" [-\d.e]+ [-\d.e]+ ([-\d.e]+)', line)
            if m:
                return float(m.group(1))
        return None

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@contextlib.contextmanager
def dump_closed(dump: OscDump):
    try:
        yield dump
    finally:
        dump.close()


def oscsend(port: int, address: str, types: str = "", *args, ns=None) -> None:
    subprocess.run([*_inside(ns), shutil.which("oscsend"), "127.0.0.1", str(port), address, types, *map(str, args)],
                   check=True, timeout=30)


# The other side of the booth, as another process: a plain Link session (as Ableton Live or a
# DJ's software would be one) and an OSC controller tapping the tempo (python-osc), driven by
# commands on stdin, one JSON list a line; each answers one JSON line.
BOOTH = r"""
import json, sys, time
from pythonosc.udp_client import SimpleUDPClient
from vj.sync.sandbox import plain_peer

peer = plain_peer(float(sys.argv[1]))
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd[0] == "tempo":
        out = {"tempo": peer.tempo, "peers": peer.num_peers}
    elif cmd[0] == "set":
        peer.tempo = float(cmd[1])
        out = {"tempo": peer.tempo}
    elif cmd[0] == "taps":  # n taps on /vj/tap, `gap` seconds apart, as sent
        _, port, n, gap = cmd
        client, sent, t0 = SimpleUDPClient("127.0.0.1", port), [], time.perf_counter()
        for i in range(n):
            while time.perf_counter() < t0 + i * gap:
                time.sleep(0.0005)
            client.send_message("/vj/tap", [])
            sent.append(time.perf_counter())
        out = {"gaps": [b - a for a, b in zip(sent, sent[1:])]}
    print(json.dumps(out), flush=True)
"""


class Booth:
    def __init__(self, ns: str, bpm: float) -> None:
        self.proc = subprocess.Popen([*_inside(ns), sys.executable, "-c", BOOTH, str(bpm)], cwd=ROOT, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert json.loads(self.proc.stdout.readline())["ready"]

    def ask(self, *cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def wait_tempo(self, bpm: float, tol: float = 0.01, timeout: float = 60.0) -> float:
        wait_until(f"the Link peer at {bpm:g} BPM (it is at {self.ask('tempo')['tempo']:.2f})",
                   lambda: abs(self.ask("tempo")["tempo"] - bpm) <= tol, timeout)
        return self.ask("tempo")["tempo"]

    def taps(self, port: int, n: int, gap: float) -> float:
        """Taps sent: the tempo they mean (the median gap between them, as they left)."""
        gaps = sorted(self.ask("taps", port, n, gap)["gaps"])
        return 60.0 / gaps[len(gaps) // 2]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


@pytest.fixture
def netns():
    pytest.importorskip("aalink", reason="the optional extra demontage[link] (make setup installs it)")
    if os.geteuid() != 0:
        pytest.skip("ip netns needs root (CI runs as root)")
    if not shutil.which("ip"):
        pytest.fail("the ip command is missing: `make setup` installs iproute2")
    from vj.sync.sandbox import loopback_namespace

    with loopback_namespace("vjhand") as name:
        yield name


def _saved_bpm(state) -> float | None:
    from vj.resources import find_set
    from vj.show.resume import state_file

    try:  # the live state is kept by the set's file (show/resume.py)
        return json.loads(state_file(state, find_set("demo"), "demo").read_text()).get("bpm")
    except (OSError, ValueError):
        return None


def test_by_hand_without_sound_the_link_peer_hears_it_osc_out_says_it_and_a_resumed_show_keeps_it(netns, tmp_path):
    """--bpm, /vj/bpm and /vj/tap into `vj run --link --audio none` beside a Link peer at 141;
    then the show is resumed with a sound input, and taps go to its beat tracker."""
    state, port_in, port_out = tmp_path / "state", free_udp_port(), free_udp_port()
    booth, dump = Booth(netns, 141.0), OscDump(port_out, netns)
    common = [*SHOW, "--link", "--osc-port", str(port_in), "--osc-out", f"127.0.0.1:{port_out}", "--state", str(state)]
    try:
        with Show(["demo", "--audio", "none", "--bpm", "128", *common], netns) as show:
            show.wait_for("the show playing", "playing demo")
            booth.wait_tempo(128.0)  # --bpm: proposed when the show found the session
            dump.wait_near("/vj/clock/bpm", 128.0, 0.01)
            booth.ask("set", 141.0)  # the DJ moves the session: the show follows
            dump.wait_near("/vj/clock/bpm", 141.0, 0.01)
            oscsend(port_in, "/vj/bpm", "f", 133, ns=netns)
            booth.wait_tempo(133.0)
            dump.wait_near("/vj/clock/bpm", 133.0, 0.01)
            tapped = booth.taps(port_in, 6, 0.4)  # about 150 BPM, as the taps left the sender
            booth.wait_tempo(tapped, tol=0.025 * tapped)
            wait_until("the tapped tempo saved", lambda: abs((_saved_bpm(state) or 0) - tapped) < 0.025 * tapped, 30)
            show.wait_for("a status line with the Link session", r"clock \d+\.\d BPM \(Link, 1 peer\)")
            assert show.stop() == 0, show.text()[-3000:]
        heard = _saved_bpm(state)  # as the show ended: the last tap's tempo, the one the peer has
        assert heard == pytest.approx(booth.ask("tempo")["tempo"], abs=0.01)
        assert dump.last("/vj/clock/bpm") == pytest.approx(heard, abs=0.01)
        booth.ask("set", 141.0)
        wav = write_wav(tmp_path / "drums.wav", _drums(100.0, 40.0))
        port_in = free_udp_port()
        common[common.index("--osc-port") + 1] = str(port_in)
        with Show(["demo", "--resume", "--audio", str(wav), "--no-monitor", *common], netns) as again:
            again.wait_for("the resumed show playing", "playing demo")
            booth.wait_tempo(heard)  # the saved tempo, proposed to the session again

            def listed_heard():  # the show tells its control process the tempo at a frame: ask until it has
                answers = dump.count("/vj/list/end")
                oscsend(port_in, "/vj/list", "i", port_out, ns=netns)
                wait_until("/vj/list's answer", lambda: dump.count("/vj/list/end") > answers, 30)
                return abs(dump.listed("/vj/bpm") - heard) < 0.05

            wait_until(f"/vj/list saying {heard:.1f}", listed_heard, 60)
            assert dump.listed("/vj/bpm") == pytest.approx(heard, abs=0.05)  # the tempo in force, not 0
            tapped = booth.taps(port_in, 6, 0.5)  # with sound the beat tracker takes the taps: 120
            booth.wait_tempo(tapped, tol=0.03 * tapped)
            wait_until("the tracker's tapped tempo saved",
                       lambda: abs((_saved_bpm(state) or 0) - tapped) < 0.03 * tapped, 30)
    finally:
        booth.close()
        dump.close()


def _drums(bpm: float, seconds: float):
    from vj.audio.synth import drum_pattern

    return drum_pattern(bpm, seconds, pattern="four", noise_db=-50, seed=2).audio


def test_the_window_t_key_taps_the_tempo_without_sound(tmp_path, xvfb):
    """The T key of the window (under Xvfb, pressed through xdotool) goes through /vj/tap's action:
    the show clock takes the tempo and the saved state keeps it as set by hand."""
    if not shutil.which("xdotool"):
        pytest.fail("xdotool is missing: `make setup` installs it")
    state, port_out = tmp_path / "state", free_udp_port()
    dump = OscDump(port_out)
    show = Show(["demo", "--audio", "none", "--model", "tiny-random", "--size", "160x96", "--fps", "30",
                 "--osc-out", f"127.0.0.1:{port_out}", "--state", str(state)], env={"DISPLAY": xvfb})
    env = {**os.environ, "DISPLAY": xvfb}
    with show, dump_closed(dump):
        show.wait_for("the show playing", "playing demo")
        wid = subprocess.run(["xdotool", "search", "--sync", "--name", "démontage"], env=env, capture_output=True,
                             text=True, timeout=60).stdout.split()[0]
        dump.wait_near("/vj/clock/bpm", 120.0, 0.01)  # free running before any tap
        # six taps 0.6 s apart: 100 BPM (the window reads its keys once a frame: within a frame of it)
        subprocess.run(["xdotool", "key", "--window", wid, "--delay", "600", *["t"] * 6], env=env, check=True,
                       timeout=60)
        got = dump.wait_near("/vj/clock/bpm", 100.0, 10.0)
        wait_until("the tapped tempo saved", lambda: abs((_saved_bpm(state) or 0) - got) < 0.01, 30)
        show.wait_for("a status line with the tempo held", r"clock \d+\.\d BPM \(held\)")


MAPPING = """
[device]
match = "fakectl"

[[control]]
name = "tempo fader"
type = "cc"
channel = 1
number = 7
action = "bpm"
range = [100.0, 200.0]

[[control]]
name = "tap pad"
type = "note"
channel = 1
number = 36
action = "tap"

[[control]]
name = "feedback knob"
type = "cc"
channel = 1
number = 0
target = "feedback.amount"
"""


def test_a_midi_fader_and_pad_set_the_tempo_and_a_waiting_knob_is_shown_through_jack_without_mido_backend(tmp_path):
    """`vj run --midi fakectl` under a JACK server with no MIDO_BACKEND in the environment (and no
    ALSA sequencer here): the JACK port is found by itself. A fader mapped to `bpm` holds the
    tempo, a pad mapped to `tap` taps it; a knob that soft takeover ignores is said in the log and
    the status line against its parameter's value until it picks the value up."""
    from test_midi_jack import Controller, _connections, cc

    if os.path.exists("/dev/snd/seq"):
        pytest.skip("this machine has an ALSA sequencer: MIDI would go through ALSA")
    # a long period (21 ms): a busy machine keeps up with it (at 1.3 ms the dummy server threw the
    # stand-in controller's client out, measured, and its messages stopped); MIDI arrives a period at a time
    jack = Jack(period=1024)
    jack.start()
    env = {k: v for k, v in jack.env.items() if k != "MIDO_BACKEND"}
    (tmp_path / "fake.toml").write_text(MAPPING)
    ctl = Controller({**env, "MIDO_BACKEND": "mido.backends.rtmidi/UNIX_JACK"})  # the stand-in controller only
    port_out = free_udp_port()
    dump = OscDump(port_out)
    show = Show(["demo", *SHOW, "--audio", "none", "--midi", "fakectl", "--mapping", str(tmp_path / "fake.toml"),
                 "--osc-out", f"127.0.0.1:{port_out}", "--state", str(tmp_path / "state")], env=env)
    try:
        devices = subprocess.run([sys.executable, "-m", "vj", "devices"], cwd=ROOT, env=env, capture_output=True,
                                 text=True, timeout=120)
        assert "in:  fakectl:ctrl" in devices.stdout and "through JACK" in devices.stdout, devices.stdout
        show.wait_for("the controller's port opened", r"MIDI: fakectl:ctrl")
        show.wait_for("the show playing", "playing demo")
        wait_until("the controller connected", lambda: "fakectl:ctrl" in _connections(jack.env), 30)
        ctl.send(cc(7, 64))  # the fader: 100 + 64/127 of 100 BPM
        dump.wait_near("/vj/clock/bpm", 100 + 64 / 127 * 100, 0.01)
        # the pad, 12 periods apart (0.256 s): 234 BPM
        ctl.send(*[m for _ in range(5) for m in (["note_on", {"note": 36, "velocity": 100}], ["sleep", 0.256])])
        dump.wait_near("/vj/clock/bpm", 60 / 0.256, 10.0)
        show.wait_for("a status line with the tempo held", r"clock 2[23]\d\.\d BPM \(held\)")
        # the knob is at 0, the value at 0.55 (the demo's): soft takeover waits, and says so
        ctl.send(cc(0, 0))
        show.wait_for("the waiting knob in the log", r"MIDI: feedback\.amount waits for its control")
        nudge = threading.Event()

        def nudging():  # a hand on the knob, a little above 0 and back, until the status line says it
            v = 0
            while not nudge.wait(0.5):
                v = 1 - v
                ctl.send(cc(0, v))

        hand = threading.Thread(target=nudging, daemon=True)
        hand.start()
        try:
            line = show.wait_for("the waiting knob in the status line",
                                 r"feedback\.amount: MIDI control at ([\d.e-]+), value ([\d.]+); turn it up to pick it up")
        finally:
            nudge.set()
            hand.join(5)
        assert float(line.group(1)) < 0.02 and float(line.group(2)) == pytest.approx(0.55)
        ctl.send(*[cc(0, v) for v in range(0, 128, 8)])  # swept through the value: picked up, and moved
        dump.wait_near("/vj/param/feedback.amount", 120 / 127 * 0.99, 0.02)
        later = show.wait_for("a status line after the pick-up", r"clock .* BPM", since=len(show.lines))
        assert "MIDI control at" not in later.string
    finally:
        show.__exit__(*sys.exc_info())
        dump.close()
        ctl.unplug()
        jack.stop()
