"""Where shaders/, sets/ and mappings/ are: beside the package in a checkout, inside it in a wheel;
and the performer's own folders of them (which survive an upgrade)."""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent
KINDS = ("shaders", "sets", "mappings")


def data_dir(kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown resource kind {kind!r}")
    installed = _PKG / "_data" / kind  # wheel: force-included by pyproject.toml
    if installed.is_dir():
        return installed
    return _PKG.parent / kind  # checkout or editable install


def user_dir(kind: str) -> Path:
    """The performer's own folder of `kind` ($XDG_CONFIG_HOME or ~/.config, then demontage/<kind>)."""
    if kind not in KINDS:
        raise ValueError(f"unknown resource kind {kind!r}")
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "demontage" / kind


def find_set(name: str | Path) -> Path:
    """A set by path (as typed) or by name among the shipped sets (`demo`, `demo.toml`, `sets/demo.toml`)."""
    p = Path(name).expanduser()
    if p.is_file():
        return p.resolve()
    shipped = data_dir("sets")
    for cand in (shipped / p.name, shipped / (p.name + ".toml")):
        if cand.is_file():
            return cand
    from vj.core.errors import ConfigError

    names = ", ".join(sorted(q.stem for q in shipped.glob("*.toml"))) or "none"
    raise ConfigError(f"set file {str(name)!r} not found (shipped sets: {names}); give a path to a .toml set")
