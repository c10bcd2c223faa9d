"""The generator on another machine (issue #24), on loopback: real `vj serve` processes (the seedling
standing in for a GPU's model), real shows (`vj run`, and the probe: a RemoteGenerator fed
snapshots), real ZeroMQ with CURVE between them. Every wait is for a line, a frame or a counter."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import numpy as np
import pytest
import zmq

from helpers import wait_until
from remote_box import Box, Proc, probe
from vj.remote import wire


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    b = Box(tmp_path_factory.mktemp("box-state"))
    try:
        yield b.ready()
    finally:
        b.stop()


def _in_order(records: list[dict]) -> list[int]:
    idx = [r["index"] for r in records if "index" in r]
    assert idx == sorted(set(idx)), f"frames out of order or repeated: {idx}"
    return idx


@pytest.mark.parametrize("codec", ["raw", "jpeg"])
def test_frames_come_back_in_order_with_the_box_size(box, codec):
    show = probe([f"127.0.0.1:{box.port}"], [box.key], 30, codec)
    assert show.finish() == 0, show.text()
    records = show.records()
    idx = _in_order(records)
    assert len(idx) == 30
    assert {tuple(r["size"]) for r in records if "size" in r} == {(224, 128)}  # the seedling's own size
    assert all(r["mean"] > 5 for r in records if "mean" in r)  # pictures, not black
    assert records[-1]["status"].startswith(f"frames from 127.0.0.1:{box.port}, round trip")
    assert "frame age" in records[-1]["status"]


def test_a_show_with_another_key_is_refused_in_one_line(box, tmp_path):
    wrong = zmq.curve_keypair()[0].decode()
    r = Proc([os.sys.executable, "-m", "vj", "run", "--headless", "--audio", "none", "--no-osc", "--state", "none",
              "--duration", "30", "--generator", f"127.0.0.1:{box.port}", "--generator-key", wrong])
    assert r.proc.wait(180) == 2
    r.stop()
    assert r.said("refused the handshake: the key is not that box's") == 1, r.text()
    assert "Traceback" not in r.text()
    box.wait_said("refused a connection: it failed the CURVE handshake")
    # a key that is not even a key is said before anything starts
    bad = Proc([os.sys.executable, "-m", "vj", "run", "--headless", "--audio", "none", "--no-osc", "--state", "none",
                "--generator", f"127.0.0.1:{box.port}", "--generator-key", "not-a-key"])
    assert bad.proc.wait(120) == 2
    bad.stop()
    assert bad.said("is not a box's key") == 1, bad.text()


def _malformed(key: str, session: str) -> list[list[bytes]]:
    """One of each kind of bad message a box can be sent (each well past the CURVE handshake)."""
    good = wire.SnapEncoder().encode(session, 1, _snapshot())
    head = json.loads(good[0])
    nan_values = good[:2] + [b"\x00\x00\x00\x00\x00\x00\xf8\x7f" * (len(good[2]) // 8)] + good[3:]

    def snap_with(**change) -> list[bytes]:
        return [json.dumps({**head, **change}).encode()] + good[1:]

    return [
        [os.urandom(64)],  # garbage
        [b"{" * 70000],  # a huge header
        [b"[" * 5000 + b"]" * 5000],  # deep nesting
        [json.dumps({"v": 99, "kind": "ping", "session": session, "t": 0}).encode()],  # wrong version
        [b'{"v":1,"kind":"ping","session":"x","t":NaN}'],  # NaN in the header
        [b'{"v":1,"kind":"ping","session":"x","t":1e400}'],  # infinite
        [json.dumps({"v": 1, "kind": "ping", "session": 7, "t": 0}).encode()],  # wrong type
        [json.dumps({"v": 1, "kind": "explode", "session": session}).encode()],  # unknown kind
        [json.dumps({"v": 1, "kind": "credit", "session": session, "pause": 0, "extra": 1}).encode()],
        [json.dumps({"v": 1, "kind": "credit", "session": session, "pause": 99}).encode()],  # out of range
        snap_with(seed=-1),
        snap_with(prompts=["x" * 5000]),
        snap_with(audio={**head["audio"], "onset": 0.5}),
        good[:3],  # a part missing
        good + [b"more"],  # a part too many
        good[:2] + [good[2][:-3]] + good[3:],  # values cut short
        nan_values,
        [good[0], b"\xff\xfe" * 10] + good[2:],  # names not text
        wire.frame(session, 1, 1, 0.0, 1.0, 4, 4, "raw", None, b"\x00" * 48),  # the box's own kind of message
        wire.input_image(session, 1, 4, 4, os.urandom(5000)),  # more bytes than a 4x4 picture could need
        wire.hello(session, wire.Settings(), "jpeg")[:1] + [b"extra"],
        [json.dumps({"v": 1, "kind": "hello", "session": session, "codec": "jpeg",
                     "settings": {"steps": 1000, "size": None, "seed": 0, "scheduler": None, "negative": "",
                                  "input": None, "deep_cache": 1, "stream_batch": None, "loras": []}}).encode()],
    ]


def _snapshot():
    from types import MappingProxyType

    from vj.core.snapshot import Snapshot

    return Snapshot(1, 0.5, MappingProxyType({"noise.walk": 1.0}), ("a",), 3)


def test_3000_malformed_messages_leave_the_box_serving(box):
    """A client with the right key sends 3,000 bad messages of 22 kinds, strangers send raw bytes and
    a wrong key: each bad message is counted, each kind said in about one line, and a real show is
    then served as if nothing happened."""
    ctx = zmq.Context()
    pub, sec = zmq.curve_keypair()
    d = ctx.socket(zmq.DEALER)
    d.curve_serverkey, d.curve_publickey, d.curve_secretkey = box.key.encode(), pub, sec
    d.linger = 0
    d.connect(f"tcp://127.0.0.1:{box.port}")
    kinds = _malformed(box.key, "f" * 16)
    n = 3000
    for i in range(n):
        d.send_multipart(kinds[i % len(kinds)])
    for _ in range(5):  # strangers: bytes that are not ZeroMQ at all
        with socket.create_connection(("127.0.0.1", box.port)) as s:
            s.sendall(os.urandom(2048))
    d.close()
    ctx.term()
    wait_until("the box's lines about bad messages", lambda: box.said("dropped a bad message") >= 8, 120,
               alive=box.proc)
    show = probe([f"127.0.0.1:{box.port}"], [box.key], 10)
    assert show.finish() == 0, show.text()
    assert len(_in_order(show.records())) == 10  # served as before
    assert box.proc.poll() is None
    said = box.said("dropped a bad message")
    assert said <= 3 * len(kinds), f"{said} lines for {n} messages: not rate-limited"
    assert "Traceback" not in box.text()


def test_a_second_show_is_told_the_box_is_busy_and_is_taken_after(box):
    first = probe([f"127.0.0.1:{box.port}"], [box.key], 10**6)
    wait_until("the first show's frames", lambda: len(first.records()) >= 3, 180, alive=first.proc)
    second = probe([f"127.0.0.1:{box.port}"], [box.key], 5)
    second.wait_said("busy: the box is playing a show from 127.0.0.1")
    assert not second.records()  # nothing for it while the first plays
    first.close_stdin()  # the first show ends (it says goodbye)
    assert first.finish(60) == 0
    assert second.finish() == 0, second.text()
    assert len(_in_order(second.records())) == 5
    assert second.said("busy:") == 1  # said once, however many tries


def _osc_listener():
    """A UDP socket the show's OSC out goes to, and the bundles it has received (address -> values)."""
    from pythonosc.osc_packet import OscPacket

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    got: list[dict] = []
    stop = threading.Event()

    def read():
        while not stop.is_set():
            try:
                data = sock.recv(65536)
            except OSError:
                continue
            got.append({m.message.address: m.message.params for m in OscPacket(data).messages})

    threading.Thread(target=read, daemon=True).start()
    return sock.getsockname()[1], got, stop


