from pathlib import Path

import pytest

from vj.assemble import build_controls
from vj.show.setfile import load_set, parse_set, parse_size
from vj.core.spec import ShowSet
from vj.core.errors import ConfigError
from vj.resources import data_dir, find_set


def test_demo_set_loads_and_its_audio_is_beside_it():
    s = load_set(find_set("demo"))
    assert s.size == (640, 360) and s.fps == 24
    assert s.audio == data_dir("sets") / "demo-beat.ogg" and s.audio.is_file()
    assert len(s.prompts) == 2 and s.effect == "kaleido"
    c = build_controls(s)  # every name in it exists
    assert c.params.value("feedback.amount") == pytest.approx(0.55)
    assert c.params.value("prompt.2.weight") == pytest.approx(0.35)


@pytest.mark.parametrize("name", sorted(p.stem for p in data_dir("sets").glob("*.toml")))
def test_every_shipped_set_loads_and_names_only_what_the_show_has(name):
    s = load_set(find_set(name))
    c = build_controls(s)  # its params, routes, scenes, envelopes and LFOs checked against the namespace
    assert s.prompts and s.name == name
    for key, value in s.params.items():
        spec = c.params.spec(key)
        assert c.params.target(key) == pytest.approx(min(spec.hi, max(spec.lo, value)))
    for scene in s.scenes:
        assert all(k in c.params for k in scene.params)


def test_the_degenerate_set_feeds_its_own_images_back_and_compounds_the_framing():
    s = load_set(find_set("degenerate"))
    assert s.input == "feedback" and s.more_seeds == (4242, 90210)
    c = build_controls(s)
    assert c.params.target("input.zoom") == pytest.approx(1.03) and c.params.target("input.rotate") == pytest.approx(0.8)
    assert [p.resample for p in s.prompts] == [("audio.bar", "midi.1.note.36"), ("audio.onset",)]


def test_find_set_by_name_path_and_error():
    assert find_set("demo.toml") == find_set("sets/demo.toml") == find_set("demo")
    with pytest.raises(ConfigError, match="shipped sets: camera, club, degenerate, demo, faces, tour"):
        find_set("nonesuch")


@pytest.mark.parametrize("data, msg", [
    ({"show": {"sise": [64, 64]}}, r"unknown key 'sise' \(did you mean 'size'\?\)"),
    ({"shwo": {}}, r"unknown table 'shwo' \(did you mean 'show'\?\)"),
    ({"show": {"fps": "fast"}}, "fps must be a number"),
    ({"show": {"fps": 0}}, r"fps = 0 is out of range"),
    ({"generator": {"steps": 9}}, r"steps = 9 is out of range \[1, 8\]"),
    ({"prompt": [{"weight": 1}]}, "missing text"),
    ({"route": [{"source": "audio.level"}]}, "missing target"),
    ({"show": {"size": [641, 360]}}, "must be even"),
    ({"route": {"source": "audio.level", "target": "noise.kick"}}, r"written \[\[route\]\] \(double brackets\)"),
    ({"prompt": {"text": "x"}}, r"written \[\[prompt\]\]"),
])
def test_bad_sets_name_the_place_and_the_fix(data, msg):
    with pytest.raises(ConfigError, match=msg):
        parse_set(data, Path("x.toml"))


def test_toml_syntax_error_gives_file_and_line(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('[show]\nname = "a"\nfps = \n')
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML: .*line 3"):
        load_set(p)


def test_relative_audio_is_relative_to_the_set(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[show]\naudio = "track.wav"\n')
    assert load_set(p).audio == tmp_path / "track.wav"


def test_unknown_parameter_and_route_fail_before_anything_loads():
    with pytest.raises(ConfigError, match=r"no parameter named 'feedback.amout' \(did you mean 'feedback.amount'\?\)"):
        build_controls(ShowSet(None, params={"feedback.amout": 0.5}))
    with pytest.raises(ConfigError, match=r"unknown source 'audio.bas' \(did you mean 'audio.bass'\?\)"):
        build_controls(parse_set({"route": [{"source": "audio.bas", "target": "noise.kick"}]}))
    with pytest.raises(ConfigError, match=r"no parameter named 'fx.kaleido.sides'"):
        build_controls(ShowSet(None, effects=(), params={"fx.kaleido.sides": 3}))


def test_parse_size():
    assert parse_size("1280x720") == (1280, 720)
    assert parse_size([320, 180]) == (320, 180)
    with pytest.raises(ConfigError, match="WIDTHxHEIGHT"):
        parse_size("big")
