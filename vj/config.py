"""Set files: TOML in, frozen dataclasses out, and one clear line for anything wrong.

A set is what a performer prepares: the model, the prompts, the look (effect, feedback) and the
routes from sound to image. Unknown keys are errors (a typo must not silently do nothing).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

from vj.core.errors import ConfigError
from vj.core.spec import (BLEND_MODES, LAYER_SOURCES, LFO_SHAPES, TRIGGER_SHORTHANDS, TRIGGERS, EnvelopeSpec,
                          LayerSpec, LfoSpec, MidiSettings, OscSettings, PromptSpec, RouteSpec, SceneSpec, ShowSet)
from vj.core.validate import as_int, as_number, as_pair, as_str, check_keys, load_toml, suggest


_SECTIONS = {
    "show": {"name", "size", "fps", "audio"},
    "generator": {"model", "steps", "size", "seed", "seeds", "tiny_vae", "input", "stream_batch", "deep_cache"},
    "prompt": {"text", "weight", "resample"},
    "compositor": {"effect", "effects", "precision"},
    "layer": {"source", "blend", "opacity", "group", "effects"},
    "params": None,  # free-form: names checked against the namespace once it is built
    "route": {"source", "target", "amount", "offset", "range", "curve", "attack", "release"},
    "audio": {"edges", "sensitivity", "hit_sensitivity", "bpm_range", "channel"},
    "lfo": {"name", "shape", "beats", "phase"},
    "envelope": {"name", "trigger", "attack", "decay"},
    "scene": {"name", "params", "prompts"},
    "osc": {"port", "host", "allow", "out"},
    "midi": {"inputs", "mapping"},
}


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
    from vj.render.shaders import use_set_folder

    path = Path(path)
    data = load_toml(path, "set file")
    use_set_folder(path)  # its own shaders/ folder, if it has one, is searched first
    return parse_set(data, path)


def parse_set(data: Mapping[str, Any], path: Path | None = None) -> ShowSet:
    where = str(path) if path else "set"
    check_keys(where, data, _SECTIONS)
    kw: dict[str, Any] = {"path": path}

    show = data.get("show", {})
    check_keys(f"{where} [show]", show, _SECTIONS["show"])
    w = f"{where} [show]"
    if "name" in show:
        kw["name"] = as_str(w, "name", show["name"])
    elif path:
        kw["name"] = path.stem
    if "size" in show:
        kw["size"] = parse_size(show["size"], w)
    if "fps" in show:
        kw["fps"] = as_number(w, "fps", show["fps"], 1, 240)
    if "audio" in show:
        audio = Path(as_str(w, "audio", show["audio"])).expanduser()
        if not audio.is_absolute() and path is not None:
            audio = path.parent / audio  # relative to the set file, so a set folder travels whole
        kw["audio"] = audio

    gen = data.get("generator", {})
    w = f"{where} [generator]"
    check_keys(w, gen, _SECTIONS["generator"])
    if "model" in gen:
        kw["model"] = as_str(w, "model", gen["model"])
    if "steps" in gen:
        kw["steps"] = as_int(w, "steps", gen["steps"], 1, 4)
    if "size" in gen:
        kw["gen_size"] = parse_size(gen["size"], w)
    if "seed" in gen:
        kw["seed"] = as_int(w, "seed", gen["seed"], 0, 2**63 - 1)
    if "seeds" in gen:
        seeds = gen["seeds"]
        if "seed" in gen:
            raise ConfigError(f"{w}: give seed = N or seeds = [a, b, ...] (the first of seeds is the seed), not both")
        if not isinstance(seeds, list) or not 1 <= len(seeds) <= 16:
            raise ConfigError(f"{w}: seeds = [a, b, ...]: one to 16 whole numbers, blended by noise.seed.<n>.weight")
        seeds = [as_int(w, "seeds", s, 0, 2**63 - 1) for s in seeds]
        kw["seed"], kw["more_seeds"] = seeds[0], tuple(seeds[1:])
    if "input" in gen:
        src = as_str(w, "input", gen["input"])
        if src != "feedback" and not src.startswith("camera:"):
            p = Path(src).expanduser()
            if not p.is_absolute() and path is not None:
                p = path.parent / p  # relative to the set file
            src = str(p)
        kw["input"] = src
    if "deep_cache" in gen:
        kw["deep_cache"] = as_int(w, "deep_cache", gen["deep_cache"], 1, 8)
    for key in ("tiny_vae", "stream_batch"):
        if key in gen:
            if not isinstance(gen[key], bool):
                raise ConfigError(f"{w}: {key} = true or false")
            kw[key] = gen[key]

    prompts = data.get("prompt")
    if prompts is not None:
        if not isinstance(prompts, list) or not prompts:
            raise ConfigError(f"{where}: prompts are written [[prompt]] (double brackets), one table per prompt with a text")
        specs = []
        for i, p in enumerate(prompts, 1):
            w = f"{where} [[prompt]] #{i}"
            check_keys(w, p, _SECTIONS["prompt"])
            if "text" not in p:
                raise ConfigError(f"{w}: missing text = \"...\"")
            text = check_template(w, p["text"])
            specs.append(PromptSpec(text, as_number(w, "weight", p.get("weight", 1.0), -4, 4),
                                    _triggers(w, p.get("resample", []))))
        kw["prompts"] = tuple(specs)

    comp = data.get("compositor", {})
    w = f"{where} [compositor]"
    check_keys(w, comp, _SECTIONS["compositor"])
    if "effect" in comp and "effects" in comp:
        raise ConfigError(f"{w}: give effect = \"name\" or effects = [\"a\", \"b\"], not both")
    if "effect" in comp:
        kw["effects"] = (as_str(w, "effect", comp["effect"]),)
    if "effects" in comp:
        fx = comp["effects"]
        if not isinstance(fx, list) or not all(isinstance(x, str) and x for x in fx):
            raise ConfigError(f"{w}: effects = [\"kaleido\", \"rgbsplit\"]: shader names from shaders/, in order")
        kw["effects"] = tuple(fx)
    if "precision" in comp:
        if comp["precision"] not in (8, 16) or isinstance(comp["precision"], bool):
            raise ConfigError(f"{w}: precision = 8 (the default: fastest, feedback dithered) or 16 (float images)")
        kw["precision"] = comp["precision"]
    layers = _tables(data, "layer", where)
    if len(layers) > 12:
        raise ConfigError(f"{where}: {len(layers)} layers; the stack takes at most 12")
    if layers:
        kw["layers"] = tuple(_layer(f"{where} [[layer]] #{i}", t, path) for i, t in enumerate(layers, 1))

    aud = data.get("audio", {})
    w = f"{where} [audio]"
    check_keys(w, aud, _SECTIONS["audio"])
    if "edges" in aud:
        kw["audio_edges"] = as_pair(w, "edges", aud["edges"], 20.0, 20000.0)
    if "sensitivity" in aud:
        kw["audio_sensitivity"] = as_number(w, "sensitivity", aud["sensitivity"], 0.05, 20.0)
    if "hit_sensitivity" in aud:
        kw["audio_hit_sensitivity"] = as_number(w, "hit_sensitivity", aud["hit_sensitivity"], 0.05, 20.0)
    if "bpm_range" in aud:
        kw["audio_bpm_range"] = as_pair(w, "bpm_range", aud["bpm_range"], 20.0, 400.0)
    if "channel" in aud:
        kw["audio_channel"] = as_int(w, "channel", aud["channel"], 1, 64)

    params = data.get("params", {})
    if not isinstance(params, Mapping):
        raise ConfigError(f"{where}: [params] must be a table of name = value")
    kw["params"] = {str(k): as_number(f"{where} [params]", k, v) for k, v in params.items()}

    routes = []
    for i, r in enumerate(_tables(data, "route", where), 1):
        w = f"{where} [[route]] #{i}"
        check_keys(w, r, _SECTIONS["route"])
        for key in ("source", "target"):
            if key not in r:
                raise ConfigError(f"{w}: missing {key} = \"...\"")
        routes.append(RouteSpec(
            as_str(w, "source", r["source"]), as_str(w, "target", r["target"]),
            as_number(w, "amount", r.get("amount", 1.0), -1000, 1000), as_number(w, "offset", r.get("offset", 0.0), -1000, 1000),
            as_pair(w, "range", r["range"], -1e6, 1e6, rising=False) if "range" in r else None,
            as_str(w, "curve", r.get("curve", "linear")), as_number(w, "attack", r.get("attack", 0.0), 0, 60),
            as_number(w, "release", r.get("release", 0.0), 0, 60)))
    kw["routes"] = tuple(routes)

    lfos = []
    for i, t in enumerate(_tables(data, "lfo", where), 1):
        w = f"{where} [[lfo]] #{i}"
        check_keys(w, t, _SECTIONS["lfo"])
        shape = as_str(w, "shape", t.get("shape", "sine"))
        if shape not in LFO_SHAPES:
            raise ConfigError(f"{w}: shape {shape!r}{suggest(shape, LFO_SHAPES)}; shapes: {', '.join(LFO_SHAPES)}")
        lfos.append(LfoSpec(_name(w, t), shape, as_number(w, "beats", t.get("beats", 4.0), 0.25, 64),
                            as_number(w, "phase", t.get("phase", 0.0), 0, 1)))
    kw["lfos"] = tuple(lfos)
    envs = []
    for i, t in enumerate(_tables(data, "envelope", where), 1):
        w = f"{where} [[envelope]] #{i}"
        check_keys(w, t, _SECTIONS["envelope"])
        if "trigger" not in t:
            raise ConfigError(f"{w}: missing trigger = \"audio.onset\" (or audio.beat, audio.bass_hit, midi.1.note.36...)")
        envs.append(EnvelopeSpec(_name(w, t), as_str(w, "trigger", t["trigger"]),
                                 as_number(w, "attack", t.get("attack", 0.005), 0, 10),
                                 as_number(w, "decay", t.get("decay", 0.3), 0.001, 60)))
    kw["envelopes"] = tuple(envs)
    scenes = []
    for i, t in enumerate(_tables(data, "scene", where), 1):
        w = f"{where} [[scene]] #{i}"
        check_keys(w, t, _SECTIONS["scene"])
        values = t.get("params", {})
        if not isinstance(values, Mapping):
            raise ConfigError(f"{w}: params must be a table of name = value")
        prompts = t.get("prompts")
        if prompts is not None and (not isinstance(prompts, list) or not all(isinstance(p, str) and p for p in prompts)):
            raise ConfigError(f"{w}: prompts must be a list of texts")
        for p in prompts or ():
            check_template(w, p)
        scenes.append(SceneSpec(_name(w, t), {str(k): as_number(w, k, v) for k, v in values.items()},
                                tuple(prompts) if prompts is not None else None))
    if len({sc.name for sc in scenes}) < len(scenes):
        raise ConfigError(f"{where}: two scenes have the same name")
    kw["scenes"] = tuple(scenes)

    osc = data.get("osc", {})
    w = f"{where} [osc]"
    check_keys(w, osc, _SECTIONS["osc"])
    allow = osc.get("allow", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        raise ConfigError(f"{w}: allow must be a list of addresses, e.g. [\"192.168.1.20\"]")
    kw["osc"] = OscSettings(as_int(w, "port", osc.get("port", 9000), 1, 65535), as_str(w, "host", osc.get("host", "127.0.0.1")),
                            tuple(allow), as_str(w, "out", osc["out"]) if "out" in osc else None)
    midi = data.get("midi", {})
    w = f"{where} [midi]"
    check_keys(w, midi, _SECTIONS["midi"])
    inputs = midi.get("inputs", [])
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not all(isinstance(a, str) and a for a in inputs):
        raise ConfigError(f"{w}: inputs must be port name substrings, e.g. [\"nanoKONTROL2\"] or \"all\"")
    mapping = None
    if "mapping" in midi:
        mapping = Path(as_str(w, "mapping", midi["mapping"])).expanduser()
        if not mapping.is_absolute() and path is not None:
            mapping = path.parent / mapping
    kw["midi"] = MidiSettings(tuple(inputs), mapping)
    return ShowSet(**kw)


def _tables(data: Mapping[str, Any], key: str, where: str) -> list:
    items = data.get(key, [])
    if not isinstance(items, list):
        raise ConfigError(f"{where}: {key}s are written [[{key}]] (double brackets), one table per {key}")
    return items


def _name(where: str, t: Mapping[str, Any]) -> str:
    if "name" not in t:
        raise ConfigError(f"{where}: missing name = \"...\"")
    name = as_str(where, "name", t["name"])
    if not all(c.isalnum() or c in "_-" for c in name):
        raise ConfigError(f"{where}: name {name!r}: use letters, digits, - and _ (it becomes part of addresses)")
    return name


def with_overrides(s: ShowSet, **changes: Any) -> ShowSet:
    """The set with command-line overrides applied (None means 'not given')."""
    return dataclasses.replace(s, **{k: v for k, v in changes.items() if v is not None})


def check_template(where: str, text: Any) -> str:
    """A prompt text, checked as a template (an unclosed '{' fails here, not on stage)."""
    from vj.core.templates import TemplateError, parse

    text = as_str(where, "text", text)
    try:
        parse(text)
    except TemplateError as e:
        raise ConfigError(f"{where}: prompt {text!r}: {e}") from None
    return text


def _triggers(where: str, value: Any) -> tuple[str, ...]:
    """resample = "bar" or ["beat", "midi.1.note.36"]: shorthands expanded, names checked."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise ConfigError(f"{where}: resample = \"bar\" or a list such as [\"beat\", \"midi.1.note.36\"]")
    out = []
    for x in items:
        name = TRIGGER_SHORTHANDS.get(x, x)
        if name not in TRIGGERS and not (name.startswith("midi.") and ".note." in name):
            known = list(TRIGGER_SHORTHANDS) + list(TRIGGERS)
            raise ConfigError(f"{where}: resample trigger {x!r}{suggest(x, known)}; triggers: "
                              f"{', '.join(known)}, midi.<channel>.note.<n>")
        out.append(name)
    return tuple(out)


