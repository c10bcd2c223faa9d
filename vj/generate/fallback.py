"""The fallback model: a local model that plays a generator's layer when its own model can't.

A set names it (`fallback = "seedling"` in [generator] or a [generators.NAME]); it plays
    at the start   when the model cannot load (not in the cache, offline, no device for it, a
                   remote box that isn't there): said in one line, what failed and what plays
    during a show  while the generator is down (a remote box lost, a crashed process restarting):
                   FallbackGenerator serves the fallback's frames, says so once, and hands the layer
                   back when the generator's frames come again

What the fallback takes of its generator's table: what describes the picture (steps, input,
negative, seed) where its family has a use for it; what tunes the first model (size, scheduler,
tiny_vae, deep_cache, stream_batch, [[lora]]) stays with that model. A setting left out is named in
the one line, never an error: the point of a fallback is that the show plays.
"""

from __future__ import annotations

from vj.core.protocols import GenFrame
from vj.core.snapshot import Snapshot
from vj.core.spec import GeneratorSpec
from vj.log import log

ALIVE = ("running", "ready")  # generator states that make frames


def fallback_spec(g: GeneratorSpec) -> tuple[GeneratorSpec, tuple[str, ...]]:
    """(the spec its fallback plays with, the settings of `g` left out for it, as written in a set).
    Raises ModelLoadError when the fallback's name is no model (registry.resolve)."""
    from vj.generate import registry

    spec = registry.resolve(g.fallback or "")
    kept = dict(name=g.name, model=g.fallback, steps=g.steps, seed=g.seed, input=g.input, negative=g.negative)
    left: list[str] = []

    def leave(written: bool, what: str) -> None:
        if written:
            left.append(what)

    if spec.family == "gan":  # one pass from a latent: no steps, no image input, no guidance
        kept.update(steps=1, input=None, negative="")
        leave(g.steps != 1, f"steps = {g.steps}")
        leave(g.input is not None, f"input = \"{g.input}\"")
        leave(bool(g.negative), "negative")
    if spec.family == "gan" or spec.builtin:  # it paints pixels at its own size: nothing to decode
        leave(g.size is not None, f"size = {g.size[0]}x{g.size[1]}" if g.size else "")
        leave(g.tiny_vae, "tiny_vae")
    else:
        kept.update(size=g.size, tiny_vae=g.tiny_vae)
    leave(g.scheduler is not None, f"scheduler = \"{g.scheduler}\"")
    leave(g.deep_cache > 1, f"deep_cache = {g.deep_cache}")
    leave(g.stream_batch is not None, "stream_batch")
    leave(bool(g.loras), "[[lora]]")
    leave(bool(g.controls), "[[control]]")  # control networks and adapters belong to a model's family
    leave(g.ipadapter is not None, "[ipadapter]")
    return GeneratorSpec(**kept), tuple(left)


def fallback_line(g: GeneratorSpec, why: str, left: tuple[str, ...]) -> str:
    """The one line said when a fallback plays from the start."""
    notes = f" ({', '.join(left)}: {g.model}'s settings, left out)" if left else ""
    return f"{g.label}: {why}; its fallback {g.fallback!r} plays instead{notes}"


class FallbackGenerator:
    """A generator and its fallback (core/protocols.FrameGenerator, live only): the primary's frames
    while it runs; while it is down (its state not running: a box lost, a process restarting) the
    fallback's. It hands back at the primary's first frame after it returns (not at its state alone:
    a primary that dies again before it makes a frame keeps the fallback playing). Both are started
    at once, so the fallback is loaded when it is needed; it is sent snapshots only while it plays."""

    def __init__(self, primary, fallback, label: str, primary_name: str, fallback_name: str) -> None:
        self.primary, self.fallback = primary, fallback
        self.label = label  # "generator", "generator faces"
        self.names = (primary_name, fallback_name)  # model names, for what is said
        self.playing = "primary"  # or "fallback"
        self.handovers = 0  # times the fallback took over
        self.frames = 0  # frames given out
        self.fallback_frames = 0  # of them, the fallback's
        self._want_input = True

    # -- what the engine reads ---------------------------------------------------------------------
    @property
    def serving(self):
        return self.primary if self.playing == "primary" else self.fallback

    @property
    def size(self) -> tuple[int, int] | None:
        return self.serving.size

    @property
    def program_picture(self):
        """The primary's program picture (a fallback's guidance reads none)."""
        return self.primary.program_picture

    @property
    def state(self) -> str:
        if self.playing == "primary":
            return self.primary.state
        return f"{self.primary.state}; the fallback {self.names[1]} plays"

    @property
    def errors(self) -> int:
        return self.primary.errors + self.fallback.errors

    @property
    def last_error(self) -> str:
        return self.serving.last_error or self.primary.last_error

    @property
    def want_input(self) -> bool:
        return self._want_input

    @want_input.setter
    def want_input(self, wanted: bool) -> None:
        self._want_input = self.primary.want_input = self.fallback.want_input = wanted

    @property
    def want_map(self) -> bool:
        return self.primary.want_map

    @want_map.setter
    def want_map(self, wanted: bool) -> None:
        self.primary.want_map = self.fallback.want_map = wanted

    @property
    def link(self) -> str:
        return self.serving.link

    def link_status(self) -> str:
        return self.primary.link_status()  # a lost box is said while the fallback plays

    def link_figures(self):
        return self.primary.link_figures()

    def fps(self) -> float:
        return self.serving.fps()

    # -- the render thread's side: never blocks ----------------------------------------------------
    def start(self) -> None:
        self.primary.start()
        self.fallback.start(wait_ready=False)  # it loads in its own process meanwhile

    def submit(self, snap: Snapshot) -> None:
        self.primary.submit(snap)
        if self.playing == "fallback":
            self.fallback.submit(snap)

    def latest(self) -> GenFrame | None:
        mine, theirs = self.primary.latest(), self.fallback.latest()  # both drained: their messages, restarts
        if self.playing == "primary" and self.primary.state not in ALIVE:
            self.playing = "fallback"
            self.handovers += 1
            why = self.primary.last_error
            log.warning(f"{self.label}: {self.names[0]} is {self.primary.state}" + (f" ({why})" if why else "")
                        + f"; the fallback {self.names[1]} plays until it is back")
        elif self.playing == "fallback" and mine is not None and self.primary.state in ALIVE:
            self.playing = "primary"
            log.info(f"{self.label}: {self.names[0]} is back; the fallback {self.names[1]} rests")
        frame = mine if self.playing == "primary" else theirs
        if frame is not None:
            self.frames += 1
            self.fallback_frames += self.playing == "fallback"
        return frame

    def stop(self, timeout: float = 10.0) -> None:
        self.primary.stop(timeout)
        self.fallback.stop(timeout)
