import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the network
# the performer's own shader folder (~/.config/demontage/shaders) must not change what tests see
os.environ["VJ_SHADERS"] = str(Path(__file__).resolve().parent / "no-user-shaders")
# show logs go to a folder of the session's own, not the machine's ~/.local/state
os.environ["VJ_STATE"] = tempfile.mkdtemp(prefix="vj-test-state-")


@pytest.fixture(scope="session")
def gl_ctx():
    """A real OpenGL context through EGL (Mesa llvmpipe here, the GPU's driver elsewhere)."""
    from vj.render.context import open_headless

    surface = open_headless()
    yield surface.ctx
    surface.ctx.release()


@pytest.fixture(scope="session")
def tiny_model():
    import torch

    from vj.generate import registry

    return registry.load(registry.resolve("tiny-random"), torch.device("cpu"), torch.float32)


@pytest.fixture(scope="session")
def tiny_xl_model():
    import torch

    from vj.generate import registry

    return registry.load(registry.resolve("tiny-random-xl"), torch.device("cpu"), torch.float32)


def _free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture(scope="session")
def xvfb():
    """A real X server (Xvfb) for window tests; yields the DISPLAY string."""
    if not sys.platform.startswith("linux"):
        pytest.skip("Xvfb tests run on Linux")
    exe = shutil.which("Xvfb")
    assert exe, "Xvfb is missing: `make setup` installs it (Debian package xvfb)"
    n = _free_display()
    proc = subprocess.Popen([exe, f":{n}", "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        assert proc.poll() is None, "Xvfb exited at start"
        assert time.monotonic() < deadline, "Xvfb did not start within 10 s"
        time.sleep(0.05)
    yield f":{n}"
    proc.terminate()
    proc.wait(5)
