"""A strict shape check of an OSC packet, before python-osc decodes it.

python-osc is lenient where a show can't be: it pads a truncated float with zeros (a message cut
in transit would set a parameter to a value nobody sent) and skips a bundle element that runs
past the end with a log line. This walks the packet as the OSC 1.0 spec lays it out (4-byte
alignment, type tags, blob sizes, bundle element sizes) and says whether every byte is where it
should be. It costs a few microseconds a message.
"""

from __future__ import annotations

import struct

_FIXED = {"i": 4, "f": 4, "c": 4, "r": 4, "m": 4, "h": 8, "d": 8, "t": 8,
          "T": 0, "F": 0, "N": 0, "I": 0, "[": 0, "]": 0}
_MAX_DEPTH = 8  # nested bundles


def _string_end(data: bytes, i: int, n: int) -> int:
    """Index after the NUL-terminated, 4-byte padded string at i, or -1."""
    nul = data.find(b"\0", i, n)
    if nul < 0:
        return -1
    end = (nul // 4 + 1) * 4
    return end if end <= n else -1


def message_ok(data: bytes, start: int = 0, end: int | None = None) -> bool:
    n = len(data) if end is None else end
    if (n - start) % 4 or n - start < 4 or data[start:start + 1] != b"/":
        return False
    i = _string_end(data, start, n)
    if i < 0:
        return False
    if i == n:
        return True  # no type tags: an old-style message without arguments
    if data[i:i + 1] != b",":
        return False
    k = _string_end(data, i, n)
    if k < 0:
        return False
    for tag in data[i + 1:data.index(b"\0", i)].decode("latin-1"):
        if tag in _FIXED:
            k += _FIXED[tag]
        elif tag in "sS":
            k = _string_end(data, k, n)
            if k < 0:
                return False
        elif tag == "b":
            if k + 4 > n:
                return False
            size = int.from_bytes(data[k:k + 4], "big", signed=True)
            if size < 0:
                return False
            k += 4 + (size + 3) // 4 * 4
        else:
            return False  # a type tag python-osc would guess at
        if k > n:
            return False
    return k == n


def packet_ok(data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> bool:
    """Is this datagram (or the part start:end) a well-formed OSC message or bundle?"""
    n = len(data) if end is None else end
    if data[start:start + 8] != b"#bundle\0":
        return message_ok(data, start, n)
    if depth >= _MAX_DEPTH or n - start < 16:
        return False
    i = start + 16  # "#bundle\0" and the 8-byte time tag
    while i < n:
        if i + 4 > n:
            return False
        size = int.from_bytes(data[i:i + 4], "big", signed=True)
        i += 4
        if size <= 0 or size % 4 or i + size > n or not packet_ok(data, i, i + size, depth + 1):
            return False
        i += size
    return True


_NUMBER = {b",f\0\0": ">f", b",i\0\0": ">i", b",d\0\0": ">d", b",h\0\0": ">q"}


def one_number(data: bytes) -> tuple[str, float] | None:
    """The address and value of a message with exactly one number, decoded directly, or None.

    Nearly all traffic is this shape (a fader moving); it skips python-osc's general parser, which
    costs ten times as much, so a burst is taken in stride. The caller has checked packet_ok."""
    if data[:1] != b"/":
        return None
    nul = data.find(b"\0")
    tags = (nul // 4 + 1) * 4
    fmt = _NUMBER.get(data[tags:tags + 4])
    if fmt is None:
        return None
    try:
        address = data[:nul].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return address, struct.unpack_from(fmt, data, tags + 4)[0]
