"""`vj run` as a performer starts it: headless on a rig, and in a real X window (Xvfb)."""

import re
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import ROOT, decode, probe, vj


def video_and_audio(path):
    streams = probe(path)["streams"]
    v = [s for s in streams if s["codec_type"] == "video"]
    a = [s for s in streams if s["codec_type"] == "audio"]
    return v, a


@pytest.mark.parametrize("audio", ["none", "sets/demo-beat.ogg"])
def test_headless_run_records_for_its_duration(tmp_path, audio):
    out = tmp_path / "y.mp4"
    r = vj("run", "--headless", "--duration", "3", "--out", str(out), "--audio", audio, "--model", "tiny-random",
           "--seed", "4", "--size", "320x180")
    assert r.returncode == 0, r.stderr
    v, a = video_and_audio(out)
    assert len(v) == 1 and (v[0]["width"], v[0]["height"]) == (320, 180)
    assert int(v[0]["nb_read_frames"]) == 72  # 3 s at the demo set's 24 fps, padded to the end
    assert len(a) == (0 if audio == "none" else 1)
    frames = decode(out, (320, 180))
    assert frames[-1].std() > 2 and frames[-1].mean() > 10  # a picture, not black
    m = re.search(r"show: (\d+) frames .* generator (\d+) frames, (\d+) errors", r.stderr)
    assert m and int(m.group(2)) > 0 and int(m.group(3)) == 0


def test_a_second_show_is_recorded_beside_the_first_never_over_it(tmp_path):
    out = tmp_path / "show.mp4"
    args = ("run", "--headless", "--duration", "1", "--out", str(out), "--audio", "none", "--model", "tiny-random",
            "--size", "160x96")
    assert vj(*args, "--seed", "4").returncode == 0
    first = out.read_bytes()
    r = vj(*args, "--seed", "5")  # the rig restarted, the same command again
    assert r.returncode == 0, r.stderr
    beside = tmp_path / "show-2.mp4"
    assert f"recording to {beside} beside it" in r.stderr and f"recorded {beside}" in r.stderr
    assert out.read_bytes() == first  # the first show is whole
    assert int(video_and_audio(beside)[0][0]["nb_read_frames"]) == 24
    assert not np.array_equal(decode(out, (160, 96)), decode(beside, (160, 96)))


