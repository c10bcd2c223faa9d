"""Image-to-image: framing, a real video file through ffmpeg, the loop's own feedback, the similarity filter."""

import subprocess
import time

import numpy as np
import pytest
import torch

from vj.core.errors import VJError
from vj.generate import inputs
from vj.generate.loop import MAX_SKIPS, StreamLoop
from vj.core.snapshot import Snapshot
from helpers import decode, vj

COLOURS = {"red": (255, 0, 0), "lime": (0, 255, 0), "blue": (0, 0, 255)}


@pytest.fixture(scope="module")
def rgb_video(tmp_path_factory):
    """Three seconds: one of red, green, blue each."""
    path = tmp_path_factory.mktemp("video") / "rgb.mp4"
    cmd = ["ffmpeg", "-v", "error", "-y"]
    for c in COLOURS:
        cmd += ["-f", "lavfi", "-i", f"color=c={c}:s=96x64:r=30:d=1"]
    cmd += ["-filter_complex", "[0][1][2]concat=n=3:v=1:a=0", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(cmd, check=True)
    return path


def colour_of(px):
    m = px.reshape(-1, 3).mean(0)
    return min(COLOURS, key=lambda c: float(np.abs(np.array(COLOURS[c]) - m).sum()))


# -- framing ----------------------------------------------------------------------------------------
def marked(h=64, w=64):
    img = torch.zeros(1, 3, h, w)
    img[0, 0, h // 2 - 2:h // 2 + 2, w - 8:w - 2] = 1.0  # a red mark at the right, middle
    return img


def where(img, ch=0):
    ys, xs = torch.nonzero(img[0, ch] > 0.5, as_tuple=True)
    return float(ys.float().mean()), float(xs.float().mean())


def test_identity_framing_is_the_image_itself():
    img = marked()
    assert inputs.transform(img, 1.0, 0.0, 0.0, 0.0) is img


def test_rotation_is_counterclockwise_about_the_centre():
    y, x = where(inputs.transform(marked(), 1.0, 90.0, 0.0, 0.0))
    assert y < 12 and abs(x - 31.5) < 3  # the mark at the right went to the top


def test_shift_moves_right_and_up_by_fractions_of_the_frame():
    img = torch.zeros(1, 3, 64, 128)
    img[0, 0, 40:44, 80:86] = 1.0  # away from the edges (what comes in at an edge is mirrored)
    y0, x0 = where(img)
    y, x = where(inputs.transform(img, 1.0, 0.0, -0.25, 0.25))
    assert x == pytest.approx(x0 - 32, abs=1.5) and y == pytest.approx(y0 - 16, abs=1.5)


def test_zoom_grows_about_the_centre():
    img = torch.zeros(1, 3, 64, 64)
    img[0, 1, 24:40, 24:40] = 1.0  # a 16-pixel green square in the middle
    out = inputs.transform(img, 2.0, 0.0, 0.0, 0.0)
    assert int((out[0, 1] > 0.5).sum()) == pytest.approx(32 * 32, rel=0.1)
    assert where(out, 1) == pytest.approx((31.5, 31.5), abs=1)


# -- a video file --------------------------------------------------------------------------------------
def test_a_video_file_is_read_frame_exact_offline_and_loops(rgb_video):
    src = inputs.VideoFileInput(rgb_video, (64, 64), live=False)
    try:
        got = [colour_of(src.frame(t)) for t in (0.5, 1.5, 2.5, 3.5, 0.2)]
        assert got == ["red", "lime", "blue", "red", "red"]  # on past the end it loops; back in time it restarts
        assert src.frame(0.0).shape == (64, 64, 3)
    finally:
        src.close()


def test_a_video_file_live_is_paced_and_never_waited_for(rgb_video):
    src = inputs.VideoFileInput(rgb_video, (64, 64), live=True)
    try:
        t0 = time.monotonic()
        first = src.frame(0.0)  # may be None at once: the reader thread has not delivered yet
        assert time.monotonic() - t0 < 0.05
        deadline = time.monotonic() + 10
        colours = []
        while time.monotonic() < deadline and len(set(colours)) < 2:
            f = src.frame(0.0)
            if f is not None:
                colours.append(colour_of(f))
            time.sleep(0.05)
        assert colours[0] == "red" and "lime" in colours  # in real time: red for about a second, then green
        assert first is None or colour_of(first) == "red"
    finally:
        src.close()


@pytest.fixture(scope="module")
def orange_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "orange.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=orange:s=64x64:r=30:d=2",
                    "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def test_a_camera_through_opencv(orange_video):
    """No camera on a test machine: OpenCV opens a video file the way it opens a stream URL
    (camera:rtsp://...), so the whole camera path but the device runs."""
    pytest.importorskip("cv2", reason="the camera extra: pip install 'demontage[camera]'")
    cam = inputs.open_input(f"camera:{orange_video}", (48, 64), live=True)
    try:
        deadline = time.monotonic() + 10
        img = None
        while img is None and time.monotonic() < deadline:
            img = cam.image(0.0, (48, 64), torch.device("cpu"))
            time.sleep(0.02)
        assert img is not None and img.shape == (1, 3, 64, 48)  # covered and cropped to the generator's frame
        r, g, b = (float(img[0, c].mean()) for c in range(3))
        assert r > 0.9 and 0.5 < g < 0.8 and b < 0.15  # orange, in RGB order (OpenCV reads BGR)
    finally:
        cam.close()
    with pytest.raises(VJError, match="can't be opened"):
        inputs.open_input("camera:/nonexistent/stream.mp4", (48, 64), live=True)


def test_a_missing_video_file_says_so():
    with pytest.raises(VJError, match="no such file"):
        inputs.open_input("/nonexistent/clip.mp4", (64, 64), live=False)


def frame_at(loop, t, **values):
    v = {"noise.phase": 0.3, "strength": 0.5, "input.similarity": 1.0}  # the filter has a test of its own
    v.update(values)
    return loop.frame(Snapshot(int(t * 24), t, v, ("a cathedral",), 4))


def mean_diff(a, b):
    return float(np.abs(a.astype(np.float64) - b).mean())


def test_image_to_image_follows_the_file_and_strength_sets_how_far(tiny_model, rgb_video):
    loop = StreamLoop(tiny_model, (128, 128), 1, seed=4, input=str(rgb_video))
    try:
        # the input shows through, less and less as the strength grows (a random model listens little)
        gaps = [mean_diff(frame_at(loop, 0.5, strength=s), frame_at(loop, 1.5, strength=s)) for s in (0.05, 0.5, 1.0)]
        assert gaps[0] > 2 and gaps[0] > gaps[1] > gaps[2]
        assert np.array_equal(frame_at(loop, 0.5), frame_at(loop, 0.5))  # and it is repeatable

        # low strength stays near the input as the autoencoder gives it back; full strength leaves it
        img = inputs.to_tensor(loop.input.frame(0.5), torch.device("cpu"))
        with torch.inference_mode():
            back = loop.decode(loop.encode_image(img))
        back = (back[0] * 255).round().byte().permute(1, 2, 0).numpy()
        near, far = frame_at(loop, 0.5, strength=0.05), frame_at(loop, 0.5, strength=1.0)
        assert mean_diff(near, back) < 0.9 * mean_diff(far, back)
        text_only = StreamLoop(tiny_model, (128, 128), 1, seed=4).frame(
            Snapshot(12, 0.5, {"noise.phase": 0.3}, ("a cathedral",), 4))
        assert mean_diff(near, text_only) > mean_diff(far, text_only)
    finally:
        loop.close()


def test_feedback_feeds_the_loops_own_image_back(tiny_model):
    fb = StreamLoop(tiny_model, (128, 128), 1, seed=4, input="feedback")
    plain = StreamLoop(tiny_model, (128, 128), 1, seed=4)
    frames = [frame_at(fb, i / 24, **{"input.zoom": 1.05, "input.rotate": 3.0}) for i in range(6)]
    t2i = [plain.frame(Snapshot(i, i / 24, {"noise.phase": 0.3}, ("a cathedral",), 4)) for i in range(2)]
    assert np.array_equal(frames[0], t2i[0])  # the first frame has nothing to feed back: from noise
    assert not np.array_equal(frames[1], t2i[1])
    assert fb.input.last is not None and fb.input.last.shape == (1, 3, 128, 128)
    with torch.inference_mode():
        again = frame_at(fb, 0.3)
    assert all(np.isfinite(f).all() and f.std() > 0 for f in frames + [again])


def test_feedback_framing_compounds_frame_after_frame(tiny_model):
    """Each frame is made from the previous frame's own output, framed once more: the input of
    frame k is transform(output of k-1), never the first image framed k times over, so zoom and
    turn accumulate (1.05^k, 3k degrees) in what the model is given."""
    fb = StreamLoop(tiny_model, (128, 128), 1, seed=4, input="feedback")
    fed = []
    original = fb._input_image
    fb._input_image = lambda snap: fed.append(original(snap)) or fed[-1]
    outputs = []
    for i in range(5):
        frame_at(fb, i / 24, **{"input.zoom": 1.05, "input.rotate": 3.0})
        outputs.append(fb.input.last.clone())  # what this frame fed back
    assert fed[0] is None  # the first frame has nothing to feed back
    for k in range(1, 5):
        assert torch.allclose(fed[k], inputs.transform(outputs[k - 1], 1.05, 3.0, 0.0, 0.0))
        assert not torch.allclose(outputs[k], outputs[k - 1])  # each output is new: the framing builds on it
    # framed twice is zoomed by 1.05^2: a smooth picture (the random model's are noise) shows it exactly
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 128), torch.linspace(-1, 1, 128), indexing="ij")
    smooth = torch.stack([(xx + 1) / 2, (yy + 1) / 2, 0.5 + 0.5 * torch.sin(2 * xx)]).unsqueeze(0)
    twice = inputs.transform(inputs.transform(smooth, 1.05, 0.0, 0.0, 0.0), 1.05, 0.0, 0.0, 0.0)
    assert torch.allclose(twice, inputs.transform(smooth, 1.05 ** 2, 0.0, 0.0, 0.0), atol=0.01)


