"""The depth preprocessor (issue 27): a depth network read through transformers' own loading code.

No depth weights ship in a package and no hub is reachable here, so the network is Depth Anything's
architecture, tiny and random (fixtures.tiny_depth), written to a folder and read back by
AutoModelForDepthEstimation as a downloaded Depth Anything V2 Small is. Its maps mean nothing as
depth; what is tested is the path: the picture prepared as transformers' own image processor
prepares it, the map made in a show and shown, a network that isn't there said in one line."""

import numpy as np
import pytest

from vj.generate import fixtures


@pytest.fixture(scope="module")
def depth_net(tmp_path_factory):
    return fixtures.tiny_depth(tmp_path_factory.mktemp("depth") / "tiny-depth-anything")


def _pictures(w, h):
    from vj.bench.guided import test_pictures

    return [p for _, p in test_pictures(w, h)]


def test_the_depth_map_is_the_networks_own_reading_of_the_picture(depth_net):
    """The map equals what transformers' image processor and the network make of the picture
    (resized to the same size, normalised as ImageNet was), stretched to 0..255 and scaled back:
    rank correlation over 0.97 on every test picture, at two picture sizes."""
    import torch
    from scipy.stats import spearmanr
    from transformers import AutoModelForDepthEstimation, DPTImageProcessor
    from vj.maps.depth import depth_side
    from vj.maps.preprocess import preprocessor

    depth = preprocessor(f"depth:{depth_net}")
    net = AutoModelForDepthEstimation.from_pretrained(depth_net).eval()
    for w, h in ((224, 128), (320, 240)):
        k = depth_side("cpu") / min(w, h)
        size = {"height": round(h * k / 14) * 14, "width": round(w * k / 14) * 14}
        proc = DPTImageProcessor(size=size, keep_aspect_ratio=False, ensure_multiple_of=14, do_pad=False,
                                 image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
        for pic in _pictures(w, h):
            m = depth(pic)
            assert m.shape == (h, w) and m.dtype == np.uint8 and m.std() > 10
            with torch.inference_mode():
                ref = net(**proc(images=pic, return_tensors="pt")).predicted_depth[0].numpy()
            import cv2

            ref = cv2.resize(ref, (w, h), interpolation=cv2.INTER_LINEAR)
            rho = spearmanr(m.ravel(), ref.ravel()).statistic
            assert rho > 0.97, (w, h, rho)


DEPTH_SET = """
[show]
size = [224, 128]
fps = 12

[generator]
model = "seedling"
steps = 1
input = "{video}"

[[prompt]]
text = "red rings"

[[control]]
name = "deep"
model = "seedling-edges"
preprocessor = "{pre}"
source = "input"

[[layer]]
source = "control"
"""


def test_a_set_reads_depth_through_vj_check_and_vj_render_and_a_missing_network_is_one_line(depth_net, tmp_path):
    """preprocessor = "depth:<folder>": `vj check` passes, `vj render` shows the map as the control
    layer (a map for each frame of a moving video). A folder that isn't there is `vj check`'s one
    line; a hub id not in the cache plays on without that control, said in one line."""
    import subprocess

    from helpers import decode, vj

    video = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=224x128:rate=12", "-t", "2",
                    "-pix_fmt", "yuv420p", str(video)], check=True)
    path = tmp_path / "deep.toml"
    path.write_text(DEPTH_SET.format(video=video, pre=f"depth:{depth_net}"))
    r = vj("check", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    r = vj("render", str(path), "--out", str(tmp_path / "deep.mp4"), "--duration", "1.5")
    assert r.returncode == 0, r.stderr
    frames = decode(tmp_path / "deep.mp4", (224, 128)).astype(float)
    assert len(frames) >= 12
    grey = frames.mean(axis=3)
    assert all(f.std() > 10 for f in grey[3:]), [round(f.std(), 1) for f in grey]  # maps, not a flat layer
    assert np.abs(np.diff(grey[3:], axis=0)).mean() > 1.0  # the video moves, its maps with it
    assert np.abs(frames[-1][..., 0] - frames[-1][..., 1]).max() < 12  # grey: the map, not a picture

    path.write_text(DEPTH_SET.format(video=video, pre="depth:./nowhere"))
    r = vj("check", str(path))
    assert r.returncode != 0 and "no such folder" in r.stdout + r.stderr and "Traceback" not in r.stderr

    path.write_text(DEPTH_SET.format(video=video, pre="depth:nobody/no-depth-model"))
    r = vj("render", str(path), "--out", str(tmp_path / "gone.mp4"), "--duration", "1", env={"HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0 and (tmp_path / "gone.mp4").is_file(), r.stderr
    said = [line for line in r.stderr.splitlines() if "nobody/no-depth-model: can't load" in line]
    assert len(said) == 1 and "the show goes on without it" in said[0] and "Traceback" not in r.stderr, r.stderr