def test_a_box_killed_mid_show_is_said_once_and_taken_up_again(tmp_path):
    """kill -9 of `vj serve` while `vj run` plays from it: the show keeps rendering (OSC out keeps
    coming, /vj/generator/lost 1), says so once, and takes up a new `vj serve` (same state folder,
    same key, same port) by itself; the show log has it all."""
    state = tmp_path / "box"
    box = Box(state).ready()
    port, bundles, stop_osc = _osc_listener()
    shows = tmp_path / "shows-state"
    show = Proc([os.sys.executable, "-m", "vj", "run", "--headless", "--audio", "none", "--no-osc", "--fps", "20",
                 "--osc-out", f"127.0.0.1:{port}", "--state", str(shows), "--seed", "5",
                 "--generator", f"127.0.0.1:{box.port}", "--generator-key", box.key])
    box2 = None
    try:
        show.wait_said(f"generator: frames from 127.0.0.1:{box.port}", 240)
        wait_until("the round trip in OSC out", lambda: any("/vj/generator/round_trip_ms" in b for b in bundles), 120,
                   alive=show.proc)
        show.wait_said(f"| frames from 127.0.0.1:{box.port}, round trip", 60)  # the status line says where
        box.kill9()
        show.wait_said("lost (no word for", 60)
        n = len(bundles)
        wait_until("OSC out saying the box is lost", lambda: any(b.get("/vj/generator/lost") == [1] for b in bundles[n:]),
                   60, alive=show.proc)
        n = len(bundles)
        wait_until("30 more render frames while the box is gone", lambda: len(bundles) >= n + 30, 60, alive=show.proc)
        box2 = Box(state, bind=f"127.0.0.1:{box.port}").ready()
        assert box2.key == box.key  # kept in the state folder
        show.wait_said(f"generator 127.0.0.1:{box.port}: back after", 120)
        n = len(bundles)
        wait_until("OSC out saying the box is back", lambda: any(b.get("/vj/generator/lost") == [0] for b in bundles[n:]),
                   60, alive=show.proc)
        box2.wait_said("playing for 127.0.0.1")
    finally:
        rc = show.stop(60)
        stop_osc.set()
        for b in (box, box2):
            if b is not None:
                b.stop()
    assert rc == 0, show.text()
    assert show.said("lost (no word for") == 1, show.text()
    assert "Traceback" not in show.text()
    log = [json.loads(line) for p in (shows / "shows").glob("*.jsonl") for line in p.read_text().splitlines()]
    events = [e.get("event") for e in log if e["kind"] == "generator"]
    assert events[:1] == ["up"] and "back" in events, events
    assert any(e["kind"] == "fault" and "lost (no word" in e["message"] for e in log)