def test_the_similarity_filter_skips_a_still_input_but_never_for_long(tiny_model, orange_video):
    loop = StreamLoop(tiny_model, (64, 64), 1, seed=4, input=str(orange_video))
    try:
        made = [frame_at(loop, i / 24, **{"input.similarity": 0.95}) is not None for i in range(40)]
        assert made[0] and loop.skipped > 10
        run = longest = 0
        for m in made:
            run = 0 if m else run + 1
            longest = max(longest, run)
        assert longest <= MAX_SKIPS
        loop.skipped = 0
        assert all(frame_at(loop, i / 24, **{"input.similarity": 1.0}) is not None for i in range(10))
        assert all(frame_at(loop, i / 24, **{"noise.phase": i / 100}) is not None for i in range(10))
        assert loop.skipped == 0  # off, or something else moving (the walk): every frame is made
    finally:
        loop.close()


def test_render_from_a_video_file_and_from_feedback(tmp_path, rgb_video):
    for src in (str(rgb_video), "feedback"):
        out = tmp_path / "out.mp4"
        r = vj("render", "demo", "--model", "tiny-random", "--duration", "1", "--size", "160x96", "--fps", "12",
               "--seed", "3", "--audio", "none", "--input", src, "--out", str(out))
        assert r.returncode == 0, r.stderr
        frames = decode(out, (160, 96))
        assert len(frames) == 12 and frames.std() > 2
    r = vj("render", "demo", "--model", "tiny-random", "--duration", "1", "--input", str(tmp_path / "nope.mp4"),
           "--out", str(tmp_path / "x.mp4"))
    assert r.returncode != 0 and "nope.mp4: no such file" in r.stderr and "Traceback" not in r.stderr
