"""Set files: TOML in, frozen dataclasses out, and one clear line for anything wrong.

A set is what a performer prepares: the model, the prompts, the look (effect, feedback) and the
routes from sound to image. Unknown keys are errors (a typo must not silently do nothing).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from vj.errors import ConfigError


@dataclass(frozen=True)
class PromptSpec:
    text: str
    weight: float = 1.0  # initial value of `prompt.<n>.weight`


@dataclass(frozen=True)
class RouteSpec:
    source: str  # a modulation source, e.g. "audio.level" (0..1)
    target: str  # a parameter name, e.g. "noise.kick"
    amount: float = 1.0  # target += amount * source, then clamped to the target's range


@dataclass(frozen=True)
class ShowSet:
    path: Path | None  # where it was read from (None: built in code)
    name: str = "untitled"
    size: tuple[int, int] = (1280, 720)  # program output (width, height), pixels
    fps: float = 30.0  # program frame rate: headless loop, recordings, offline render
    audio: Path | None = None  # default audio file for `vj render`
    model: str = "sd-turbo"  # registry name, local diffusers folder or hub id
    steps: int = 1  # denoising steps per frame, 1..4
    gen_size: tuple[int, int] | None = None  # generator resolution; None: the model's native size
    seed: int | None = None  # None: a fresh seed from the OS each run
    prompts: tuple[PromptSpec, ...] = (PromptSpec("a field of possibilities"),)
    effect: str | None = None  # a shader in shaders/ (its file stem), applied after the feedback
    params: Mapping[str, float] = field(default_factory=dict)  # initial parameter values
    routes: tuple[RouteSpec, ...] = ()
    audio_edges: tuple[float, float] = (250.0, 2000.0)  # Hz: bass | mid | high
    audio_sensitivity: float = 1.0  # onsets: > 1 finds more, < 1 fewer
    audio_hit_sensitivity: float = 1.0  # per-band hits, likewise
    audio_bpm_range: tuple[float, float] = (70.0, 180.0)  # where the beat tracker looks
    audio_channel: int | None = None  # 1-based input channel; None: the mix of all

    def where(self) -> str:
        return str(self.path) if self.path else "set"

    def analyzer_config(self):
        from vj.audio.features import AnalyzerConfig

        return AnalyzerConfig(edges=self.audio_edges, sensitivity=self.audio_sensitivity,
                              band_sensitivity=self.audio_hit_sensitivity, bpm_range=self.audio_bpm_range)


_SECTIONS = {
    "show": {"name", "size", "fps", "audio"},
    "generator": {"model", "steps", "size", "seed"},
    "prompt": {"text", "weight"},
    "compositor": {"effect"},
    "params": None,  # free-form: names checked against the namespace once it is built
    "route": {"source", "target", "amount"},
    "audio": {"edges", "sensitivity", "hit_sensitivity", "bpm_range", "channel"},
}


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_keys(where: str, table: Mapping[str, Any], allowed) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r}{_suggest(key, allowed)}; allowed: {', '.join(sorted(allowed))}")


def _number(where: str, key: str, v: Any, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{where}: {key} must be a number, got {v!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ConfigError(f"{where}: {key} = {v} is out of range [{lo}, {hi}]")
    return float(v)


def _int(where: str, key: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{where}: {key} must be a whole number, got {v!r}")
    if not lo <= v <= hi:
        raise ConfigError(f"{where}: {key} = {v} is out of range [{lo}, {hi}]")
    return v


def _pair(where: str, key: str, v: Any, lo: float, hi: float) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise ConfigError(f"{where}: {key} must be two numbers [low, high], got {v!r}")
    a, b = (_number(where, key, x, lo, hi) for x in v)
    if not a < b:
        raise ConfigError(f"{where}: {key} = [{a:g}, {b:g}] must rise")
    return (a, b)


def _str(where: str, key: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string, got {v!r}")
    return v


def parse_size(text_or_pair: Any, where: str = "size") -> tuple[int, int]:
    """'1280x720' or [1280, 720] -> (1280, 720); both sides even (video encoders need it), 16..8192."""
    if isinstance(text_or_pair, str):
        parts = text_or_pair.lower().split("x")
        try:
            w, h = (int(p) for p in parts)
        except ValueError:
            raise ConfigError(f"{where}: size {text_or_pair!r} is not WIDTHxHEIGHT (e.g. 1280x720)") from None
    elif isinstance(text_or_pair, (list, tuple)) and len(text_or_pair) == 2 and all(
        isinstance(x, int) and not isinstance(x, bool) for x in text_or_pair
    ):
        w, h = text_or_pair
    else:
        raise ConfigError(f"{where}: size must be [width, height] or 'WIDTHxHEIGHT', got {text_or_pair!r}")
    for side in (w, h):
        if not 16 <= side <= 8192 or side % 2:
            raise ConfigError(f"{where}: size {w}x{h}: each side must be even and within 16..8192")
    return (w, h)


def load_set(path: Path) -> ShowSet:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such set file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"{path}: can't read it: {e.strerror}") from None
    return parse_set(data, path)


def parse_set(data: Mapping[str, Any], path: Path | None = None) -> ShowSet:
    where = str(path) if path else "set"
    _check_keys(where, data, _SECTIONS)
    kw: dict[str, Any] = {"path": path}

    show = data.get("show", {})
    _check_keys(f"{where} [show]", show, _SECTIONS["show"])
    w = f"{where} [show]"
    if "name" in show:
        kw["name"] = _str(w, "name", show["name"])
    elif path:
        kw["name"] = path.stem
    if "size" in show:
        kw["size"] = parse_size(show["size"], w)
    if "fps" in show:
        kw["fps"] = _number(w, "fps", show["fps"], 1, 240)
    if "audio" in show:
        audio = Path(_str(w, "audio", show["audio"])).expanduser()
        if not audio.is_absolute() and path is not None:
            audio = path.parent / audio  # relative to the set file, so a set folder travels whole
        kw["audio"] = audio

    gen = data.get("generator", {})
    w = f"{where} [generator]"
    _check_keys(w, gen, _SECTIONS["generator"])
    if "model" in gen:
        kw["model"] = _str(w, "model", gen["model"])
    if "steps" in gen:
        kw["steps"] = _int(w, "steps", gen["steps"], 1, 4)
    if "size" in gen:
        kw["gen_size"] = parse_size(gen["size"], w)
    if "seed" in gen:
        kw["seed"] = _int(w, "seed", gen["seed"], 0, 2**63 - 1)

    prompts = data.get("prompt")
    if prompts is not None:
        if not isinstance(prompts, list) or not prompts:
            raise ConfigError(f"{where}: prompts are written [[prompt]] (double brackets), one table per prompt with a text")
        specs = []
        for i, p in enumerate(prompts, 1):
            w = f"{where} [[prompt]] #{i}"
            _check_keys(w, p, _SECTIONS["prompt"])
            if "text" not in p:
                raise ConfigError(f"{w}: missing text = \"...\"")
            specs.append(PromptSpec(_str(w, "text", p["text"]), _number(w, "weight", p.get("weight", 1.0), -4, 4)))
        kw["prompts"] = tuple(specs)

    comp = data.get("compositor", {})
    w = f"{where} [compositor]"
    _check_keys(w, comp, _SECTIONS["compositor"])
    if "effect" in comp:
        kw["effect"] = _str(w, "effect", comp["effect"])

    aud = data.get("audio", {})
    w = f"{where} [audio]"
    _check_keys(w, aud, _SECTIONS["audio"])
    if "edges" in aud:
        kw["audio_edges"] = _pair(w, "edges", aud["edges"], 20.0, 20000.0)
    if "sensitivity" in aud:
        kw["audio_sensitivity"] = _number(w, "sensitivity", aud["sensitivity"], 0.05, 20.0)
    if "hit_sensitivity" in aud:
        kw["audio_hit_sensitivity"] = _number(w, "hit_sensitivity", aud["hit_sensitivity"], 0.05, 20.0)
    if "bpm_range" in aud:
        kw["audio_bpm_range"] = _pair(w, "bpm_range", aud["bpm_range"], 20.0, 400.0)
    if "channel" in aud:
        kw["audio_channel"] = _int(w, "channel", aud["channel"], 1, 64)

    params = data.get("params", {})
    if not isinstance(params, Mapping):
        raise ConfigError(f"{where}: [params] must be a table of name = value")
    kw["params"] = {str(k): _number(f"{where} [params]", k, v) for k, v in params.items()}

    routes = []
    if not isinstance(data.get("route", []), list):
        raise ConfigError(f"{where}: routes are written [[route]] (double brackets), one table per route")
    for i, r in enumerate(data.get("route", []), 1):
        w = f"{where} [[route]] #{i}"
        _check_keys(w, r, _SECTIONS["route"])
        for key in ("source", "target"):
            if key not in r:
                raise ConfigError(f"{w}: missing {key} = \"...\"")
        routes.append(RouteSpec(_str(w, "source", r["source"]), _str(w, "target", r["target"]),
                                _number(w, "amount", r.get("amount", 1.0), -100, 100)))
    kw["routes"] = tuple(routes)
    return ShowSet(**kw)


def with_overrides(s: ShowSet, **changes: Any) -> ShowSet:
    """The set with command-line overrides applied (None means 'not given')."""
    return dataclasses.replace(s, **{k: v for k, v in changes.items() if v is not None})


def suggest(word: str, choices) -> str:
    return _suggest(word, choices)
