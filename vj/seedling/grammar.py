"""The seedling's world: what its pictures can be made of, and the captions that name them.

A picture is a `Scene`: a colour, a shape or pattern, a material, and how it is shown (size,
composition, light, texture, background), or two of them ("red rings and blue dots"). A caption
names some of these and leaves the rest to the painter, which reads every unsaid choice from the
starting noise (layout.py): "red" alone is red in whatever shape the noise draws, and another seed
draws another. Some colour-shape and colour-material pairs are never painted in training
(HELD_OUT): the adherence report and the tests ask the model for them all the same.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# name -> (hue in degrees, saturation, value) of its centre; each picture moves it a little
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.0, 0.9, 0.95), "orange": (28.0, 0.95, 1.0), "yellow": (56.0, 0.9, 1.0), "lime": (90.0, 0.85, 0.95),
    "green": (125.0, 0.85, 0.8), "cyan": (185.0, 0.85, 0.95), "blue": (225.0, 0.9, 1.0),
    "purple": (270.0, 0.75, 0.85), "magenta": (305.0, 0.85, 0.95), "pink": (335.0, 0.45, 1.0),
    "white": (0.0, 0.0, 1.0), "grey": (0.0, 0.0, 0.55),
}
CHROMATIC = [c for c, (_, s, _) in COLOURS.items() if s > 0.3]  # the ones with a hue to measure

SHAPES = ["rings", "stripes", "grid", "spiral", "dots", "waves", "checker", "triangles", "noise", "gradient",
          "circle", "squares", "blobs", "contours", "rays"]
OBJECTS = {"dots", "triangles", "squares"}  # shapes that can be scattered as many small things
MATERIALS = ["smoke", "marble", "fur", "glass", "rust"]

SIZES = ["large", "small"]
COMPOSITIONS = ["centred", "scattered", "on the left", "on the right"]
LIGHTS = ["glowing", "neon", "dim"]
TEXTURES = ["soft", "sharp", "wireframe", "grainy"]
BACKGROUNDS = ["black", "white"] + [c for c in CHROMATIC]

# Never painted in training: how the model does on these is reported, not taught.
HELD_OUT: frozenset[tuple[str, str]] = frozenset({
    ("purple", "checker"), ("yellow", "spiral"), ("cyan", "triangles"), ("orange", "grid"), ("pink", "waves"),
    ("green", "rings"), ("blue", "marble"), ("red", "smoke"),
})


@dataclass(frozen=True)
class Scene:
    """What one picture shows. None: the caption did not say (the painter reads it from the noise)."""

    colour: str | None = None
    shape: str | None = None
    size: str | None = None  # large | small
    composition: str | None = None  # centred | scattered | on the left | on the right
    light: str | None = None  # glowing | neon | dim
    texture: str | None = None  # soft | sharp | wireframe | grainy
    background: str | None = None  # black | white | a colour
    motif: str | None = None  # "ocean" (waves) or "nebula" (spiral, noise): a word with a look of its own
    material: str | None = None  # smoke | marble | fur | glass | rust: what the shape is made of
    second: "Scene | None" = None  # "... and blue dots": a second thing (its colour, material, shape only)

    def caption(self) -> str:
        """The words, in the order a person would say them: 'glowing small red marble rings centred on black'."""
        words = [self.light, self.size, self.colour, self.texture, self.material]
        if self.motif == "ocean":
            words.append("ocean")
        words.append(self.shape)
        if self.motif == "nebula":
            words.append("nebula")
        words.append(self.composition)
        if self.second is not None:
            words.append("and " + " ".join(w for w in (self.second.colour, self.second.material, self.second.shape) if w))
        if self.background:
            words.append(f"on {self.background}")
        return " ".join(w for w in words if w)


def allowed(colour: str | None, shape: str | None, material: str | None = None) -> bool:
    return (colour, shape) not in HELD_OUT and (colour, material) not in HELD_OUT


def _second(rng: random.Random, first_shape: str | None) -> Scene:
    while True:
        colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
        material = rng.choice(MATERIALS) if rng.random() < 0.25 else None
        if shape != first_shape and allowed(colour, shape, material):
            return Scene(colour, shape, material=material)


def random_caption_scene(rng: random.Random) -> Scene:
    """A scene as a caption might name it: each attribute said or not, with its own odds."""
    if rng.random() < 0.04:
        return Scene()  # the empty caption: the model's "anything"
    pick = lambda xs, p: rng.choice(xs) if rng.random() < p else None  # noqa: E731
    while True:
        colour, shape, material = pick(list(COLOURS), 0.85), pick(SHAPES, 0.8), pick(MATERIALS, 0.25)
        if allowed(colour, shape, material):
            break
    comp = pick(COMPOSITIONS, 0.3)
    if comp == "scattered" and shape is not None and shape not in OBJECTS:
        comp = None
    motif = None
    if shape == "waves" and rng.random() < 0.3:
        motif = "ocean"
    elif shape in ("spiral", "noise") and rng.random() < 0.3:
        motif = "nebula"
    bg = pick(BACKGROUNDS, 0.35)
    if bg is not None and bg == colour:
        bg = None
    second = _second(rng, shape) if shape is not None and comp is None and rng.random() < 0.18 else None
    return Scene(colour, shape, pick(SIZES, 0.3), comp, pick(LIGHTS, 0.3), pick(TEXTURES, 0.25), bg, motif,
                 material, second)


def caption_pool(n: int, seed: int) -> list[Scene]:
    """n distinct captioned scenes, the same for a seed on every machine. Every colour-shape pair
    and colour-material pair (held-out ones excepted) is named by itself, plainly, so each word has
    its own clean examples."""
    rng = random.Random(seed)
    plain = [Scene(c, s) for c in COLOURS for s in SHAPES if allowed(c, s)]
    plain += [Scene(c, material=m) for c in COLOURS for m in MATERIALS if allowed(c, None, m)]
    plain += [Scene(c) for c in COLOURS] + [Scene(shape=s) for s in SHAPES] + [Scene(material=m) for m in MATERIALS]
    plain += [Scene()]
    seen = {s.caption() for s in plain}
    pool = list(plain)
    while len(pool) < n:
        s = random_caption_scene(rng)
        if s.caption() not in seen:
            seen.add(s.caption())
            pool.append(s)
    return pool
