import math

import pytest

from vj.control.params import ParamSpace
from vj.core.params import ParamSpec
from vj.control.routes import Route, Routes
from vj.core.errors import ConfigError


def space():
    return ParamSpace([ParamSpec("a", 0.0, 1.0, 0.2, smooth=0.1), ParamSpec("b", -1.0, 1.0, 0.0, smooth=0.0)])


def test_values_are_clamped_and_immutable():
    p = space()
    assert p.set("a", 7.0) == 1.0
    assert p.set("b", -3.0, immediate=True) == -1.0
    v = p.values()
    with pytest.raises(TypeError):
        v["a"] = 0.5  # snapshots can't be written to


def test_smoothing_is_a_one_pole_slew_in_clock_time():
    p = space()
    p.set("a", 1.0)
    assert p.value("a") == pytest.approx(0.2)  # nothing moves until time passes
    p.tick(0.1)  # one time constant: 63 % of the way
    assert p.value("a") == pytest.approx(0.2 + 0.8 * (1 - math.exp(-1)))
    for _ in range(100):
        p.tick(0.1)
    assert p.value("a") == 1.0
    p.set("b", 0.5)  # smooth = 0: jumps
    assert p.value("b") == 0.5


def test_routes_add_on_top_of_the_base_and_clear_each_frame():
    p = space()
    r = Routes([Route("audio.level", "a", 0.5)])
    p.tick(0.0)
    r.apply(p, {"audio.level": 1.0})
    assert p.value("a") == pytest.approx(0.7)
    r.apply(p, {"audio.level": 1.0})  # two routes' worth in one frame, clamped
    assert p.value("a") == 1.0
    p.tick(0.0)
    assert p.value("a") == pytest.approx(0.2)


def test_unknown_names_and_non_finite_values_are_refused():
    p = space()
    with pytest.raises(ConfigError, match="did you mean 'a'"):
        p.set("aa", 1.0)
    with pytest.raises(ConfigError, match="not a finite number"):
        p.set("a", float("nan"))
    with pytest.raises(ValueError, match="declared twice"):
        p.declare(ParamSpec("a", 0, 1, 0))
