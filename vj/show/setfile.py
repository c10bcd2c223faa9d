"""Set files: TOML in, frozen dataclasses out, and one clear line for anything wrong.

A set is what a performer prepares: the model, the prompts, the look (effect, feedback) and the
routes from sound to image. Unknown keys are errors (a typo must not silently do nothing).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from pathlib import Path
from typing import Any, Callable, Mapping

from vj.core.boxes import pair_keys, parse_boxes, parse_keys
from vj.core.errors import ConfigError
from vj.core.spec import (BLEND_MODES, CONTROL_ONLY_SOURCES, GUIDE_SOURCES, LAYER_SOURCES, LFO_SHAPES, PREPROCESSORS, RANGES, SCHEDULERS,
                          TRIGGER_SHORTHANDS, TRIGGERS, ControlSpec, EdgeSpec, EnvelopeSpec, GeneratorSpec, GraphSpec,
                          IpAdapterSpec, LayerSpec, LfoSpec, LoraSpec, MidiSettings, OscSettings, PromptSpec, RouteSpec,
                          SceneSpec, ShowSet, WebSettings)
from vj.core.validate import RAISE, Problems, fail, as_int, as_number, as_pair, as_str, check_keys, load_toml, suggest
from vj.render.shaders import set_folder
from vj.show import files




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
    its reader, then the checks that span several keys. Collecting `problems`, each problem is kept
    there and the reading goes on past it, the set read as it was meant where that is clear (a
    misspelt table or key, keys under a missing header, a record standing in for itself), else the
    bad value left out (its default stays): one mistake, one message."""
    where = str(path) if path else "set"
    data = _tables_meant(data, where, problems)
    kw: dict[str, Any] = {"path": path}
    if path:
        kw["name"] = path.stem
        kw["shader_dirs"] = set_folder(path)  # its own shaders/ folder, if it has one, is searched first
    for section, fields in _FIELDS.items():
        kw.update(_read_table(data, section, fields, where, path, problems))
    problems.attempt(_spread_seeds, kw, data.get("generator", {}), f"{where} [generator]")
    kw.pop("seeds", None)
    problems.attempt(_check_generator, kw, f"{where} [generator]")
    kw["generators"] = problems.attempt(_generators, data, where, path, problems, default=())
    problems.attempt(_check_whole, data, where)
    for key, (field, read) in _RECORDS.items():
        tables = problems.attempt(_tables, data, key, where, default=[])
        records = [_record(problems, key, read, f"{where} [[{key}]] #{i}", t, path) for i, t in enumerate(tables, 1)]
        records = _unique(problems, key, tables, records, where)
        if key == "control":  # a layer:N source names a layer (read before)
            records = [problems.attempt(_control_layer, f"{where} [[control]] #{i}", c, kw.get("layers", ())) if c else None
                       for i, c in enumerate(records, 1)]
        if key == "edge":  # its ends name scenes (read just before)
            records = [problems.attempt(_edge_ends, f"{where} [[edge]] #{i}", e, kw["scenes"]) if e else None
                       for i, e in enumerate(records, 1)]
        if key == "layer":  # a layer may name a generator of [generators.NAME] (a table with problems too)
            names = tuple(data["generators"]) if isinstance(data.get("generators"), Mapping) else ()
            records = [problems.attempt(_layer_generator, f"{where} [[layer]] #{i}", x, names) if x else None
                       for i, x in enumerate(records, 1)]
        records = tuple(r for r in records if r is not None)
        if records or key != "prompt":  # no [[prompt]]: the default prompt stays
            kw[field] = records
    problems.attempt(_check_records, kw, where)
    for g in kw["generators"]:
        problems.attempt(_shown, g, kw["layers"], where)
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
    if "ipadapter" in data:
        kw["ipadapter"] = problems.attempt(_ipadapter, f"{where} [ipadapter]", data["ipadapter"], path, kw.get("layers", ()),
                                           default=None)
    kw["osc"] = problems.attempt(_osc, f"{where} [osc]", data.get("osc", {}), default=OscSettings())
    kw["midi"] = problems.attempt(_midi, f"{where} [midi]", data.get("midi", {}), path, default=MidiSettings())
    if "web" in data:
        kw["web"] = problems.attempt(_web, f"{where} [web]", data["web"], default=WebSettings())
    return ShowSet(**kw)


