"""Where a value of a show came from: a flag of the command line, or a line of the set file.

A value a performer did not type must not be blamed on a flag (`vj render club --model seedling`
once said `--tiny-vae: ...` of `tiny_vae = true` in the set). The command line's overrides are
noted in the set as it is played (ShowSet.flags, by cli.py); a message about a value begins with the
value's key (`tiny_vae: ...`, `model 'x' ...`, the generator's convention), and `placed` puts where
the value came from in its place: `--tiny-vae: ...` or `sets/club.toml:19: [generator] tiny_vae: ...`.
"""

from __future__ import annotations

import re
from pathlib import Path

from vj.core.spec import ShowSet

# the key a message begins with -> (the ShowSet field, the set's [section] that holds it)
KEYS = {"model": ("model", "generator"), "tiny_vae": ("tiny_vae", "generator"), "input": ("input", "generator"),
        "steps": ("steps", "generator"), "deep_cache": ("deep_cache", "generator"),
        "scheduler": ("scheduler", "generator"), "fps": ("fps", "show"), "audio": ("audio", "show")}
_SUBJECT = re.compile(r"^(" + "|".join(KEYS) + r")\b")


def line_of(path: Path, section: str, key: str) -> int | None:
    """The 1-based line of `key = ...` in the set file's [section] (None: not written there)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    inside = False
    for n, line in enumerate(lines, 1):
        header = re.match(r"^\s*\[\[?\s*([\w.-]+)\s*\]", line)
        if header:
            inside = header.group(1) == section
        elif inside and re.match(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
            return n
    return None


def origin(show: ShowSet, key: str) -> str | None:
    """Where the value of `key` (a KEYS key) came from: its flag (`--tiny-vae`), its place in the set
    file (`sets/club.toml:19: [generator] tiny_vae`), or None (the default: nobody wrote it)."""
    field, section = KEYS[key]
    flag = show.flags.get(field)
    if flag:
        return flag
    if show.path is None:
        return None
    line = line_of(show.path, section, key)
    return f"{show.path}:{line}: [{section}] {key}" if line else None


def placed(show: ShowSet, message: str) -> str:
    """`message` about a value (it begins with the value's key) with where the value came from in
    place of the key; any other message as it is."""
    m = _SUBJECT.match(message)
    if m is None:
        return message
    where = origin(show, m.group(1))
    return message if where is None else where + message[m.end():]
