"""`vj check`: every problem of a set at once, with file:line and a hint; the shipped sets pass."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BAD = """# a set with one mistake of each kind
[show]
size = [640, 361]
fps = 24

[generator]
model = "seedling"
steps = 9

[[prompt]]
text = "red rings {on black"

[params]
"strenght" = 0.5
"feedback.amount" = 2.0

[[route]]
source = "audio.levl"
target = "noise.kick"

[[route]]
source = "audio.level"
target = "feedbak.zoom"

[[scene]]
name = "calm"
params = { "noise.wlk" = 1.0 }

[[envelope]]
name = "hit"
trigger = "audio.onsett"
"""


def vj_check(*sets) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vj", "check", *map(str, sets)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_every_shipped_set_passes_the_check():
    sets = sorted((ROOT / "sets").glob("*.toml"))
    assert len(sets) >= 2
    r = vj_check(*sets)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == "" and r.stderr.count(": ok") == len(sets)


def test_the_readmes_annotated_set_passes_the_check(tmp_path):
    import re

    text = (ROOT / "README.md").read_text()
    example = re.search(r"## A set, in brief.*?```toml\n(.*?)```", text, re.S)
    assert example, "the README has its annotated set"
    (tmp_path / "night.toml").write_text(example.group(1))
    r = vj_check(tmp_path / "night.toml")
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr


def test_every_problem_is_said_at_once_with_its_line_and_a_hint(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    r = vj_check(bad)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    expected = [  # (line, what the message must say)
        (3, "size 640x361: each side must be even"),
        (8, "steps = 9 is out of range [1, 8]"),
        (11, "is never closed"),
        (14, "no parameter named 'strenght' (did you mean 'strength'?)"),
        (15, "'feedback.amount' = 2 is outside [0, 0.99]"),
        (18, "unknown source 'audio.levl' (did you mean 'audio.level'?)"),
        (23, "no parameter named 'feedbak.zoom' (did you mean 'feedback.zoom'?)"),
        (27, "no parameter named 'noise.wlk' (did you mean 'noise.walk'?)"),
        (31, "trigger 'audio.onsett' (did you mean 'audio.onset'?)"),
    ]
    assert len(lines) == len(expected), r.stdout
    for (line, what), got in zip(expected, lines):
        assert got.startswith(f"{bad}:{line}: ") and what in got, (line, what, got)
    assert "9 problems" in r.stderr and "Traceback" not in r.stderr


def test_a_file_that_is_not_toml_gets_its_line_and_a_missing_set_one_line(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[show]\nfps = 24\nname = demo\n")  # a text without its quotes
    r = vj_check(broken, tmp_path / "nowhere.toml")
    assert r.returncode == 1
    first, second = r.stdout.splitlines()
    assert first.startswith(f"{broken}:") and "not valid TOML" in first
    assert first.split(":")[1] == "3"
    assert "not found" in second and "shipped sets:" in second


def test_a_show_still_stops_at_the_first_problem(tmp_path):
    """Starting a show, the same reading raises the first problem as one line."""
    import pytest

    from vj.show.setfile import load_set
    from vj.core.errors import ConfigError

    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    with pytest.raises(ConfigError, match=r"\[show\]: size 640x361"):
        load_set(bad)
