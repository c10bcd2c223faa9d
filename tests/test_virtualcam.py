"""The virtual camera output. No v4l2loopback device can be loaded on a test machine, so the
camera itself is a fake (FakeCamera, at that boundary); everything on our side is real: the GL
readback, the mailbox, the sender thread, and the engine dropping an output whose device fails."""

import time

import numpy as np

from helpers import red_over_blue
from vj.output.base import ProgramFrame
from vj.output.virtualcam import VirtualCameraOutput
from vj.render.compositor import Compositor
from vj.core.snapshot import Snapshot


class FakeCamera:
    """Stands in for pyvirtualcam.Camera (send / close / device); fails on demand like a device unplugged."""

    device = "/dev/video-fake"

    def __init__(self, fail_after: int | None = None) -> None:
        self.frames = []
        self.fail_after = fail_after
        self.closed = False

    def send(self, frame):
        if self.fail_after is not None and len(self.frames) >= self.fail_after:
            raise RuntimeError("device went away")
        self.frames.append(frame)

    def close(self):
        self.closed = True


def test_the_program_goes_to_the_camera_upright_in_rgb(gl_ctx):
    c = red_over_blue(gl_ctx)
    cam = FakeCamera()
    out = VirtualCameraOutput((64, 48), 30.0, opener=lambda size, fps, dev: cam)
    try:
        out.present(ProgramFrame(c, 0.0, 0))
        deadline = time.monotonic() + 5
        while not cam.frames and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        out.close()
    f = cam.frames[0]
    assert f.shape == (48, 64, 3) and f.dtype == np.uint8
    assert tuple(f[2, 32]) == (255, 0, 0) and tuple(f[45, 32]) == (0, 0, 255)  # row 0 at the top
    assert cam.closed and out.name == "virtual camera /dev/video-fake"


def test_a_camera_that_fails_is_reported_to_the_engine(gl_ctx):
    c = Compositor(gl_ctx, (64, 48))
    c.render(Snapshot(0, 0.0, {}, ("x",), 1))
    cam = FakeCamera(fail_after=1)
    out = VirtualCameraOutput((64, 48), 30.0, opener=lambda size, fps, dev: cam)
    try:
        raised = None
        deadline = time.monotonic() + 5
        while raised is None and time.monotonic() < deadline:
            try:
                out.present(ProgramFrame(c, 0.0, 0))
            except RuntimeError as e:
                raised = str(e)
            time.sleep(0.01)
    finally:
        out.close()
    assert raised == "RuntimeError: device went away"  # the engine logs it and drops this output


def test_without_pyvirtualcam_or_a_device_it_is_one_clear_line():
    from helpers import vj

    r = vj("run", "demo", "--model", "tiny-random", "--headless", "--duration", "1", "--no-osc", "--virtualcam")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "virtual camera" in r.stderr.lower() or "virtualcam" in r.stderr