def unknown_table(where: str, key: str) -> str:
    """The message for a table the set file may not have (vj check says it for a misspelt header too)."""
    return f"{where}: unknown table {key!r}{suggest(key, _SECTIONS)}; tables: {', '.join(sorted(_SECTIONS))}"


def _tables_meant(data: Mapping[str, Any], where: str, problems: Problems) -> Mapping[str, Any]:
    """The set's tables, each name checked; collecting, the set is read as it was meant past a
    mistake in its shape, so that what the rest declares is known (one mistake, one message): a
    misspelt table as the one it was meant to be (vj check also mends its header, check.py), keys
    above the first header or under a missing one (they fell into the table above) in the table
    they belong to."""
    top = {k: v for k, v in data.items()  # keys above the first header: values, not tables
           if not isinstance(v, Mapping) and not (isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v))}
    out: dict[str, Any] = {key: value for key, value in data.items() if key in _SECTIONS and key not in top}
    for key, value in data.items():
        if key in _SECTIONS or key in top:
            continue
        problems.attempt(fail, unknown_table(where, key))
        meant = difflib.get_close_matches(key, _SECTIONS, 1)
        if meant and meant[0] not in out:
            out[meant[0]] = value
    if top:
        out[""] = top
        _rehome(out, "", where, problems)
        for key in out.pop(""):
            problems.attempt(fail, unknown_table(where, key))
    for key in list(out):
        _rehome(out, key, where, problems)
    return out


def _rehome(data: dict, key: str, where: str, problems: Problems) -> None:
    """Keys of table `key` (of its last record) that fell in from a table whose header is missing
    (a key only that table has, and those of its keys beside it): said once and moved where they belong."""
    value = data[key]
    table = value[-1] if isinstance(value, list) and value else value
    allowed = _SECTIONS.get(key) or set()  # "": the keys above the first header; [params]: names of its own
    if not isinstance(table, dict):
        return
    strays = {k: [name for name, keys in _SECTIONS.items() if keys is not None and name != key and k in keys]
              for k in table if k not in allowed}
    # a key that only one table has, and that is no misspelling of one of this table's: it fell in
    sure = {homes[0] for k, homes in strays.items() if len(homes) == 1 and not suggest(k, allowed)}
    moved: dict[str, dict] = {}
    for k, homes in strays.items():
        home = [h for h in homes if h in sure]  # name, quantize...: where the keys only it has go
        if len(home) == 1:
            moved.setdefault(home[0], {})[k] = table[k]
    for home, keys in moved.items():
        header = f"[[{home}]]" if home in _RECORDS else f"[{home}]"
        first = next(iter(keys))
        label = f" [[{key}]] #{len(value)}" if isinstance(value, list) else f" [{key}]" if key else ""
        problems.attempt(fail, f"{where}{label}: {first} = ... belongs in {header} ({', '.join(keys)}); is its "
                               f"header missing above it?")
        for k in keys:
            table.pop(k)
        if home in _RECORDS:
            data[home] = list(data.get(home, [])) + [keys]
        elif home not in data:
            data[home] = keys


def _check_whole(data: Mapping[str, Any], where: str) -> None:
    """What spans keys of the file as written."""
    if "effect" in data.get("compositor", {}) and "effects" in data.get("compositor", {}):
        raise ConfigError(f"{where} [compositor]: give effect = \"name\" or effects = [\"a\", \"b\"], not both")
    prompts = data.get("prompt")
    if prompts is not None and (not isinstance(prompts, list) or not prompts):
        raise ConfigError(f"{where}: prompts are written [[prompt]] (double brackets), one table per prompt with a text")


def _check_records(kw: dict, where: str) -> None:
    if len(kw["layers"]) > 12:
        raise ConfigError(f"{where}: {len(kw['layers'])} layers; the stack takes at most 12")


