"""NDI out of `vj run`, received on loopback by a real NDI receiver (cyndilib, the ndi extra)."""

import json
import subprocess
import sys
import time

import pytest

from helpers import ROOT

pytest.importorskip("cyndilib", reason="the ndi extra: pip install 'demontage[ndi]'")

RECEIVER = r"""
import json, sys, time
import numpy as np
from cyndilib.finder import Finder
from cyndilib.receiver import Receiver, ReceiveFrameType
from cyndilib.video_frame import VideoRecvFrame
from cyndilib.wrapper.ndi_recv import RecvBandwidth, RecvColorFormat

want = sys.argv[1]
f = Finder(); f.open()
deadline = time.monotonic() + 60
name = None
while name is None and time.monotonic() < deadline:
    f.wait(timeout=0.5)
    name = next((n for n in f.get_source_names() if want in n), None)
if name is None:
    print(json.dumps({"error": "no source", "seen": f.get_source_names()})); sys.exit(0)
r = Receiver(color_format=RecvColorFormat.RGBX_RGBA, bandwidth=RecvBandwidth.highest)
vf = VideoRecvFrame(); r.set_video_frame(vf); r.set_source(f.get_source(name))
frames, size, mean = 0, None, None
while frames < 10 and time.monotonic() < deadline:
    if r.receive(ReceiveFrameType.recv_video, 500) & ReceiveFrameType.recv_video:
        size = vf.get_resolution()
        buf = np.zeros(vf.get_data_size(), np.uint8); vf.fill_p_data(buf)
        px = buf.reshape(size[1], size[0], 4)
        mean, std = px[..., :3].mean(axis=(0, 1)).tolist(), float(px[..., :3].std())
        frames += 1
r.disconnect(); f.close()
print(json.dumps({"name": name, "frames": frames, "size": size, "mean": mean, "std": std}))
"""


def test_the_program_goes_out_as_an_ndi_source(tmp_path):
    cfg = tmp_path / "ndi"
    cfg.mkdir()
    # no multicast in a container: NDI is told where to look (as a club network may need, see ndi.py)
    (cfg / "ndi-config.v1.json").write_text(json.dumps({"ndi": {"networks": {"ips": "127.0.0.1"}}}))
    env = {**__import__("os").environ, "NDI_CONFIG_DIR": str(cfg)}
    env.pop("DISPLAY", None)
    show = subprocess.Popen([sys.executable, "-m", "vj", "run", "demo", "--model", "tiny-random", "--headless",
                             "--duration", "25", "--no-osc", "--audio", "none", "--size", "320x180",
                             "--ndi", "vj-ndi-test", "--out", str(tmp_path / "rec.mp4")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        got = subprocess.run([sys.executable, "-c", RECEIVER, "vj-ndi-test"], env=env, capture_output=True,
                             text=True, timeout=120)
    finally:
        show.terminate()
        _, err = show.communicate(timeout=60)
    out = json.loads(got.stdout.strip().splitlines()[-1])
    assert "error" not in out, (out, got.stderr)
    assert out["frames"] == 10 and tuple(out["size"]) == (320, 180)
    assert out["std"] > 2 and 10 < sum(out["mean"]) / 3 < 245  # a picture, not black, not flat
    assert "NDI vj-ndi-test: lost" not in err and "Traceback" not in err
