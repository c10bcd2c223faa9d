"""Checking values read from TOML (sets, mappings): one line that says what, where, what to do."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

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


T = TypeVar("T")


class Problems:
    """Where the problems of a file go while it is read. Raising (the default): the first one ends
    the reading, as a show starting needs. Collecting (`vj check`): each is kept and the reading goes
    on past it, so that a performer sees every problem at once."""

    def __init__(self, collect: bool = False) -> None:
        self.collect = collect
        self.found: list[ConfigError] = []

    def attempt(self, fn: Callable[..., T], *args: Any, default: Any = None) -> T:
        """fn(*args); a ConfigError raised (raising) or kept, and `default` returned (collecting)."""
        try:
            return fn(*args)
        except ConfigError as e:
            if not self.collect:
                raise
            self.found.append(e)
            return default


RAISE = Problems()  # shared: it keeps nothing


def fail(message: str) -> None:
    """Raise a ConfigError (for Problems.attempt, where a check is a condition, not a reader)."""
    raise ConfigError(message)


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