def _layer(where: str, t: Mapping[str, Any], path: Path | None):
    check_keys(where, t, _SECTIONS["layer"])
    source = as_str(where, "source", t.get("source", "generator"))
    kind, _, arg = source.partition(":")
    if kind not in LAYER_SOURCES or (kind not in ("generator", "feedback") and not arg):
        raise ConfigError(f"{where}: source {source!r}{suggest(kind, LAYER_SOURCES)}; sources: generator, feedback, "
                          f"image:<file>, video:<file>, camera:<N|URL>, shader:<name>")
    if kind in ("image", "video"):
        p = Path(arg).expanduser()
        if not p.is_absolute() and path is not None:
            p = path.parent / p  # relative to the set file
        if not p.is_file():
            raise ConfigError(f"{where}: {kind} {p}: no such file")
        source = f"{kind}:{p}"
    blend = as_str(where, "blend", t.get("blend", "normal"))
    if blend not in BLEND_MODES:
        raise ConfigError(f"{where}: blend {blend!r}{suggest(blend, BLEND_MODES)}; modes: {', '.join(BLEND_MODES)}")
    group = as_str(where, "group", t.get("group", "A"))
    if group not in ("A", "B"):
        raise ConfigError(f"{where}: group = \"A\" or \"B\" (the sides of the crossfader)")
    fx = t.get("effects", [])
    if not isinstance(fx, list) or not all(isinstance(x, str) and x for x in fx) or len(set(fx)) < len(fx):
        raise ConfigError(f"{where}: effects = [\"mirror\", \"color\"]: shader names, each once")
    return LayerSpec(source, blend, as_number(where, "opacity", t.get("opacity", 1.0), 0, 1), group, tuple(fx))
