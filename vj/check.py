"""`vj check SET...`: every problem of a set at once, each with file:line, the bad value and a hint.

The set is read as a show reads it (config.parse_set, then assemble.build_controls: parameter
names, routes, effects, triggers, scenes), with the problems collected instead of raised at the
first one. Each problem's line is found in the file's text from what the message names: the
table ([show], [[route]] #2, [[scene]] calm) and the key or value it quotes. No model is loaded
and no GL is opened: a check takes a second.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from vj.core.errors import ConfigError
from vj.core.validate import Problems


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int | None  # 1-based; None: the file as a whole
    message: str  # what, and what to do (without the file's name)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


def check_set(path: Path, replaced: frozenset[str] = frozenset()) -> list[Problem]:
    """Every problem of the set file at `path` (empty: it plays). `replaced`: the set's fields the
    command line replaces (ShowSet field names: "audio", "input"): files they name are not looked for."""
    from vj import assemble
    from vj.show import files
    from vj.show.setfile import parse_set

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        return [Problem(path, None, f"can't read it: {e.strerror}")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        return [Problem(path, int(m.group(1)) if m else None, f"not valid TOML: {e}")]
    problems = Problems(collect=True)
    mended = _headers_meant(text, path, problems)
    if mended != text:  # read as meant past a misspelt header (in its place: layers and prompts count)
        try:
            data = tomllib.loads(mended)
        except tomllib.TOMLDecodeError:
            pass
    show = parse_set(data, path, problems)
    assemble.check_models(show, problems)
    for m in files.missing(show, data, replaced):
        problems.found.append(ConfigError(f"{path} [{m.section}]: {m.key} = {m.written!r}: "
                                          f"{files.not_there(m.written, path, m.key)}"))
    try:  # values out of their parameter's range are said here too (a show clamps them)
        assemble.build_controls(show, 0, problems)
    except ConfigError as e:  # a problem that stops the rest of the check (said with the others)
        problems.found.append(e)
    found = dict.fromkeys(_located(text, path, e) for e in problems.found)  # once each, in the order found
    return sorted(found, key=lambda p: p.line or 0)


def _headers_meant(text: str, path: Path, problems: Problems) -> str:
    """The text with each misspelt table header (`[[lyer]]`) said, and mended when the table it was
    meant to be is clear, so that the rest of the check reads the set as it was meant."""
    from vj.show.setfile import TABLES, unknown_table

    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        m = _HEADER.match(line)
        name = m.group(2).strip('"') if m else None
        if name is None or name in TABLES or "." in name:
            continue
        problems.found.append(ConfigError(unknown_table(str(path), name)))
        meant = difflib.get_close_matches(name, TABLES, 1)
        if meant:
            lines[i] = line[:m.start(2)] + meant[0] + line[m.end(2):]
    return "".join(lines)


# -- where in the file ------------------------------------------------------------------------------
_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"-]+)\s*\]\]?")
_TABLE = re.compile(r"^\s*(\[\[(\w+)\]\] (#(\d+)|[\w-]+)|\[(\w+(?:\.[\w-]+)?)\])")  # [show], [generators.NAME]
_QUOTED = re.compile(r"'([^']+)'")
_LEADING = re.compile(r"^([A-Za-z_][\w.]*)\b")  # the key a message starts with: "steps = 9 is out of range"


def _located(text: str, path: Path, e: ConfigError) -> Problem:
    message = str(e).splitlines()[0]
    where = str(path)
    if message.startswith(where):
        message = message[len(where):].lstrip(": ")
    lines = text.splitlines()
    span = _span(lines, message)
    table = _TABLE.match(message)  # what follows "[table]: " (a message naming no table: all of it)
    rest = message[table.end():].lstrip(": ") if table else message
    lead = _LEADING.match(rest)
    for token, anywhere in [(t, True) for t in _QUOTED.findall(rest)] + ([(lead.group(1), False)] if lead else []):
        line = _find(lines, span, token, anywhere)
        if line is not None:
            return Problem(path, line, message)
    return Problem(path, span[0] + 1 if span is not None and span[0] >= 0 else None, message)


def _span(lines: list[str], message: str) -> tuple[int, int] | None:
    """(first, end) line indexes of the table the message names (first: its header, -1 for the
    top of the file); None: the message names no table."""
    m = _TABLE.match(message)
    if m is None:
        return None
    headers = [(i, h.group(1), h.group(2).strip('"')) for i, line in enumerate(lines) if (h := _HEADER.match(line))]

    def end_of(k: int) -> int:
        return headers[k + 1][0] if k + 1 < len(headers) else len(lines)

    if m.group(5):  # [section]
        for k, (i, brackets, name) in enumerate(headers):
            if brackets == "[" and name == m.group(5):
                return i, end_of(k)
        return None
    records = [(k, i) for k, (i, brackets, name) in enumerate(headers) if brackets == "[[" and name == m.group(2)]
    if m.group(4):  # [[key]] #n
        n = int(m.group(4))
        if 1 <= n <= len(records):
            k, i = records[n - 1]
            return i, end_of(k)
        return None
    name = m.group(3)  # [[key]] name: the record whose name = "name"
    for k, i in records:
        if any(re.match(rf'^\s*name\s*=\s*["\']{re.escape(name)}["\']', x) for x in lines[i:end_of(k)]):
            return i, end_of(k)
    return None


def _find(lines: list[str], span: tuple[int, int] | None, token: str, anywhere: bool) -> int | None:
    """The 1-based line in the span where `token` is a key (name = / "name" =), else (`anywhere`:
    a quoted value or key) where it appears at all: an inline table, a list."""
    first, end = span if span is not None else (0, len(lines))
    body = range(max(first, 0), end)
    key = re.compile(rf'^\s*["\']?{re.escape(token)}["\']?\s*=')
    for i in body:
        if key.match(lines[i]):
            return i + 1
    if not anywhere:
        return None
    word = re.compile(rf'(^|[^\w.]){re.escape(token)}($|[^\w.])')
    for i in body:
        if word.search(lines[i].split("#", 1)[0]):
            return i + 1
    return None
