"""Set files: TOML in, frozen dataclasses out, and one clear line for anything wrong.

A set is what a performer prepares: the model, the prompts, the look (effect, feedback) and the
routes from sound to image. Unknown keys are errors (a typo must not silently do nothing).
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any, Callable, Mapping

from vj.core.boxes import pair_keys, parse_boxes, parse_keys
from vj.core.errors import ConfigError
from vj.core.spec import (BLEND_MODES, LAYER_SOURCES, LFO_SHAPES, TRIGGER_SHORTHANDS, TRIGGERS, EdgeSpec, EnvelopeSpec,
                          GraphSpec, LayerSpec, LfoSpec, LoraSpec, SCHEDULERS, MidiSettings, OscSettings, PromptSpec, RouteSpec, SceneSpec, ShowSet)
from vj.core.validate import RAISE, Problems, fail, as_int, as_number, as_pair, as_str, check_keys, load_toml, suggest
from vj.render.shaders import set_folder




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
    return parse_set(load_toml(path, "set file"), path)


def parse_set(data: Mapping[str, Any], path: Path | None = None, problems: Problems = RAISE) -> ShowSet:
    """A set's tables -> ShowSet: each [table] read by its field table below, each [[record]] by
    its reader, then the checks that span several keys. Collecting `problems`, a bad key or record
    is kept there and left out (its default stays), and the reading goes on."""
    where = str(path) if path else "set"
    for key in data:
        problems.attempt(check_keys, where, {key: None}, _SECTIONS)
    kw: dict[str, Any] = {"path": path}
    if path:
        kw["name"] = path.stem
        kw["shader_dirs"] = set_folder(path)  # its own shaders/ folder, if it has one, is searched first
    for section, fields in _FIELDS.items():
        kw.update(_read_table(data, section, fields, where, path, problems))
    problems.attempt(_spread_seeds, kw, data.get("generator", {}), f"{where} [generator]")
    problems.attempt(_check_remote, kw, f"{where} [generator]")
    kw.pop("seeds", None)
    problems.attempt(_check_whole, data, where)
    for key, (field, read) in _RECORDS.items():
        tables = problems.attempt(_tables, data, key, where, default=[])
        records = [problems.attempt(read, f"{where} [[{key}]] #{i}", t, path) for i, t in enumerate(tables, 1)]
        if key == "edge":  # its ends name scenes (read just before)
            records = [problems.attempt(_edge_ends, f"{where} [[edge]] #{i}", e, kw["scenes"]) if e else None
                       for i, e in enumerate(records, 1)]
        records = tuple(r for r in records if r is not None)
        if records or key != "prompt":  # no [[prompt]]: the default prompt stays
            kw[field] = records
    problems.attempt(_check_records, kw, where)
    edges = kw.pop("edges", ())
    if "graph" in data or edges:
        kw["graph"] = problems.attempt(_graph, f"{where} [graph]", data.get("graph", {}), edges, kw["scenes"],
                                       default=None)
    params = data.get("params", {})
    if not isinstance(params, Mapping):
        problems.attempt(fail, f"{where}: [params] must be a table of name = value")
        params = {}
    kw["params"] = {str(k): v for k, v in ((k, problems.attempt(as_number, f"{where} [params]", k, v))
                                           for k, v in params.items()) if v is not None}
    kw["osc"] = problems.attempt(_osc, f"{where} [osc]", data.get("osc", {}), default=OscSettings())
    kw["midi"] = problems.attempt(_midi, f"{where} [midi]", data.get("midi", {}), path, default=MidiSettings())
    return ShowSet(**kw)


def _check_whole(data: Mapping[str, Any], where: str) -> None:
    """What spans keys of the file as written."""
    if "effect" in data.get("compositor", {}) and "effects" in data.get("compositor", {}):
        raise ConfigError(f"{where} [compositor]: give effect = \"name\" or effects = [\"a\", \"b\"], not both")
    prompts = data.get("prompt")
    if prompts is not None and (not isinstance(prompts, list) or not prompts):
        raise ConfigError(f"{where}: prompts are written [[prompt]] (double brackets), one table per prompt with a text")


def _check_records(kw: dict, where: str) -> None:
    if len({lo.name for lo in kw["loras"]}) < len(kw["loras"]):
        raise ConfigError(f"{where}: two [[lora]] have the same name (each is the parameter lora.<name>.weight)")
    if len(kw["layers"]) > 12:
        raise ConfigError(f"{where}: {len(kw['layers'])} layers; the stack takes at most 12")
    if len({sc.name for sc in kw["scenes"]}) < len(kw["scenes"]):
        raise ConfigError(f"{where}: two scenes have the same name")


# -- readers: (where, key, value, the set's path) -> the spec's value -----------------------------
def _text(w, k, v, path):
    return as_str(w, k, v)


def _number(lo, hi):
    return lambda w, k, v, path: as_number(w, k, v, lo, hi)


def _whole(lo, hi):
    return lambda w, k, v, path: as_int(w, k, v, lo, hi)


def _pair(lo, hi):
    return lambda w, k, v, path: as_pair(w, k, v, lo, hi)


def _flag(w, k, v, path):
    if not isinstance(v, bool):
        raise ConfigError(f"{w}: {k} = true or false")
    return v


def _size(w, k, v, path):
    return parse_size(v, w)


def _beside_set(w, k, v, path):
    """A file named relative to the set file (so a set folder travels whole)."""
    p = Path(as_str(w, k, v)).expanduser()
    return path.parent / p if not p.is_absolute() and path is not None else p


def _input(w, k, v, path):
    src = as_str(w, k, v)
    return src if src == "feedback" or src.startswith("camera:") else str(_beside_set(w, k, src, path))


def _seeds(w, k, v, path):
    if not isinstance(v, list) or not 1 <= len(v) <= 16:
        raise ConfigError(f"{w}: seeds = [a, b, ...]: one to 16 whole numbers, blended by noise.seed.<n>.weight")
    return tuple(as_int(w, "seeds", s, 0, 2**63 - 1) for s in v)


def _effect(w, k, v, path):
    return (as_str(w, k, v),)


def _effects(w, k, v, path):
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise ConfigError(f"{w}: effects = [\"kaleido\", \"rgbsplit\"]: shader names from shaders/, in order")
    return tuple(v)


def _precision(w, k, v, path):
    if v not in (8, 16) or isinstance(v, bool):
        raise ConfigError(f"{w}: precision = 8 (the default: fastest, feedback dithered) or 16 (float images)")
    return v


def _scheduler(w, k, v, path):
    name = as_str(w, k, v)
    if name not in SCHEDULERS:
        raise ConfigError(f"{w}: scheduler = {name!r}{suggest(name, SCHEDULERS)}; one of {', '.join(SCHEDULERS)} "
                          f"(or leave it out: the model's own)")
    return name


def _text_or_empty(w, k, v, path):
    if not isinstance(v, str):
        raise ConfigError(f"{w}: {k} = \"...\" (text)")
    return v


def _boxes(w, k, v, path):
    return parse_boxes(v, f"{w} {k}")


def _keys(w, k, v, path):
    return parse_keys(v, f"{w} {k}")


def _check_remote(kw: dict, where: str) -> None:
    """A remote generator and its keys go together: one key per box (or one for all)."""
    pair_keys(kw.get("remote", ()), kw.get("remote_keys", ()), where)


# [section] key -> (ShowSet field, reader)
_FIELDS: dict[str, dict[str, tuple[str, Callable]]] = {
    "show": {"name": ("name", _text), "size": ("size", _size), "fps": ("fps", _number(1, 240)),
             "audio": ("audio", _beside_set), "transition": ("transition", lambda w, k, v, path: _transition(w, v))},
    "generator": {"model": ("model", _text), "steps": ("steps", _whole(1, 8)),
                  "scheduler": ("scheduler", _scheduler), "negative": ("negative", _text_or_empty), "size": ("gen_size", _size),
                  "seed": ("seed", _whole(0, 2**63 - 1)), "seeds": ("seeds", _seeds), "input": ("input", _input),
                  "deep_cache": ("deep_cache", _whole(1, 8)), "tiny_vae": ("tiny_vae", _flag),
                  "stream_batch": ("stream_batch", _flag), "remote": ("remote", _boxes), "key": ("remote_keys", _keys)},
    "tempo": {"link": ("link", _flag), "quantum": ("quantum", _whole(1, 16))},
    "compositor": {"effect": ("effects", _effect), "effects": ("effects", _effects),
                   "precision": ("precision", _precision)},
    "audio": {"edges": ("audio_edges", _pair(20.0, 20000.0)), "sensitivity": ("audio_sensitivity", _number(0.05, 20.0)),
              "hit_sensitivity": ("audio_hit_sensitivity", _number(0.05, 20.0)),
              "bpm_range": ("audio_bpm_range", _pair(20.0, 400.0)), "channel": ("audio_channel", _whole(1, 64))},
}
_SECTIONS = {name: set(fields) for name, fields in _FIELDS.items()}
_SECTIONS.update({
    "prompt": {"text", "weight", "resample"},
    "lora": {"name", "source", "weight"},
    "layer": {"source", "blend", "opacity", "group", "effects", "fit"},
    "params": None,  # free-form: names checked against the namespace once it is built
    "route": {"source", "target", "amount", "offset", "range", "curve", "attack", "release"},
    "lfo": {"name", "shape", "beats", "phase"},
    "envelope": {"name", "trigger", "attack", "decay"},
    "scene": {"name", "params", "prompts", "transition"},
    "osc": {"port", "host", "allow", "out"},
    "midi": {"inputs", "mapping"},
    "graph": {"start", "quantize", "drift"},
    "edge": {"from", "to", "after", "time", "energy", "onset", "note", "chance", "weight", "quantize"},
})


def _read_table(data, section: str, fields, where: str, path: Path | None, problems: Problems) -> dict[str, Any]:
    table = data.get(section, {})
    w = f"{where} [{section}]"
    if not isinstance(table, Mapping):
        problems.attempt(fail, f"{w}: written [{section}] (single brackets), one table of key = value")
        return {}
    out = {}
    for key, v in table.items():
        if problems.attempt(check_keys, w, {key: v}, fields, default=False) is False:
            continue
        value = problems.attempt(fields[key][1], w, key, v, path, default=_BAD)
        if value is not _BAD:
            out[fields[key][0]] = value
    return out


_BAD = object()  # a value that did not read (collecting): its default stays


def _spread_seeds(kw: dict, gen: Mapping[str, Any], w: str) -> None:
    """seeds = [a, b, c]: a is the seed, b and c the more seeds (noise.seed.<n>.weight)."""
    if "seeds" not in kw:
        return
    if "seed" in gen:
        raise ConfigError(f"{w}: give seed = N or seeds = [a, b, ...] (the first of seeds is the seed), not both")
    seeds = kw.pop("seeds")
    kw["seed"], kw["more_seeds"] = seeds[0], seeds[1:]


# -- one [[record]] each ----------------------------------------------------------------------
def _prompt(w: str, p: Mapping[str, Any], path) -> PromptSpec:
    check_keys(w, p, _SECTIONS["prompt"])
    if "text" not in p:
        raise ConfigError(f"{w}: missing text = \"...\"")
    return PromptSpec(check_template(w, p["text"]), as_number(w, "weight", p.get("weight", 1.0), -4, 4),
                      _triggers(w, p.get("resample", [])))


def _route(w: str, r: Mapping[str, Any], path) -> RouteSpec:
    check_keys(w, r, _SECTIONS["route"])
    for key in ("source", "target"):
        if key not in r:
            raise ConfigError(f"{w}: missing {key} = \"...\"")
    return RouteSpec(
        as_str(w, "source", r["source"]), as_str(w, "target", r["target"]),
        as_number(w, "amount", r.get("amount", 1.0), -1000, 1000), as_number(w, "offset", r.get("offset", 0.0), -1000, 1000),
        as_pair(w, "range", r["range"], -1e6, 1e6, rising=False) if "range" in r else None,
        as_str(w, "curve", r.get("curve", "linear")), as_number(w, "attack", r.get("attack", 0.0), 0, 60),
        as_number(w, "release", r.get("release", 0.0), 0, 60))


_LORA_FILE = (".safetensors", ".bin", ".pt", ".ckpt")


def _lora(w: str, t: Mapping[str, Any], path) -> LoraSpec:
    check_keys(w, t, _SECTIONS["lora"])
    name = _name(w, t)
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ConfigError(f"{w}: name = {name!r}: lower-case letters, digits and _ (it becomes lora.{name}.weight)")
    if "source" not in t:
        raise ConfigError(f"{w}: missing source = \"file.safetensors\" (beside the set) or \"org/name\" (a hub id)")
    source = as_str(w, "source", t["source"])
    if source.lower().endswith(_LORA_FILE) or source.startswith(("/", "./", "../", "~")):
        source = str(_beside_set(w, "source", source, path))
        if not Path(source).is_file():
            raise ConfigError(f"{w}: source = {t['source']!r}: no such file ({source}); a LoRA file (.safetensors) "
                              f"beside the set, or a hub id (org/name)")
    elif not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", source):
        raise ConfigError(f"{w}: source = {source!r}: a LoRA file (.safetensors) or a hub id (org/name)")
    return LoraSpec(name, source, as_number(w, "weight", t.get("weight", 1.0), 0, 2))


def _lfo(w: str, t: Mapping[str, Any], path) -> LfoSpec:
    check_keys(w, t, _SECTIONS["lfo"])
    shape = as_str(w, "shape", t.get("shape", "sine"))
    if shape not in LFO_SHAPES:
        raise ConfigError(f"{w}: shape {shape!r}{suggest(shape, LFO_SHAPES)}; shapes: {', '.join(LFO_SHAPES)}")
    return LfoSpec(_name(w, t), shape, as_number(w, "beats", t.get("beats", 4.0), 0.25, 64),
                   as_number(w, "phase", t.get("phase", 0.0), 0, 1))


def _envelope(w: str, t: Mapping[str, Any], path) -> EnvelopeSpec:
    check_keys(w, t, _SECTIONS["envelope"])
    if "trigger" not in t:
        raise ConfigError(f"{w}: missing trigger = \"audio.onset\" (or audio.beat, audio.bass_hit, midi.1.note.36...)")
    return EnvelopeSpec(_name(w, t), as_str(w, "trigger", t["trigger"]),
                        as_number(w, "attack", t.get("attack", 0.005), 0, 10),
                        as_number(w, "decay", t.get("decay", 0.3), 0.001, 60))


def _scene(w: str, t: Mapping[str, Any], path) -> SceneSpec:
    check_keys(w, t, _SECTIONS["scene"])
    values = t.get("params", {})
    if not isinstance(values, Mapping):
        raise ConfigError(f"{w}: params must be a table of name = value")
    prompts = t.get("prompts")
    if prompts is not None and (not isinstance(prompts, list) or not all(isinstance(p, str) and p for p in prompts)):
        raise ConfigError(f"{w}: prompts must be a list of texts")
    for p in prompts or ():
        check_template(w, p)
    return SceneSpec(_name(w, t), {str(k): as_number(w, k, v) for k, v in values.items()},
                     tuple(prompts) if prompts is not None else None,
                     _transition(w, t["transition"]) if "transition" in t else None)


def _osc(w: str, osc: Mapping[str, Any]) -> OscSettings:
    check_keys(w, osc, _SECTIONS["osc"])
    allow = osc.get("allow", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        raise ConfigError(f"{w}: allow must be a list of addresses, e.g. [\"192.168.1.20\"]")
    return OscSettings(as_int(w, "port", osc.get("port", 9000), 1, 65535), as_str(w, "host", osc.get("host", "127.0.0.1")),
                       tuple(allow), as_str(w, "out", osc["out"]) if "out" in osc else None)


def _midi(w: str, midi: Mapping[str, Any], path: Path | None) -> MidiSettings:
    check_keys(w, midi, _SECTIONS["midi"])
    inputs = midi.get("inputs", [])
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not all(isinstance(a, str) and a for a in inputs):
        raise ConfigError(f"{w}: inputs must be port name substrings, e.g. [\"nanoKONTROL2\"] or \"all\"")
    return MidiSettings(tuple(inputs), _beside_set(w, "mapping", midi["mapping"], path) if "mapping" in midi else None)


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
    if kind not in LAYER_SOURCES or (kind not in ("generator", "feedback", "input") and not arg):
        hint = " needs what it reads, after a colon" if kind in LAYER_SOURCES else suggest(kind, LAYER_SOURCES)
        raise ConfigError(f"{where}: source {source!r}{hint}; sources: generator, feedback, "
                          f"input (the image the generator was given), image:<file>, video:<file>, camera:<N|URL>, "
                          f"shader:<name>")
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
    fit = as_str(where, "fit", t.get("fit", "cover"))
    if fit not in ("cover", "contain"):
        raise ConfigError(f"{where}: fit {fit!r}{suggest(fit, ('cover', 'contain'))}; it is \"cover\" (cropped to fill "
                          f"the frame) or \"contain\" (the whole image, transparent around it)")
    return LayerSpec(source, blend, as_number(where, "opacity", t.get("opacity", 1.0), 0, 1), group, tuple(fx), fit)


_UNITS = {"beat": "beats", "beats": "beats", "bar": "bars", "bars": "bars", "s": "s", "sec": "s", "seconds": "s"}


def _length(v: Any) -> tuple[float, str] | None:
    """"8 bars" | "16 beats" | "30 s" -> (n, unit); None when it is not one."""
    parts = str(v).split() if isinstance(v, str) else []
    if len(parts) == 2 and parts[1] in _UNITS:
        try:
            n = float(parts[0])
        except ValueError:
            return None
        if n >= 0 and math.isfinite(n):
            return n, _UNITS[parts[1]]
    return None


def _after(w: str, v: Any) -> tuple[float, str]:
    """after = "8 bars" | "16 beats" | "30 s"."""
    length = _length(v)
    if length is None or length[0] <= 0:
        raise ConfigError(f"{w}: after = \"8 bars\", \"16 beats\" or \"30 s\" (got {v!r})")
    return length


def _transition(w: str, v: Any) -> tuple[float, str]:
    """transition = "2 bars" | "4 beats" | "1.5 s" | "cut"."""
    length = (0.0, "s") if v == "cut" else _length(v)
    if length is None:
        raise ConfigError(f"{w}: transition = \"2 bars\", \"4 beats\", \"1.5 s\" or \"cut\" (got {v!r})")
    return length


def _quantize(w: str, v: Any) -> str:
    q = as_str(w, "quantize", v)
    if q not in ("bar", "beat", "now"):
        raise ConfigError(f"{w}: quantize {q!r}{suggest(q, ('bar', 'beat', 'now'))}; it is \"bar\", \"beat\" or \"now\"")
    return q


def _edge(w: str, t: Mapping[str, Any], path) -> EdgeSpec:
    check_keys(w, t, _SECTIONS["edge"])
    for key in ("from", "to"):
        if key not in t:
            raise ConfigError(f"{w}: missing {key} = \"scene name\"" + (" (or \"*\": from any)" if key == "from" else ""))
    note = as_str(w, "note", t["note"]) if "note" in t else None
    if note is not None and not (note.startswith("midi.") and ".note." in note):
        raise ConfigError(f"{w}: note = \"midi.<channel>.note.<n>\", got {note!r}")
    return EdgeSpec(as_str(w, "from", t["from"]), as_str(w, "to", t["to"]),
                    _after(w, t["after"]) if "after" in t else None,
                    as_pair(w, "time", t["time"], 0, 1e7) if "time" in t else None,
                    as_pair(w, "energy", t["energy"], 0, 1) if "energy" in t else None,
                    as_number(w, "onset", t["onset"], 0, 1) if "onset" in t else None, note,
                    as_number(w, "chance", t["chance"], 0, 1) if "chance" in t else None,
                    as_number(w, "weight", t.get("weight", 1.0), 0.0, 1000),
                    _quantize(w, t["quantize"]) if "quantize" in t else None)


def _edge_ends(w: str, e: EdgeSpec, scenes: tuple[SceneSpec, ...]) -> EdgeSpec:
    names = [sc.name for sc in scenes]
    for end, name in (("from", e.source), ("to", e.target)):
        if name not in names and not (end == "from" and name == "*"):
            raise ConfigError(f"{w}: {end} = {name!r}: no such scene{suggest(name, names)}; "
                              f"scenes: {', '.join(names) or 'none'}")
    return e


def _graph(w: str, g: Mapping[str, Any], edges: tuple[EdgeSpec, ...], scenes: tuple[SceneSpec, ...]) -> GraphSpec:
    check_keys(w, g, _SECTIONS["graph"])
    names = [sc.name for sc in scenes]
    if not names:
        raise ConfigError(f"{w}: a scene graph needs [[scene]]s to walk")
    start = as_str(w, "start", g["start"]) if "start" in g else None
    if start is not None and start not in names:
        raise ConfigError(f"{w}: start = {start!r}: no such scene{suggest(start, names)}; scenes: {', '.join(names)}")
    return GraphSpec(start, _quantize(w, g["quantize"]) if "quantize" in g else "bar",
                     as_number(w, "drift", g.get("drift", 0.0), 0, 1), tuple(edges))


# [[record]] -> (ShowSet field, reader), in the order they are read
_RECORDS: dict[str, tuple[str, Callable]] = {
    "prompt": ("prompts", _prompt), "layer": ("layers", _layer), "route": ("routes", _route), "lfo": ("lfos", _lfo),
    "envelope": ("envelopes", _envelope), "scene": ("scenes", _scene), "edge": ("edges", _edge),
    "lora": ("loras", _lora),
}
