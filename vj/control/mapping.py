"""MIDI mapping files: which knob, fader or pad moves which parameter (or does what).

    [device]
    name = "Korg nanoKONTROL2"   # for people
    match = "nanoKONTROL2"       # a substring of the MIDI port name
    led_feedback = false         # send button states back (to the output port matching `match`)
    led_on = 127                 # the velocity (CC value) that lights a button: a colour on RGB pads
    led_off = 0                  # ... and the one that darkens it
    led_channel = 7              # the channel LED messages go on (default: the control's own)

    [[control]]
    type = "cc"                  # cc | cc14 | note | pitchbend | program
    channel = 1                  # 1-16
    number = 0                   # CC or note number (cc14: the MSB's; the LSB is number + 32)
    target = "feedback.amount"   # a parameter  -- or --  action = "tap" | "scene" | "scene:NAME" |
                                 #   "next-scene" (the scene graph's choice, else the next listed) | "prev-scene" | "resample" | "resample:SLOT" (new template choices)
                                 #   | "grab" (a new [ipadapter] reference frame, as OSC /vj/grab)
                                 #   | "bpm" (a knob, fader or encoder that holds the tempo: absolute over `range`, default 60..180, or relative)
    range = [0.0, 0.99]          # default: the parameter's whole range
    mode = "absolute"            # absolute | relative | toggle | momentary | trigger
    encoding = "twos"            # relative: twos (1.. up, 127.. down) | offset (64 +- n) | signed (bit 6 = down)
    step = 0.01                  # relative: fraction of the range per detent (default 1/128)
    takeover = "pickup"          # absolute: pickup (soft takeover: wait until the knob meets the value) | jump
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vj.core.validate import as_int, as_number, as_pair, as_str, check_keys, load_toml, suggest
from vj.core.errors import ConfigError

TYPES = ("cc", "cc14", "note", "pitchbend", "program")
MODES = ("absolute", "relative", "toggle", "momentary", "trigger")
ENCODINGS = ("twos", "offset", "signed")
ACTIONS = ("tap", "scene", "next-scene", "prev-scene", "resample", "grab", "bpm")
BPM_RANGE = (60.0, 180.0)  # a tempo control's default range, BPM
_CONTROL_KEYS = {"type", "channel", "number", "target", "action", "range", "mode", "encoding", "step", "takeover",
                 "led", "name"}


@dataclass(frozen=True)
class Control:
    type: str
    channel: int  # 1-16
    number: int  # CC/note number; unused for pitchbend/program
    target: str | None = None  # a parameter name
    action: str | None = None  # instead of a target
    range: tuple[float, float] | None = None
    mode: str = "absolute"
    encoding: str = "twos"
    step: float | None = None
    takeover: str = "pickup"
    led: bool = True  # with [device] led_feedback: light this button by its state
    name: str = ""  # for people: "fader 1"


@dataclass(frozen=True)
class Mapping:
    path: Path | None
    match: str
    name: str = ""
    led_feedback: bool = False
    led_on: int = 127
    led_off: int = 0
    led_channel: int | None = None  # 1-16; None: the control's channel
    controls: tuple[Control, ...] = field(default_factory=tuple)


def load_mapping(path: Path) -> Mapping:
    path = Path(path)
    data = load_toml(path, "mapping file")
    return parse_mapping(data, path)


def parse_mapping(data: dict[str, Any], path: Path | None = None) -> Mapping:
    where = str(path) if path else "mapping"
    check_keys(where, data, {"device", "control"})
    dev = data.get("device", {})
    wd = f"{where} [device]"
    check_keys(wd, dev, {"name", "match", "led_feedback", "led_on", "led_off", "led_channel"})
    if "match" not in dev:
        raise ConfigError(f"{where} [device]: missing match = \"...\" (a substring of the port name)")
    controls = []
    items = data.get("control", [])
    if not isinstance(items, list):
        raise ConfigError(f"{where}: controls are written [[control]] (double brackets)")
    seen: dict[tuple, int] = {}
    for i, c in enumerate(items, 1):
        w = f"{where} [[control]] #{i}"
        check_keys(w, c, _CONTROL_KEYS)
        t = as_str(w, "type", c.get("type", "cc"))
        if t not in TYPES:
            raise ConfigError(f"{w}: type {t!r}{suggest(t, TYPES)}; types: {', '.join(TYPES)}")
        mode = as_str(w, "mode", c.get("mode", "absolute"))
        if mode not in MODES:
            raise ConfigError(f"{w}: mode {mode!r}{suggest(mode, MODES)}; modes: {', '.join(MODES)}")
        enc = as_str(w, "encoding", c.get("encoding", "twos"))
        if enc not in ENCODINGS:
            raise ConfigError(f"{w}: encoding {enc!r}; encodings: {', '.join(ENCODINGS)}")
        if ("target" in c) == ("action" in c):
            raise ConfigError(f"{w}: give either target = \"<parameter>\" or action = \"{'|'.join(ACTIONS)}\"")
        action = as_str(w, "action", c["action"]) if "action" in c else None
        if action is not None and action.split(":")[0] not in ACTIONS:
            raise ConfigError(f"{w}: action {action!r}; actions: {', '.join(ACTIONS)}, scene:NAME, resample:SLOT")
        if action is not None and action.startswith("resample:") and not action[9:].isdigit():
            raise ConfigError(f"{w}: action {action!r}: resample:SLOT takes a prompt slot number (resample:1)")
        if action == "bpm":
            _check_tempo_control(w, t, mode, c.get("range"))
        number = as_int(w, "number", c.get("number", 0), 0, 127) if t not in ("pitchbend", "program") else 0
        if t == "cc14" and number > 31:
            raise ConfigError(f"{w}: cc14 uses CC {number} and {number + 32}: the MSB must be 0..31")
        ctl = Control(
            t, as_int(w, "channel", c.get("channel", 1), 1, 16), number,
            as_str(w, "target", c["target"]) if "target" in c else None, action,
            as_pair(w, "range", c["range"], -1e6, 1e6, rising=False) if "range" in c else None,
            mode, enc, as_number(w, "step", c["step"], 1e-6, 1.0) if "step" in c else None,
            as_str(w, "takeover", c.get("takeover", "pickup")), bool(c.get("led", True)), str(c.get("name", "")))
        if ctl.takeover not in ("pickup", "jump"):
            raise ConfigError(f"{w}: takeover {ctl.takeover!r}: pickup or jump")
        key = (ctl.type, ctl.channel, ctl.number)
        if key in seen:
            raise ConfigError(f"{w}: the same {t} {ctl.channel}/{ctl.number} as [[control]] #{seen[key]}")
        seen[key] = i
        controls.append(ctl)
    return Mapping(path, as_str(wd, "match", dev["match"]), str(dev.get("name", "")),
                   bool(dev.get("led_feedback", False)), as_int(wd, "led_on", dev.get("led_on", 127), 0, 127),
                   as_int(wd, "led_off", dev.get("led_off", 0), 0, 127),
                   as_int(wd, "led_channel", dev["led_channel"], 1, 16) if "led_channel" in dev else None,
                   tuple(controls))


def _check_tempo_control(where: str, kind: str, mode: str, bpm_range) -> None:
    """action = "bpm" is a knob, fader or encoder: it has a position, and a range of tempi."""
    if kind not in ("cc", "cc14", "pitchbend") or mode not in ("absolute", "relative"):
        raise ConfigError(f"{where}: action \"bpm\" is a knob, fader or encoder: type cc, cc14 or pitchbend, "
                          f"mode absolute or relative (a pad taps the tempo: action = \"tap\")")
    if bpm_range is not None:
        as_pair(where, "range", bpm_range, 20.0, 400.0)  # BPM, rising


def check_targets(m: Mapping, params) -> None:
    """Every target names a parameter (done once the set's parameters exist)."""
    for c in m.controls:
        if c.target is not None:
            params.spec(c.target, f"{m.path or 'mapping'} ({c.type} {c.channel}/{c.number})")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "device"


def control_toml(c: Control) -> str:
    """A [[control]] block, to append to a mapping file (learn): the rest of the file is untouched."""
    lines = ["", "[[control]]"]
    if c.name:
        lines.append(f"name = {_q(c.name)}")
    lines += [f"type = {_q(c.type)}", f"channel = {c.channel}"]
    if c.type not in ("pitchbend", "program"):
        lines.append(f"number = {c.number}")
    lines.append(f"target = {_q(c.target)}" if c.target else f"action = {_q(c.action)}")
    if c.range is not None:
        lines.append(f"range = [{c.range[0]!r}, {c.range[1]!r}]")
    lines.append(f"mode = {_q(c.mode)}")
    # the rest only where it differs from the default, so a rewrite keeps what a person wrote
    if c.mode == "relative":
        lines.append(f"encoding = {_q(c.encoding)}")
    if c.step is not None:
        lines.append(f"step = {c.step!r}")
    if c.takeover != "pickup":
        lines.append(f"takeover = {_q(c.takeover)}")
    if not c.led:
        lines.append("led = false")
    return "\n".join(lines) + "\n"


def new_mapping_toml(match: str, name: str) -> str:
    return (f"# Learned with démontage (`/vj/learn` or `vj learn`); edit freely.\n[device]\nname = {_q(name)}\n"
            f"match = {_q(match)}\n")


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
