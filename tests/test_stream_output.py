"""Network streams out of `vj run`: a real ffmpeg receiver on UDP, and an endpoint that is not there."""

import socket
import subprocess

from helpers import ROOT, decode, probe, vj


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_a_udp_stream_reaches_a_receiver_while_the_show_records(tmp_path):
    port = free_udp_port()
    got = tmp_path / "received.ts"
    receiver = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-timeout", "20000000",
                                 "-i", f"udp://127.0.0.1:{port}?overrun_nonfatal=1&fifo_size=1000000",
                                 "-t", "2", "-c", "copy", str(got)], stderr=subprocess.PIPE)
    try:
        r = vj("run", "demo", "--model", "tiny-random", "--headless", "--duration", "5", "--seed", "2",
               "--no-osc", "--audio", str(ROOT / "sets" / "demo-beat.ogg"), "--no-monitor",
               "--stream", f"udp://127.0.0.1:{port}", "--out", str(tmp_path / "rec.mp4"))
        assert r.returncode == 0, r.stderr
        receiver.wait(timeout=30)
    finally:
        receiver.kill()
    v = [s for s in probe(got)["streams"] if s["codec_type"] == "video"][0]
    assert v["codec_name"] == "h264" and (v["width"], v["height"]) == (640, 360)
    frames = decode(got, (640, 360))
    assert len(frames) >= 10 and frames.std() > 2  # pictures came over the network
    assert (tmp_path / "rec.mp4").stat().st_size > 0


def test_a_stream_endpoint_that_is_gone_is_logged_and_the_recording_goes_on(tmp_path):
    rec = tmp_path / "rec.mp4"
    r = vj("run", "demo", "--model", "tiny-random", "--headless", "--duration", "4", "--seed", "2", "--no-osc",
           "--audio", str(ROOT / "sets" / "demo-beat.ogg"), "--no-monitor",
           "--stream", "rtmp://127.0.0.1:1/live/nobody", "--out", str(rec))
    assert r.returncode == 0, r.stderr
    assert "stream rtmp://127.0.0.1:1/live/nobody: lost" in r.stderr and "the other outputs go on" in r.stderr
    assert "Traceback" not in r.stderr
    frames = decode(rec, (640, 360))
    assert len(frames) >= 0.9 * 4 * 24  # the recording has the whole show


def test_a_stream_whose_server_comes_back_is_taken_up_again(tmp_path):
    """An RTMP server (ffmpeg listening) stops mid-show and starts again: the show keeps trying
    with back-off and the second server gets pictures."""
    import os
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"rtmp://127.0.0.1:{port}/live/show"

    def server(out):
        return subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-listen", "1", "-i", url, "-c", "copy", "-f", "flv",
                                 str(out)], stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    first = server(tmp_path / "first.flv")
    time.sleep(0.5)
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    show = subprocess.Popen([sys.executable, "-m", "vj", "run", "demo", "--model", "tiny-random", "--headless",
                             "--duration", "14", "--seed", "2", "--no-osc", "--audio", "none", "--size", "320x180",
                             "--stream", url], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    second = None
    try:
        time.sleep(8)  # the model loads, the stream runs a while
        first.kill()  # the mixer goes away...
        first.wait(10)
        time.sleep(0.5)
        second = server(tmp_path / "second.flv")  # ...and comes back
        _, err = show.communicate(timeout=60)
    finally:
        show.kill()
        for p in (first, second):
            if p is not None:
                p.kill()
    assert show.returncode == 0, err
    assert f"stream {url}: lost" in err and "trying again in 2 s" in err, err
    assert f"stream {url}: trying again" in err and "Traceback" not in err
    v = [s for s in probe(tmp_path / "second.flv")["streams"] if s["codec_type"] == "video"][0]
    assert int(v["nb_read_frames"]) > 24  # more than a second of pictures reached the second server


def test_a_bad_stream_url_is_one_clear_line():
    r = vj("run", "demo", "--model", "tiny-random", "--headless", "--duration", "1", "--stream", "http://x/y")
    assert r.returncode == 2
    assert "--stream http://x/y: give a URL such as udp://" in r.stderr and "Traceback" not in r.stderr
