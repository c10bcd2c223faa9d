"""Hot edits: the set saved while it plays is applied at the next bar; a broken one is refused.

A thread of its own looks at the set file's modification time twice a second. A change is read and
checked as `vj check` does (every problem, with file:line), off the render thread:
    broken  the old set keeps playing; its first problem (and how many more) stands in the status
            line and the overlay until the file is fixed
    whole   it waits for the next bar; then, on the render thread, what a set can change live is
            applied: [params] values that changed (they slew), prompt texts, weights and triggers,
            the set's routes (those added live stay), the scenes, the graph (it goes on from the
            scene playing, if the new set still has it), the transition
What needs the show built again (the model, sizes, the layer stack, the effect chain, LFOs and
envelopes, OSC, MIDI) is said in one line and keeps its old value until the next start; a saved
shader file is taken live already (render/programs.py).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Callable

from vj.core.spec import Route, ShowSet
from vj.log import counted, log

POLL = 0.5  # seconds between looks at the file
LIVE = {"params", "prompts", "routes", "scenes", "graph", "transition", "path", "name", "audio"}  # applied live


def needs_restart(old: ShowSet, new: ShowSet) -> list[str]:
    """The fields of the set that changed and can't change while it plays."""
    return [f.name for f in dataclasses.fields(ShowSet)
            if f.name not in LIVE and getattr(old, f.name) != getattr(new, f.name)]


class Refused(Exception):
    """The saved set has problems (each a `file:line: what` line)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if problems else "refused")
        self.problems = problems


class SetWatcher:
    """Watches the set file of a live show (an Engine on_frame hook, a status part, an overlay warning).
    `read()`: the file read and checked again, with the command line's overrides on top, as
    (the set, its controls built to check it); it raises Refused with the problems."""

    def __init__(self, show: ShowSet, read: Callable[[], tuple[ShowSet, object]], controls, journal=None) -> None:
        self.show = show  # the set as it plays
        self.path = show.path
        self._read_set = read
        self.controls = controls
        self.journal = journal
        self.error: str | None = None  # the standing problem of the saved file
        self.applied = 0  # edits applied
        self._ready: tuple[ShowSet, object] | None = None  # (set, its checked controls): waits for the bar
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._mtime = self._stat()
        self._thread = threading.Thread(target=self._run, name="vj-set-watch", daemon=True)
        self._thread.start()

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    # -- the watcher thread -------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(POLL):
            mtime = self._stat()
            if mtime is None or mtime == self._mtime:
                continue
            self._mtime = mtime
            self._read()

    def _read(self) -> None:
        try:
            ready = self._read_set()
        except Refused as e:
            more = len(e.problems) - 1
            self._refuse(e.problems[0] + (f" (and {more} more: vj check)" if more > 0 else ""))
            return
        except Exception as e:  # what the check could not see (a file gone between two reads)
            self._refuse(f"{self.path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            return
        with self._lock:
            self.error, self._ready = None, ready
        log.info(f"set {self.path} saved: it applies at the next bar")

    def _refuse(self, error: str) -> None:
        with self._lock:
            self.error, self._ready = error, None
        log.warning(f"set edit refused, the set as it was plays on: {error}")

    # -- the render thread --------------------------------------------------------------------------
    def frame(self, snap) -> None:
        """After each frame: a checked edit lands on the bar's first frame."""
        if self._ready is None or snap.values.get("audio.bar", 0.0) < 0.5:
            return
        with self._lock:
            ready, self._ready = self._ready, None
        if ready is not None:
            self._apply(*ready)

    def _apply(self, new: ShowSet, checked) -> None:
        old, c = self.show, self.controls
        changed = _apply_params(old, new, c) + _apply_prompts(old, new, c) + _apply_routes(old, new, c, checked)
        changed += _apply_scenes(old, new, c)
        later = needs_restart(old, new)
        kept = {f: getattr(old, f) for f in later}
        self.show = dataclasses.replace(new, **kept)  # what still plays: the new set, bar what waits
        self.applied += 1
        said = ", ".join(changed) or "nothing that plays"
        log.info(f"set edit applied at the bar: {said}"
                 + (f"; {', '.join(later)} changed: restart the show to apply" if later else ""))
        if self.journal is not None:
            self.journal.write("edit", applied=changed, restart_for=later)

    @property
    def pending(self) -> bool:
        """A checked edit waits for the bar."""
        return self._ready is not None

    def status(self) -> str:
        return f"SET ERROR {self.error}" if self.error else ""

    def warnings(self) -> list[str]:
        return [f"set not applied: {self.error}"] if self.error else []

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)


def _apply_params(old: ShowSet, new: ShowSet, c) -> list[str]:
    moved = [n for n, v in new.params.items() if old.params.get(n) != v]
    for name in moved:
        c.params.set(name, new.params[name], source="set")
    return [counted(len(moved), "parameter")] if moved else []


def _apply_prompts(old: ShowSet, new: ShowSet, c) -> list[str]:
    changed = []
    for i, p in enumerate(new.prompts, 1):
        before = old.prompts[i - 1] if i <= len(old.prompts) else None
        if before is None or before.text != p.text:
            c.set_prompt(i, p.text)
            changed.append(f"prompt {i}")
        if before is None or before.weight != p.weight:
            c.params.set(f"prompt.{i}.weight", p.weight, source="set")
        c.resample_on[i - 1] = p.resample
        c.modulators.triggers |= set(p.resample)
    for i in range(len(new.prompts) + 1, len(old.prompts) + 1):  # gone from the set: faded out
        c.params.set(f"prompt.{i}.weight", 0.0, source="set")
        changed.append(f"prompt {i} out")
    return changed


def _apply_routes(old: ShowSet, new: ShowSet, c, checked) -> list[str]:
    if old.routes == new.routes:
        return []
    c.routes.routes = list(checked.routes.routes)
    for change in c.live_routes.values():  # what was added or removed by hand stays so
        if change[0] == "add":
            c.routes.add(Route(**change[1]))
        else:
            c.routes.remove(change[1], change[2])
    c.modulators.watch |= {r.source for r in c.routes.routes if r.source.startswith("midi.")}
    return ["routes"]


def _apply_scenes(old: ShowSet, new: ShowSet, c) -> list[str]:
    changed = []
    if old.scenes != new.scenes:
        c.scenes = new.scenes
        changed.append("scenes")
    if old.graph != new.graph or old.scenes != new.scenes:
        c.graph = None
        if new.graph is not None:
            from vj.show.graph import SceneGraph

            c.graph = SceneGraph(tuple(sc.name for sc in new.scenes), new.graph, c.seed)
            c.modulators.triggers |= {e.note for e in new.graph.edges if e.note}
            if c.scene in c.graph.scenes:
                c.graph.place(c.scene)  # the walk goes on from here (else the graph's start, next frame)
        if old.graph != new.graph:
            changed.append("graph")
    if old.transition != new.transition:
        c.transitions.default = new.transition
        changed.append("transition")
    return changed
