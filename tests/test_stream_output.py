"""Network streams out of `vj run`: a real ffmpeg receiver on UDP, and an endpoint that is not there."""

import socket
import subprocess

from helpers import ROOT, decode, probe, vj, wait_until


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
    with back-off and the second server gets pictures. Each step waits for its event (pictures on
    the first server, the show saying it lost the stream, pictures on the second), never a fixed time."""
    import os
    import signal
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"rtmp://127.0.0.1:{port}/live/show"
    first_out, second_out, log = tmp_path / "first.flv", tmp_path / "second.flv", tmp_path / "show.log"

    def server(out):
        return subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-listen", "1", "-i", url, "-c", "copy", "-f", "flv",
                                 str(out)], stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def grown(path, size):
        return lambda: path.exists() and path.stat().st_size > size

    first = server(first_out)
    wait_until("RTMP server listening", lambda: _listening(port), alive=first)
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    second = None
    with open(log, "w") as err_file:
        show = subprocess.Popen([sys.executable, "-m", "vj", "run", "demo", "--model", "tiny-random", "--headless",
                                 "--duration", "600", "--seed", "2", "--no-osc", "--audio", "none", "--size",
                                 "320x180", "--stream", url], cwd=ROOT, env=env, stderr=err_file, text=True)
        try:
            wait_until("pictures on the first server", grown(first_out, 20_000), alive=show)
            first.kill()  # the mixer goes away...
            first.wait(10)
            wait_until("'lost' from the show", lambda: f"stream {url}: lost" in log.read_text(), alive=show)
            second = server(second_out)  # ...and comes back
            wait_until("pictures on the second server", grown(second_out, 40_000), timeout=180, alive=show)
            show.send_signal(signal.SIGINT)  # the performer stops the show
            show.wait(60)
        finally:
            show.kill()
            for p in (first, second):
                if p is not None:
                    p.terminate()
                    p.wait(10)
    err = log.read_text()
    assert show.returncode == 0, err
    assert f"stream {url}: lost" in err and "trying again in 2 s" in err, err
    assert f"stream {url}: trying again" in err and "Traceback" not in err
    v = [s for s in probe(second_out)["streams"] if s["codec_type"] == "video"][0]
    assert int(v["nb_read_frames"]) > 24  # more than a second of pictures reached the second server


def _listening(port: int) -> bool:
    """ffmpeg -listen has bound its port (a plain connect would be taken as the one client it serves)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                return True
    return False


def test_a_bad_stream_url_is_one_clear_line():
    r = vj("run", "demo", "--model", "tiny-random", "--headless", "--duration", "1", "--stream", "http://x/y")
    assert r.returncode == 2
    assert "--stream http://x/y: give a URL such as udp://" in r.stderr and "Traceback" not in r.stderr