def test_a_live_recording_goes_on_after_its_sound_file_ends(tmp_path):
    """The performer plays a 1 s file in a 6 s show: the sound ends, the picture and its recording
    do not (the rest of the track is silence)."""
    import wave

    short = tmp_path / "short.wav"
    with wave.open(str(short), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(48000)
        t = np.arange(48000) / 48000
        w.writeframes((8000 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes())
    out = tmp_path / "y.mp4"
    r = vj("run", "--headless", "--duration", "6", "--out", str(out), "--audio", str(short), "--no-monitor",
           "--model", "tiny-random", "--seed", "4", "--size", "320x180")
    assert r.returncode == 0, r.stderr
    assert "lost" not in r.stderr, r.stderr
    assert "audio 0.00 short.wav ENDED (silence from here)" in r.stderr  # the status line says why it went quiet
    v, a = video_and_audio(out)
    assert int(v[0]["nb_read_frames"]) == 144
    assert len(a) == 1 and float(a[0]["duration"]) >= 5.9


def test_a_looped_sound_file_goes_round_in_the_show_and_in_its_recording(tmp_path):
    import wave

    short = tmp_path / "short.wav"
    with wave.open(str(short), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(48000)
        w.writeframes((8000 * np.sin(2 * np.pi * 220 * np.arange(24000) / 48000)).astype("<i2").tobytes())  # 0.5 s
    out = tmp_path / "y.mp4"
    r = vj("run", "--headless", "--duration", "3", "--out", str(out), "--audio", str(short), "--audio-loop",
           "--no-monitor", "--model", "tiny-random", "--seed", "4", "--size", "320x180")
    assert r.returncode == 0, r.stderr
    assert "looped" in r.stderr
    v, a = video_and_audio(out)
    assert int(v[0]["nb_read_frames"]) == 72 and len(a) == 1
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", str(out), "-f", "s16le", "-ac", "1", "-ar", "8000", "-"],
                         capture_output=True, check=True).stdout
    sound = np.frombuffer(pcm, "<i2").astype(float)
    assert len(sound) >= 2.9 * 8000
    assert np.sqrt(np.mean(sound[int(2.0 * 8000):int(2.8 * 8000)] ** 2)) > 1000  # still the tone at 2-2.8 s


def _window_geometry(display):
    tree = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True,
                          env={"DISPLAY": display}).stdout
    for line in tree.splitlines():
        if "démontage" in line or "d\\303\\251montage" in line:
            m = re.search(r"(0x[0-9a-f]+).*\s(\d+)x(\d+)\+(-?\d+)\+(-?\d+)", line)
            if m:
                return m.group(1), *(int(x) for x in m.groups()[1:])
    return None


def _screenshot_of_a_run(tmp_path, display, args, ready=None):
    """Start `vj run ARGS` in the X server, screenshot its window once it plays (and, with
    `ready(img)`, again until that holds: a busy machine takes longer), wait for it to end.
    Returns (the last screenshot as (h, w, 3) float, its stderr, its exit code)."""
    import os
    import threading

    proc = subprocess.Popen([sys.executable, "-m", "vj", "run", *args], cwd=ROOT,
                            env={**os.environ, "DISPLAY": display}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        geom, deadline = None, time.monotonic() + 180  # a loaded machine takes its time to start a show
        while geom is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            geom = _window_geometry(display)
        assert geom, f"no démontage window appeared (exit code {proc.poll()}): {''.join(lines)[-2000:]}"
        wid, w, h, _, _ = geom
        assert (w, h) == (320, 180)
        while not any("playing" in ln for ln in lines) and time.monotonic() < deadline:
            time.sleep(0.1)  # the model loads first (the window shows the warm-up image meanwhile)
        shot = tmp_path / "shot.png"
        while True:
            time.sleep(0.5)
            subprocess.run(["import", "-window", wid, str(shot)], env={"DISPLAY": display}, check=True, timeout=30)
            raw = subprocess.run(["convert", str(shot), "-depth", "8", "rgb:-"], capture_output=True, check=True).stdout
            img = np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(np.float64)
            if ready is None or ready(img) or proc.poll() is not None:
                break
    finally:
        proc.wait(timeout=60)
        reader.join(10)
    return img, "".join(lines), proc.returncode


@pytest.mark.display
def test_window_shows_the_composited_image(tmp_path, xvfb):
    rec = tmp_path / "rec.mp4"
    box = (slice(14, 40), slice(14, 150))
    white = lambda a: int((a[box].min(axis=-1) > 225).sum())  # noqa: E731
    # the first frames of the show carry the overlay: a busy machine draws them later
    img, err, code = _screenshot_of_a_run(tmp_path, xvfb, ["--duration", "20", "--audio", "none", "--model",
                                                           "tiny-random", "--seed", "5", "--size", "320x180",
                                                           "--out", str(rec)], ready=lambda img: white(img) > 40)
    assert code == 0, err
    assert "no display" not in err  # it really used the window
    assert img.mean() > 10 and img.std() > 5  # a picture, not black, not flat
    # The window shows the program: below the status overlay the screenshot matches one of the
    # recorded program frames.
    frames = decode(rec, (320, 180)).astype(np.float64)
    below = slice(100, 180)
    best = min(np.abs(f[below] - img[below]).mean() for f in frames)
    typical = np.mean([np.abs(frames[i][below] - frames[j][below]).mean() for i, j in ((10, 100), (50, 200), (0, 230))])
    assert best < 6.0, (best, typical)
    assert best < typical
    # The overlay (status text, white on a dark panel, top left) is on the window, not in the recording.
    assert white(img) > 40
    assert max(white(f) for f in frames) < 5


@pytest.mark.display
def test_split_view_shows_the_input_feed_beside_the_program_and_records_only_the_program(tmp_path, xvfb):
    """Image-to-image from an orange video: the window's left half shows the input as the generator
    process read it (through its shared memory), the right half the program; the file gets the
    program alone."""
    clip, rec = tmp_path / "orange.mp4", tmp_path / "rec.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=0xFF8000:s=96x96:r=30:d=30",
                    "-pix_fmt", "yuv420p", str(clip)], check=True)
    orange = np.array([255, 128, 0])
    feed_of = lambda img: img[120:165, 30:130]  # noqa: E731  (the left half, below the status overlay)
    orange_feed = lambda img: np.abs(feed_of(img) - orange).max(axis=-1).mean() < 24  # noqa: E731
    # the input's frames come through the generator process: a busy machine shows them later
    img, err, code = _screenshot_of_a_run(tmp_path, xvfb, ["--duration", "20", "--audio", "none", "--model",
                                                           "tiny-random", "--seed", "5", "--size", "320x180",
                                                           "--input", str(clip), "--split", "--out", str(rec)],
                                          ready=orange_feed)
    assert code == 0, err
    feed = feed_of(img)
    assert np.abs(feed - orange).max(axis=-1).mean() < 24, feed.mean(axis=(0, 1))
    # the right half: the program letterboxed into 160x90 (rows 45..135); each window pixel is the
    # average of a 2x2 block of the program
    frames = decode(rec, (320, 180)).astype(np.float64)
    assert frames.shape[1:3] == (180, 320)  # the recording is the program, whole
    halves = frames.reshape(-1, 90, 2, 160, 2, 3).mean(axis=(2, 4))
    right = img[100:135, 160:320]
    best = min(np.abs(f[55:90] - right).mean() for f in halves)
    typical = np.mean([np.abs(halves[i][55:90] - halves[j][55:90]).mean() for i, j in ((10, 100), (50, 200))])
    assert best < 8.0 and best < typical, (best, typical)
    assert all(np.abs(f[120:165, 30:130] - orange).max(axis=-1).mean() > 40 for f in frames[::10])


def test_a_recording_that_dies_is_logged_kept_and_the_show_goes_on(tmp_path):
    out = tmp_path / "cut.mp4"
    import os

    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    proc = subprocess.Popen([sys.executable, "-m", "vj", "run", "--headless", "--duration", "10", "--out", str(out),
                             "--audio", "none", "--model", "tiny-random", "--seed", "4", "--size", "320x180"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 20000):
            time.sleep(0.2)  # wait for the first fragments on disk
        assert out.exists() and out.stat().st_size > 20000
        subprocess.run(["pkill", "-9", "-f", f"ffmpeg.*{out.name}"], check=True)  # the disk "fills"
        _, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"file {out}: lost" in err and "the show goes on" in err
    m = re.search(r"show: (\d+) frames in ([0-9.]+) s", err)
    assert m and float(m.group(2)) >= 9.5  # it played its whole duration
    assert f"recorded {out}" not in err  # no claim that the file is complete
    frames = decode(out, (320, 180))  # what reached the disk still plays
    assert len(frames) >= 24
