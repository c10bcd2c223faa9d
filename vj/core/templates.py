"""Prompt templates: a field of possibilities written as text.

    "a {flooded|burning|frozen} cathedral of {glass|flesh|circuitry}"

Each `{a|b|c}` is a choice, made again every time the prompt is re-sampled (on a beat, a bar, an
onset, a MIDI note or `/vj/resample`). Choices nest: "{a {red|blue} bird|nothing}". An empty
alternative is allowed ("{very |}dark"). No torch here: the show's process samples, the
generator's process encodes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Union

Part = Union[str, "Choice"]


@dataclass(frozen=True)
class Choice:
    options: tuple[tuple[Part, ...], ...]


class TemplateError(ValueError):
    """A template that can't be read; the message names the position."""


@dataclass(frozen=True)
class Template:
    text: str  # what the performer wrote
    parts: tuple[Part, ...]

    @property
    def fixed(self) -> bool:
        """No choices: every sample is the text itself."""
        return all(isinstance(p, str) for p in self.parts)

    def count(self) -> int:
        """How many different texts it can give (at most; alternatives may coincide)."""
        return _count(self.parts)

    def sample(self, rng: random.Random) -> str:
        return " ".join("".join(_sample(self.parts, rng)).split())  # choices leave double spaces: tidy

    def resample(self, rng: random.Random, current: str, tries: int = 8) -> str:
        """A sample that differs from `current` when the template allows it (a trigger should show)."""
        text = self.sample(rng)
        for _ in range(tries):
            if text != current or self.count() < 2:
                break
            text = self.sample(rng)
        return text


def parse(text: str) -> Template:
    parts, end = _parse(text, 0, top=True)
    return Template(text, parts)


def _parse(text: str, i: int, top: bool) -> tuple[tuple[Part, ...], int]:
    """Parts up to the end (top) or up to the `|` or `}` that ends this alternative."""
    parts: list[Part] = []
    buf: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == "{":
            if buf:
                parts.append("".join(buf))
                buf = []
            start = i
            options = []
            i += 1
            while True:
                opt, i = _parse(text, i, top=False)
                options.append(opt)
                if i >= len(text):
                    raise TemplateError(f"'{{' at character {start + 1} is never closed with '}}'")
                if text[i] == "}":
                    i += 1
                    break
                i += 1  # past '|'
            parts.append(Choice(tuple(options)))
        elif ch in "|}":
            if top:
                what = "'|' outside {...}" if ch == "|" else "'}' without its '{'"
                raise TemplateError(f"{what} at character {i + 1}")
            break
        else:
            buf.append(ch)
            i += 1
    if buf:
        parts.append("".join(buf))
    return tuple(parts), i


def _sample(parts: tuple[Part, ...], rng: random.Random) -> list[str]:
    out: list[str] = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        else:
            out += _sample(p.options[rng.randrange(len(p.options))], rng)
    return out


def _count(parts: tuple[Part, ...]) -> int:
    n = 1
    for p in parts:
        if isinstance(p, Choice):
            n *= sum(_count(o) for o in p.options)
    return n