# what a record's name becomes, for the message that says two records share one
_NAMED = {"scene": "its name in /vj/scene and the graph", "lora": "the parameter lora.<name>.weight",
          "lfo": "the source lfo.<name>", "envelope": "the source env.<name>",
          "control": "the parameter control.<name>.scale"}


def _unique(problems: Problems, key: str, tables: list, records: list, where: str) -> list:
    """Records of a kind that names them: a name taken by an earlier record is said at its line, and
    that record left out (the first keeps the name)."""
    if key not in _NAMED:
        return records
    first: dict[str, int] = {}
    out = list(records)
    for i, (t, r) in enumerate(zip(tables, records), 1):
        name = t.get("name") if isinstance(t, Mapping) else None
        if not isinstance(name, str):
            continue
        if name in first:
            problems.attempt(fail, f"{where} [[{key}]] #{i}: name {name!r} is taken by [[{key}]] #{first[name]} "
                                   f"(it is {_NAMED[key]}); give this one another name")
            out[i - 1] = None
        else:
            first[name] = i
    return out


def _record(problems: Problems, key: str, read: Callable, w: str, t: Any, path: Path | None):
    """One [[record]] read; collecting, one that does not read stands in for itself, so that what
    names it (a route from its LFO, a layer's parameters by number, an edge to its scene) is not
    said to be wrong as well: one mistake, one message."""
    said = len(problems.found)
    record = problems.attempt(read, w, t, path)
    if record is None and len(problems.found) > said and isinstance(t, Mapping):
        # a key misspelt: the record as it was meant, else what the rest can still learn from it
        meant = {(k if k in _SECTIONS[key] else next(iter(difflib.get_close_matches(k, _SECTIONS[key], 1)), k)): v
                 for k, v in t.items()}
        return Problems(collect=True).attempt(read, w, meant, path) or _stand_in(key, t)
    return record


