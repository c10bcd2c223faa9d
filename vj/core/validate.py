"""Checking values read from TOML (sets, mappings): one line that says what, where, what to do."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Mapping

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from vj.core.errors import ConfigError


def load_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file's tables, or one line: no such `what`, not valid TOML (with line), unreadable."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"{path}: can't read it: {e.strerror}") from None


def suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_keys(where: str, table: Mapping[str, Any], allowed) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r}{suggest(key, allowed)}; allowed: {', '.join(sorted(allowed))}")


def as_number(where: str, key: str, v: Any, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{where}: {key} must be a number, got {v!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ConfigError(f"{where}: {key} = {v} is out of range [{lo}, {hi}]")
    return float(v)


def as_int(where: str, key: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{where}: {key} must be a whole number, got {v!r}")
    if not lo <= v <= hi:
        raise ConfigError(f"{where}: {key} = {v} is out of range [{lo}, {hi}]")
    return v


def as_pair(where: str, key: str, v: Any, lo: float, hi: float, rising: bool = True) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise ConfigError(f"{where}: {key} must be two numbers [low, high], got {v!r}")
    a, b = (as_number(where, key, x, lo, hi) for x in v)
    if rising and not a < b:
        raise ConfigError(f"{where}: {key} = [{a:g}, {b:g}] must rise")
    return (a, b)


def as_str(where: str, key: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string, got {v!r}")
    return v