def test_two_boxes_alternate_frames_in_order_and_one_lost_leaves_the_other(tmp_path):
    a, b = Box(tmp_path / "a"), Box(tmp_path / "b")
    a.ready(), b.ready()
    assert a.key != b.key
    ends = [f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"]
    show = probe(ends, [a.key, b.key], 10**6, "jpeg")
    try:
        wait_until("frames from both boxes",
                   lambda: (r := show.records()) and all(n >= 5 for n in r[-1]["boxes"].values()), 240, alive=show.proc)
        a.kill9()
        show.wait_said(f"generator {ends[0]}: lost", 60)
        n = show.records()[-1]["boxes"][ends[1]]
        wait_until("10 more frames from the box left", lambda: show.records()[-1]["boxes"][ends[1]] >= n + 10, 120,
                   alive=show.proc)
        assert show.records()[-1]["state"] == "running"
    finally:
        show.close_stdin()
        show.finish(60)
        a.stop(), b.stop()
    _in_order(show.records())
    assert show.said(f"generator {ends[0]}: lost") == 1, show.text()  # said once, however long it stays away


def _solid_video(path, colour: str):
    import subprocess

    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c={colour}:s=128x128:r=30:d=2",
                    "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def _frames_from(box: Box, video, n: int) -> list:
    """n frames made on the box from a video read here and sent up (image-to-image, low strength)."""
    from types import MappingProxyType

    from vj.core.snapshot import Snapshot
    from vj.remote.client import RemoteGenerator

    gen = RemoteGenerator([f"127.0.0.1:{box.port}"], [box.key], wire.Settings(seed=4, input="pushed"),
                          input_source=str(video), codec="jpeg")
    gen.start(wait_ready=True, timeout=240)
    frames, i, t0 = [], 0, time.monotonic()
    try:
        while len(frames) < n:
            assert time.monotonic() - t0 < 240, f"{len(frames)} frames in 240 s: {gen.link_status()}"
            values = {"strength": 0.05, "input.similarity": 1.0, "noise.phase": 0.3}
            gen.submit(Snapshot(i, i / 30, MappingProxyType(values), ("a cathedral",), 4))
            i += 1
            f = gen.latest()
            if f is not None and f.input is not None:
                frames.append(f)
            time.sleep(1 / 30)
    finally:
        gen.stop()
    return frames


def test_image_to_image_sends_the_shows_video_up_and_the_box_follows_it(tmp_path):
    """The show's video is read here, sent up as JPEG, the box makes its frames from it (tiny-random,
    strength 0.05: the input shows through) and each frame names the image it was made from."""
    box = Box(tmp_path / "box", model="tiny-random").ready()
    try:
        red = _frames_from(box, _solid_video(tmp_path / "red.mp4", "red"), 5)
        blue = _frames_from(box, _solid_video(tmp_path / "blue.mp4", "blue"), 5)
    finally:
        box.stop()
    assert box.said("input pushed") == 2
    for frames, channel in ((red, 0), (blue, 2)):
        inp = frames[-1].input.reshape(-1, 3).mean(0)
        assert inp[channel] > 200 and inp.sum() - inp[channel] < 120  # the image the frame was made from, back
    diff = np.abs(red[-1].pixels.astype(float) - blue[-1].pixels.astype(float)).mean()
    assert diff > 2, f"the box's frames hardly follow their input ({diff:.2f})"
