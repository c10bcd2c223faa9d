"""A camera that isn't there is said in our one line, without OpenCV's own `[ WARN:0@0.02] ...
VIDEOIO ...` lines from C++ before it; with -v they are there (the library's detail, for debugging).
Through `vj run --camera N` (the generator's process) and a set's camera layer (the show's)."""

import pytest

from helpers import vj

MISSING = "7"  # no /dev/video7 on the test machines (nor a camera at all)

LAYER = """[generator]
model = "seedling"

[[layer]]
source = "generator"

[[layer]]
source = "camera:7"
blend = "screen"
"""


def _run(*args):
    return vj("run", *args, "--headless", "--audio", "none", "--duration", "2", "--state", "none", timeout=240)


@pytest.mark.parametrize("where", ["--camera", "a camera layer"])
def test_opencvs_own_lines_stay_out_of_the_terminal_unless_asked(tmp_path, where):
    pytest.importorskip("cv2")
    if where == "--camera":
        args = ["demo", "--camera", MISSING]
    else:
        (tmp_path / "cam.toml").write_text(LAYER)
        args = [str(tmp_path / "cam.toml")]
    r = _run(*args)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith(f"vj: error: camera {MISSING}: can't be opened")
    assert "[ WARN" not in r.stderr and "VIDEOIO" not in r.stderr, r.stderr
    loud = _run(*args, "-v")
    assert loud.returncode == 2 and "VIDEOIO" in loud.stderr  # -v: the library's own detail is there
