"""An error names where its value came from (the set's file:line, or the flag), and the command line's
ranges are the set's: `vj` run as a performer runs it, on sets copied into a folder of their own."""

import re
import shutil

import pytest

from helpers import ROOT, vj
from vj.core.spec import RANGES


def _line(path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(text))


def _error(r) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("vj: error: ")]
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0].removeprefix("vj: error: ")


def test_a_value_from_the_set_is_blamed_on_its_line_not_on_a_flag(tmp_path):
    """`vj render club --model seedling`: tiny_vae came from the set, not from --tiny-vae."""
    club = tmp_path / "club.toml"
    shutil.copy(ROOT / "sets" / "club.toml", club)
    r = vj("render", str(club), "--model", "seedling", "--out", str(tmp_path / "x.mp4"), "--duration", "1",
           "--state", "none", timeout=120)
    said = _error(r)
    assert said.startswith(f"{club}:{_line(club, 'tiny_vae')}: [generator] tiny_vae: seedling paints in pixels"), said
    assert "--tiny-vae" not in said and "loading model" not in r.stderr  # said before any model loads


def test_a_value_from_a_flag_is_blamed_on_the_flag(tmp_path):
    r = vj("render", "demo", "--tiny-vae", "--out", str(tmp_path / "x.mp4"), "--duration", "1", "--state", "none",
           timeout=120)
    assert _error(r).startswith("--tiny-vae: seedling paints in pixels")
    r = vj("run", "demo", "--model", "dcgan-faces", "--input", "feedback", "--headless", "--audio", "none",
           "--duration", "1", "--state", "none", timeout=120)
    assert _error(r).startswith("--input 'feedback': dcgan-faces makes pictures from its latent alone")


def test_a_missing_model_named_in_the_set_is_said_at_its_line_with_the_models_that_need_nothing(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text((ROOT / "sets" / "demo.toml").read_text().replace('model = "seedling"', 'model = "sd-turbo"'))
    for command in (["render", str(mine), "--out", str(tmp_path / "x.mp4"), "--duration", "1"],
                    ["run", str(mine), "--headless", "--audio", "none", "--duration", "1"]):
        said = _error(vj(*command, "--state", "none", env={"HF_HUB_OFFLINE": "1"}, timeout=180))
        assert said.startswith(f"{mine}:{_line(mine, 'model')}: [generator] model 'sd-turbo' can't be loaded"), said
        assert "play a model that needs nothing: seedling (built in" in said and "dcgan-faces" in said
    said = _error(vj("render", str(mine), "--model", "sd-turbbo", "--out", str(tmp_path / "x.mp4"), "--duration", "1",
                     "--state", "none"))
    assert said.startswith("--model 'sd-turbbo' is unknown (did you mean 'sd-turbo'?)") and "seedling" in said


FLAGS = [("--steps", "steps", "[generator]", "steps"), ("--deep-cache", "deep_cache", "[generator]", "deep_cache"),
         ("--fps", "fps", "[show]", "fps"), ("--quantum", "quantum", "[tempo]", "quantum"),
         ("--audio-channel", "audio_channel", "[audio]", "channel")]


@pytest.mark.parametrize("flag, key, section, set_key", FLAGS)
def test_a_flag_and_the_sets_key_share_one_range_and_the_help_says_it(tmp_path, flag, key, section, set_key):
    lo, hi = RANGES[key]
    span = f"{lo:g}..{hi:g}"
    helped = re.sub(r"\s+", " ", vj("run", "--help").stdout)
    said = re.search(rf" {flag} \S+ (.*?)(?= -[-a-z])", helped)
    assert said and f"({span}" in said.group(1), helped
    for value in (hi + 1, lo - 1):  # said before anything starts (the show at `hi` plays: the check below)
        r = vj("run", "demo", "--headless", "--audio", "none", "--duration", "0.5", "--state", "none", flag, str(value),
               timeout=180)
        assert _error(r) == f"{flag} {value:g}: out of range {span}"
    for value, said in ((hi, ""), (hi + 1, f"{set_key} = {hi + 1} is out of range [{lo}, {hi}]")):
        mine = tmp_path / "mine.toml"
        mine.write_text(f"{section}\n{set_key} = {value}\n")
        r = vj("check", str(mine))
        assert said in r.stdout and (said or r.stdout == ""), r.stdout
