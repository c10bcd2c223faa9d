"""A set's files (its sound track, images, videos, LoRAs, mapping): looked for beside the set, then
among the shipped ones, so that a shipped set copied into a folder of one's own still plays (README,
"Make it yours"). A file found in neither place keeps the path beside the set, the place a
performer is told to put it; `missing` lists those for `vj check`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vj.resources import data_dir

# [section] key -> the shipped folders searched after the set's own, in order
SHIPPED = {"mapping": ("sets", "mappings")}
DEFAULT_SHIPPED = ("sets",)


def find(name: str, set_path: Path | None, key: str = "") -> Path:
    """The file `name` of the set at `set_path`: as written when absolute; else beside the set when it
    is there, else the shipped one of that name, else (found nowhere) the path beside the set."""
    p = Path(name).expanduser()
    if p.is_absolute() or set_path is None:
        return p
    beside = Path(set_path).parent / p
    if beside.exists():
        return beside
    for kind in SHIPPED.get(key, DEFAULT_SHIPPED):
        shipped = data_dir(kind) / p
        if shipped.is_file():
            return shipped
    return beside


def not_there(name: str, set_path: Path | None, key: str = "") -> str:
    """The end of the message for a file found nowhere: where it was looked for, and the file it
    may have meant (one beside the set or shipped whose name is close)."""
    from vj.core.validate import suggest

    p = Path(name).expanduser()
    if p.is_absolute() or set_path is None:
        return "no such file"
    folders = [Path(set_path).parent] + [data_dir(k) for k in SHIPPED.get(key, DEFAULT_SHIPPED)]
    near = [str(f.relative_to(d)) for d in folders if (d / p).parent.is_dir()
            for f in (d / p).parent.iterdir() if f.is_file() and f.suffix == p.suffix]
    return f"no such file in {' or '.join(str(d) for d in folders)}{suggest(name, near)}"


@dataclass(frozen=True)
class Missing:
    section: str  # the set's table: "show", "generator", "midi"
    key: str  # its key: "audio", "input", "mapping"
    written: str  # the value as the set has it
    field: str  # the ShowSet field it fills


def missing(show, raw: dict, skip: frozenset[str] = frozenset()) -> list[Missing]:
    """The files a set names that are not there (the layers' and LoRAs' are checked as they are read);
    `skip`: ShowSet fields the command line replaces (their set values are not used)."""
    out = []
    for section, key, field in (("show", "audio", "audio"), ("generator", "input", "input"),
                                ("midi", "mapping", "midi")):
        written = raw.get(section, {}).get(key) if isinstance(raw.get(section), dict) else None
        if not isinstance(written, str) or field in skip:
            continue
        if key == "input" and (written == "feedback" or written.startswith("camera:")):
            continue
        if not find(written, show.path, key).is_file():
            out.append(Missing(section, key, written, field))
    return out
