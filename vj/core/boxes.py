"""A generator box as a set or the command line names it: HOST:PORT and the box's key, checked as
typed (the set's reader and `vj run` say a bad one in a line before anything starts; vj/remote
checks the key again as ZeroMQ reads it)."""

from __future__ import annotations

from typing import Any

from vj.core.errors import ConfigError

DEFAULT_PORT = 9310  # where `vj serve` listens unless told
Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
KEY_LENGTH = 40  # a CURVE public key in Z85


MAX_BOXES = 8  # boxes alternating frames for one generator


def _texts(value: Any, where: str, what: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if (not isinstance(items, (list, tuple)) or not 1 <= len(items) <= MAX_BOXES
            or not all(isinstance(x, str) for x in items)):
        raise ConfigError(f"{where} \"...\" ({what}), or a list of up to {MAX_BOXES}")
    return tuple(x.strip() for x in items)


def parse_boxes(value: Any, where: str) -> tuple[str, ...]:
    """'HOST:PORT', 'HOST:PORT,HOST:PORT' or a list -> the boxes (two or more alternate frames).
    where: what the message begins with ("--generator", "[generator]: remote =")."""
    boxes = _texts(value, where, "HOST:PORT of a `vj serve` box")
    for box in boxes:
        host, sep, port = box.rpartition(":")
        if not sep or not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{where} {box!r} is not HOST:PORT (the address `vj serve` listens on, e.g. "
                              f"10.0.0.5:{DEFAULT_PORT} or [::1]:{DEFAULT_PORT})")
    if len(set(boxes)) < len(boxes):
        raise ConfigError(f"{where} names a box twice; list each once")
    return boxes


def parse_keys(value: Any, where: str) -> tuple[str, ...]:
    """'KEY', 'KEY,KEY' or a list -> the keys (one per box, or one for every box). A bad key is never
    echoed: a secret key pasted by mistake must not end up in a log. where: "--generator-key",
    "[generator]: key"."""
    keys = _texts(value, where, "a box's public key, as `vj serve` prints it")
    for n, key in enumerate(keys, 1):
        if len(key) != KEY_LENGTH or any(c not in Z85 for c in key):
            which = f"{where} #{n}" if len(keys) > 1 else where
            raise ConfigError(f"{which} is not a box's key ({len(key)} characters; a key is {KEY_LENGTH} Z85 "
                              f"characters): copy the line 'key: ...' that `vj serve` prints")
    return keys


def pair_keys(boxes: tuple[str, ...], keys: tuple[str, ...], where: str) -> tuple[str, ...]:
    """One key per box: a single key serves every box; otherwise as many keys as boxes."""
    if boxes and not keys:
        raise ConfigError(f"{where}: remote needs the box's key (`vj serve` prints it as 'key: ...'; "
                          f"--generator-key KEY or key = \"KEY\" beside remote)")
    if keys and not boxes:
        raise ConfigError(f"{where}: key without a box: it is the public key of the `vj serve` box that "
                          f"--generator HOST:PORT or remote = \"HOST:PORT\" names")
    if len(keys) == 1:
        return keys * len(boxes)
    if len(keys) != len(boxes):
        raise ConfigError(f"{where}: {len(boxes)} boxes and {len(keys)} keys: give one key per box, in the same order")
    return keys