def _stand_in(key: str, t: Mapping[str, Any]):
    """What a record that did not read still tells the rest of the check (None: nothing)."""
    name = t.get("name")
    named = isinstance(name, str) and name and all(c.isalnum() or c in "_-" for c in name)
    if key == "prompt":
        return PromptSpec("(a prompt that did not read)")  # it keeps the numbers of the prompts after it
    if key == "layer":
        fx = t.get("effects", [])
        return LayerSpec(effects=tuple(dict.fromkeys(x for x in fx if isinstance(x, str) and x))
                         if isinstance(fx, list) else ())
    if not named:
        return None
    if key == "lfo":
        return LfoSpec(name)
    if key == "envelope":
        return EnvelopeSpec(name, "audio.onset")
    if key == "lora":
        return LoraSpec(name, "stand-in")
    if key == "scene":
        values = t.get("params", {})
        values = values if isinstance(values, Mapping) else {}
        return SceneSpec(name, {str(k): float(v) for k, v in values.items()
                                if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return None


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
    """A file named relative to the set file (so a set folder travels whole), else a shipped one of
    that name (a shipped set copied elsewhere still finds its sound track): show/files.py."""
    return files.find(as_str(w, k, v), path, k)


def _input(w, k, v, path):
    src = as_str(w, k, v)
    return src if src == "feedback" or src.startswith("camera:") else str(_beside_set(w, k, src, path))


def _seeds(w, k, v, path):
    if not isinstance(v, list) or not 1 <= len(v) <= 16:
        raise ConfigError(f"{w}: seeds = [a, b, ...]: one to 16 whole numbers, blended by noise.seed.<n>.weight")
    return tuple(as_int(w, "seeds", s, *RANGES["seed"]) for s in v)


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
    return parse_boxes(v, f"{w}: {k} =")


def _keys(w, k, v, path):
    return parse_keys(v, f"{w}: {k}")


# [section] key -> (ShowSet field, reader)
_FIELDS: dict[str, dict[str, tuple[str, Callable]]] = {
    "show": {"name": ("name", _text), "size": ("size", _size), "fps": ("fps", _number(*RANGES["fps"])),
             "audio": ("audio", _beside_set), "transition": ("transition", lambda w, k, v, path: _transition(w, v))},
    "generator": {"model": ("model", _text), "steps": ("steps", _whole(*RANGES["steps"])),
                  "scheduler": ("scheduler", _scheduler), "negative": ("negative", _text_or_empty), "size": ("gen_size", _size),
                  "seed": ("seed", _whole(*RANGES["seed"])), "seeds": ("seeds", _seeds), "input": ("input", _input),
                  "deep_cache": ("deep_cache", _whole(*RANGES["deep_cache"])), "tiny_vae": ("tiny_vae", _flag),
                  "stream_batch": ("stream_batch", _flag), "fallback": ("fallback", _text),
                  "remote": ("remote", _boxes), "key": ("remote_keys", _keys)},
    "tempo": {"link": ("link", _flag), "quantum": ("quantum", _whole(*RANGES["quantum"]))},
    "compositor": {"effect": ("effects", _effect), "effects": ("effects", _effects),
                   "precision": ("precision", _precision)},
    "audio": {"edges": ("audio_edges", _pair(20.0, 20000.0)),
              "sensitivity": ("audio_sensitivity", _number(*RANGES["sensitivity"])),
              "hit_sensitivity": ("audio_hit_sensitivity", _number(*RANGES["sensitivity"])),
              "bpm_range": ("audio_bpm_range", _pair(*RANGES["bpm"])),
              "channel": ("audio_channel", _whole(*RANGES["audio_channel"]))},
}
_SECTIONS = {name: set(fields) for name, fields in _FIELDS.items()}
_SECTIONS.update({
    "generators": None,  # [generators.NAME]: tables of the [generator] keys (seeds excepted), read by _generators
    "prompt": {"text", "weight", "resample"},
    "lora": {"name", "source", "weight"},
    "control": {"name", "model", "preprocessor", "source", "scale", "start", "end"},
    "ipadapter": {"model", "weights", "subfolder", "image_encoder", "image", "scale"},
    "layer": {"source", "blend", "opacity", "group", "effects", "fit"},
    "params": None,  # free-form: names checked against the namespace once it is built
    "route": {"source", "target", "amount", "offset", "range", "curve", "attack", "release"},
    "lfo": {"name", "shape", "beats", "phase"},
    "envelope": {"name", "trigger", "attack", "decay"},
    "scene": {"name", "params", "prompts", "transition"},
    "osc": {"port", "host", "allow", "out"},
    "midi": {"inputs", "mapping"},
    "web": {"port", "host", "token", "preview_fps", "preview_width"},
    "graph": {"start", "quantize", "drift"},
    "edge": {"from", "to", "after", "time", "energy", "onset", "note", "chance", "weight", "quantize"},
})
TABLES = tuple(_SECTIONS)  # the tables a set file may have


def _read_table(data, section: str, fields, where: str, path: Path | None, problems: Problems) -> dict[str, Any]:
    table = data.get(section, {})
    w = f"{where} [{section}]"
    if not isinstance(table, Mapping):
        problems.attempt(fail, f"{w}: written [{section}] (single brackets), one table of key = value")
        return {}
    out = {}
    for key, v in table.items():
        if problems.attempt(check_keys, w, {key: v}, fields, default=False) is False:
            meant = difflib.get_close_matches(key, fields, 1)  # collecting: read as it was meant
            if not meant or meant[0] in table:
                continue
            key = meant[0]
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


def _fader_name(w: str, t: Mapping[str, Any], param: str) -> str:
    """A record's name that becomes part of a parameter's (`param`, with {} for the name)."""
    name = _name(w, t)
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ConfigError(f"{w}: name = {name!r}: lower-case letters, digits and _ (it becomes {param.format(name)})")
    return name


def _lora(w: str, t: Mapping[str, Any], path) -> LoraSpec:
    check_keys(w, t, _SECTIONS["lora"])
    name = _fader_name(w, t, "lora.{}.weight")
    if "source" not in t:
        raise ConfigError(f"{w}: missing source = \"file.safetensors\" (beside the set) or \"org/name\" (a hub id)")
    source = as_str(w, "source", t["source"])
    if source.lower().endswith(_LORA_FILE) or source.startswith(("/", "./", "../", "~")):
        written, source = source, str(_beside_set(w, "source", source, path))
        if not Path(source).is_file():
            raise ConfigError(f"{w}: source = {written!r}: {files.not_there(written, path)}; a LoRA file "
                              f"(.safetensors) beside the set, or a hub id (org/name)")
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


def _web(w: str, web: Any) -> WebSettings:
    """[web]: the browser remote (vj/web/); the table alone turns it on."""
    if not isinstance(web, Mapping):
        raise ConfigError(f"{w}: must be a table, e.g. [web] port = 8080")
    check_keys(w, web, _SECTIONS["web"])
    token = web.get("token")
    if token is not None and (not isinstance(token, str) or not re.fullmatch(r"[A-Za-z0-9_-]{16,128}", token)):
        raise ConfigError(f"{w}: token must be 16 to 128 letters, digits, '-' or '_' (leave it out for a fresh one "
                          f"each show)")
    d = WebSettings()
    return WebSettings(True, as_int(w, "port", web.get("port", d.port), 1, 65535),
                       as_str(w, "host", web.get("host", d.host)), token,
                       as_number(w, "preview_fps", web.get("preview_fps", d.preview_fps), 0.0, 15.0),
                       as_int(w, "preview_width", web.get("preview_width", d.preview_width), 64, 960))


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


def with_overrides(s: ShowSet, flags: Mapping[str, str] | None = None, **changes: Any) -> ShowSet:
    """The set with command-line overrides applied (None means 'not given'); `flags`: the flag that
    gave each field, kept in the set so that a message names it (show/origin.py)."""
    given = {k: v for k, v in changes.items() if v is not None}
    noted = {**s.flags, **{k: f for k, f in (flags or {}).items() if k in given}}
    return dataclasses.replace(s, **given, flags=noted)


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
    if kind not in LAYER_SOURCES or (kind not in ("generator", "feedback", "input", "control") and not arg):
        hint = " needs what it reads, after a colon" if kind in LAYER_SOURCES else suggest(kind, LAYER_SOURCES)
        raise ConfigError(f"{where}: source {source!r}{hint}; sources: generator, feedback, "
                          f"input (the image the generator was given), control (the map of the first [[control]]), "
                          f"image:<file>, video:<file>, camera:<N|URL>, "
                          f"shader:<name>")
    if kind in ("image", "video"):
        p = files.find(arg, path)  # beside the set file, else a shipped one
        if not p.is_file():
            raise ConfigError(f"{where}: {kind} {arg!r}: {files.not_there(arg, path)}")
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




# -- guided generation: [[control]] and [ipadapter] (generate/guided/) ---------------------------------
_HUB = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
BUILTIN_CONTROLS = ("seedling-edges",)  # the built-in model's own control branches (vj/seedling/control.py)


def _model_source(w: str, key: str, value: Any, path: Path | None, what: str) -> str:
    """A folder beside the set (it must be there), a built-in name, or a hub id (fetched once, online)."""
    source = as_str(w, key, value)
    if source in BUILTIN_CONTROLS and what == "ControlNet":
        return source
    looks_local = source.startswith(("/", "./", "../", "~")) or not _HUB.fullmatch(source)
    if looks_local:
        folder = Path(_beside_set(w, key, source, path))
        if not folder.is_dir():
            extra = f", {', '.join(BUILTIN_CONTROLS)} (built in)" if what == "ControlNet" else ""
            raise ConfigError(f"{w}: {key} = {value!r}: no such folder ({folder}); a {what} folder beside the set, "
                              f"a hub id (org/name){extra}")
        return str(folder)
    return source


def _guide_source(w: str, key: str, value: Any, path: Path | None, layers, extra: tuple[str, ...] = ()) -> str:
    """What a control or a reference reads: input, program (the composited picture, as the audience
    sees it, frames late), image:/video:<file>, camera:<N|URL>, layer:<n> (that layer's own image,
    video or camera, read by the generator); a bare file is image: or video:."""
    src = as_str(w, key, value)
    kind, _, arg = src.partition(":")
    if src in GUIDE_SOURCES + extra:
        return src
    if kind == "camera" and arg:
        return src
    if kind == "layer":
        if not arg.isdigit() or not 1 <= int(arg) <= len(layers):
            raise ConfigError(f"{w}: {key} = {src!r}: layer:<n> names one of the set's {len(layers)} [[layer]]s (1..)")
        layer = layers[int(arg) - 1]
        if layer.kind not in ("image", "video", "camera"):
            raise ConfigError(f"{w}: {key} = {src!r}: layer {arg} shows {layer.kind!r}; a control or reference can read "
                              f"a layer's image, video or camera (or input: what the generator is given)")
        return layer.source
    if kind not in ("image", "video"):
        kind, arg = ("video" if Path(src).suffix.lower() in _VIDEO else "image"), src
    if not arg:
        raise ConfigError(f"{w}: {key} = {src!r}: {kind}:<file>")
    p = Path(_beside_set(w, key, arg, path))
    if not p.is_file():
        raise ConfigError(f"{w}: {key} = {src!r}: no such file ({p}); sources: input, program, image:<file>, "
                          f"video:<file>, camera:<N|URL>, layer:<n>" + "".join(f", {e}" for e in extra))
    return f"{kind}:{p}"


_VIDEO = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")


def _control(w: str, t: Mapping[str, Any], path) -> ControlSpec:
    check_keys(w, t, _SECTIONS["control"])
    name = _fader_name(w, t, "control.{}.scale")
    if "model" not in t:
        raise ConfigError(f"{w}: missing model = \"seedling-edges\" (built in), a ControlNet folder or a hub id")
    pre = as_str(w, "preprocessor", t.get("preprocessor", "canny"))
    if pre.startswith("depth:"):  # another depth network: a folder beside the set or a hub id
        pre = "depth:" + _model_source(w, "preprocessor", pre[6:], path, "depth model")
    elif pre not in PREPROCESSORS:
        raise ConfigError(f"{w}: preprocessor = {pre!r}{suggest(pre, PREPROCESSORS)}; one of {', '.join(PREPROCESSORS)} "
                          f"or depth:<folder or hub id>")
    source = as_str(w, "source", t.get("source", "input"))
    if not source.startswith("layer:"):  # a layer's source is read once the layers are (_control_layer)
        source = _guide_source(w, "source", source, path, (), extra=CONTROL_ONLY_SOURCES)
    start = as_number(w, "start", t.get("start", 0.0), 0, 1)
    end = as_number(w, "end", t.get("end", 1.0), 0, 1)
    if end <= start:
        raise ConfigError(f"{w}: start = {start:g}, end = {end:g}: the control acts from start to end (shares of the "
                          f"steps), so end must be above start")
    return ControlSpec(name, _model_source(w, "model", t["model"], path, "ControlNet"), pre,
                       source, as_number(w, "scale", t.get("scale", 1.0), 0, 2), start, end)


def _control_layer(w: str, c: ControlSpec, layers) -> ControlSpec:
    """Its source checked and resolved, once the layers are read (layer:<n> is that layer's source)."""
    if not c.source.startswith("layer:"):
        return c
    return dataclasses.replace(c, source=_guide_source(w, "source", c.source, None, layers))


def _ipadapter(w: str, t: Any, path: Path | None, layers) -> IpAdapterSpec:
    if not isinstance(t, Mapping):
        raise ConfigError(f"{w}: written [ipadapter] (single brackets), one table of key = value")
    check_keys(w, t, _SECTIONS["ipadapter"])
    if "model" not in t:
        raise ConfigError(f"{w}: missing model = \"h94/IP-Adapter\" (a hub id) or a folder with the adapter's weights")
    d = IpAdapterSpec("")
    return IpAdapterSpec(_model_source(w, "model", t["model"], path, "IP-Adapter"),
                         as_str(w, "weights", t.get("weights", d.weights)),
                         _text_or_empty(w, "subfolder", t.get("subfolder", d.subfolder), path),
                         as_str(w, "image_encoder", t.get("image_encoder", d.image_encoder)),
                         _guide_source(w, "image", t.get("image", d.image), path, layers),
                         as_number(w, "scale", t.get("scale", d.scale), 0, 2))


# [[record]] -> (ShowSet field, reader), in the order they are read
_RECORDS: dict[str, tuple[str, Callable]] = {
    "prompt": ("prompts", _prompt), "layer": ("layers", _layer), "route": ("routes", _route), "lfo": ("lfos", _lfo),
    "envelope": ("envelopes", _envelope), "scene": ("scenes", _scene), "edge": ("edges", _edge),
    "lora": ("loras", _lora), "control": ("controls", _control),
}


# -- generators: [generators.NAME], fallbacks, remote boxes -------------------------------------------
_NAMED_KEYS = {k: v for k, v in _FIELDS["generator"].items() if k != "seeds"}  # a [generators.NAME] table's keys
_SPEC_FIELD = {"gen_size": "size"}  # ShowSet field -> GeneratorSpec field, where they differ
_GENERATOR_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _generators(data: Mapping[str, Any], where: str, path: Path | None, problems: Problems) -> tuple[GeneratorSpec, ...]:
    """[generators.NAME] tables: the keys of [generator] (seeds excepted: the seed list is the show's)."""
    tables = data.get("generators", {})
    if not isinstance(tables, Mapping) or not all(isinstance(t, Mapping) for t in tables.values()):
        raise ConfigError(f"{where}: more generators are written [generators.NAME], one table each with "
                          f"model = \"...\" (a layer shows one with source = \"generator:NAME\")")
    out = []
    for name, table in tables.items():
        w = f"{where} [generators.{name}]"
        if not _GENERATOR_NAME.match(name):
            problems.attempt(fail, f"{w}: the name {name!r}: lower-case letters, digits, - and _ "
                                   f"(a layer shows it as source = \"generator:NAME\")")
            continue
        if "seeds" in table:
            problems.attempt(fail, f"{w}: seeds = [...] is the show's (the [generator] table's, blended by "
                                   f"noise.seed.<n>.weight); a named generator takes seed = N, a noise of its own")
        section = f"generators.{name}"
        kw = _read_table({section: {k: v for k, v in table.items() if k != "seeds"}}, section, _NAMED_KEYS, where,
                         path, problems)
        kw = {_SPEC_FIELD.get(k, k): v for k, v in kw.items()}
        if "model" not in table:
            problems.attempt(fail, f"{w}: missing model = \"...\" (seedling, dcgan-faces, sd-turbo, a folder...)")
            continue
        problems.attempt(_check_generator, kw, w)
        out.append(GeneratorSpec(name, **kw))
    return tuple(out)


def _check_generator(kw: dict, w: str) -> bool:
    """What spans a generator table's keys: a fallback that is another model, remote boxes with their keys."""
    model = kw.get("model", GeneratorSpec.model)
    if kw.get("fallback") is not None and kw["fallback"] == model:
        raise ConfigError(f"{w}: fallback = \"{kw['fallback']}\" is its model already; name another, local model "
                          f"(seedling, dcgan-faces) or leave fallback out")
    pair_keys(kw.get("remote", ()), kw.get("remote_keys", ()), w)  # one key a box, or one for all
    return True


def _layer_generator(w: str, layer: LayerSpec, names: tuple[str, ...]) -> LayerSpec:
    """A layer naming a generator ("generator:NAME", "input:NAME") names one the set has."""
    name = layer.generator
    if name and name not in names:
        raise ConfigError(f"{w}: source '{layer.source}': the set has no [generators.{name}]{suggest(name, names)}; "
                          f"generators: \"{layer.kind}\" (the main one)"
                          + "".join(f", \"{layer.kind}:{n}\"" for n in names))
    return layer


def _shown(g: GeneratorSpec, layers: tuple[LayerSpec, ...], where: str) -> None:
    if not any(layer.generator == g.name and layer.kind == "generator" for layer in layers):
        raise ConfigError(f"{where} [generators.{g.name}]: no layer shows it (its frames would be made for nobody); "
                          f"add a [[layer]] with source = \"generator:{g.name}\", or leave the table out")
