"""The live state: what a show needs to come back where it was after a crash, a power cut or kill -9.

`<state>/live/<set>.json`, one object: the set's path, the show's seed and the noise seed, the scene,
the prompt templates and the texts drawn from them, every parameter moved by hand (MIDI, OSC) and
its value, the routes added and removed live, the tempo set by hand, the show time and wall time.

Saving (a live show): once a second the render thread takes a copy of that state (a dict of some
dozens of entries) and hands it over; a thread of its own writes it to a temporary file, syncs it
and renames it over the last one, so a kill in the middle of a write leaves the previous state
whole. The render thread never waits on the disk: the hand-over keeps only the newest copy.

`vj run --resume` reads it back: the seed first (the prompt field draws from it), then, before the
first frame, the scene (at once, without its transition), the prompts, the parameters moved by hand
(after the scene's, so a knob's value wins as it did), the live routes and the tempo.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from vj.core.spec import Route
from vj.log import log

SAVE_EVERY = 1.0  # seconds of show time between saves
VERSION = 1


def state_path(folder: Path, set_name: str) -> Path:
    """Where shows before the state was keyed by the set's file kept it (by the set's name alone)."""
    return folder / "live" / f"{set_name}.json"


def state_file(folder: Path, set_path: Path | None, set_name: str) -> Path:
    """The live state of one set file: `live/<name>-<8 hex of its path>.json`. Keyed by the file, so that
    a copy of a set (which keeps its [show] name) resumes its own show, never the original's."""
    if set_path is None:
        return state_path(folder, set_name)
    key = hashlib.sha1(str(Path(set_path).resolve()).encode()).hexdigest()[:8]
    return folder / "live" / f"{set_name}-{key}.json"


def load_for(folder: Path, set_path: Path | None, set_name: str) -> dict[str, Any] | None:
    """The saved state of this set file (None, said in a line, if there is none): its own file, else a
    state an older version kept under the set's name, if it is of this very file."""
    own = state_file(folder, set_path, set_name)
    older = state_path(folder, set_name)
    if own.exists() or not older.exists():
        return load(own)
    try:
        of = json.loads(older.read_text()).get("set")
    except (OSError, ValueError, AttributeError):
        of = None
    if set_path is not None and of is not None and Path(of).resolve() != Path(set_path).resolve():
        log.warning(f"--resume: no saved state of {set_path}; {older} is of {of} (a set of the same name) and "
                    f"is not used: the show starts from its set")
        return None
    return load(older)


def collect(controls, snap, set_path: str, show_seed: int) -> dict[str, Any]:
    """The state as it is now (render thread: cheap, a few dozen values)."""
    p, t = controls.params, snap.t
    hand = controls.hand  # a tempo set by hand: held or tapped (the tracker's, when it took the taps)
    bpm = hand.bpm or (snap.audio.bpm if hand.by_tracker and snap.audio.bpm > 0 else None)
    return {"version": VERSION, "set": set_path, "t": round(t, 3), "wall": datetime.now().isoformat(timespec="seconds"),
            "seed": show_seed, "noise_seed": controls.seed, "scene": controls.scene,
            "templates": [tpl.text for tpl in controls.templates], "prompts": list(controls.prompts),
            "moved": {name: p.target(name) for name in sorted(controls.moved)},
            "routes": [list(change) for change in controls.live_routes.values()], "bpm": bpm}


class StateSaver:
    """Saves the live state at most once a second, off the render thread (an Engine on_frame hook)."""

    def __init__(self, path: Path, controls, set_path: str, show_seed: int) -> None:
        self.path = path
        self.controls = controls
        self.set_path = set_path
        self.show_seed = show_seed
        self.saved = 0  # writes that landed
        self._last = None  # the snapshot of the last copy taken
        self._latest: dict | None = None
        self._cond = threading.Condition()
        self._stop = False
        self._failed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="vj-live-state", daemon=True)
        self._thread.start()

    def frame(self, snap) -> None:
        """Render thread, each frame: a copy of the state once a second, handed over without waiting."""
        if self._last is not None and snap.t - self._last.t < SAVE_EVERY:
            return
        self._last = snap
        self._offer(collect(self.controls, snap, self.set_path, self.show_seed))

    def _offer(self, state: dict) -> None:
        with self._cond:
            self._latest = state  # an older copy not yet written is simply replaced
            self._cond.notify()

    def close(self) -> None:
        """The last state written (the show ended: the next --resume starts from here)."""
        if self._last is not None:
            self._offer(collect(self.controls, self._last, self.set_path, self.show_seed))
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(10)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._latest is None and not self._stop:
                    self._cond.wait()
                state, self._latest = self._latest, None
                stop = self._stop
            if state is not None:
                self._write(state)
            if stop:
                return

    def _write(self, state: dict) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(tmp, "w") as f:
                json.dump(state, f, ensure_ascii=False, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)  # atomic: the old state or the new, never half of one
            self.saved += 1
            self._failed = False
        except OSError as e:
            if not self._failed:  # once, not once a second: the show goes on without it
                log.warning(f"live state: can't write {self.path} ({e.strerror or e}); --resume would find an older one")
            self._failed = True


def load(path: Path) -> dict[str, Any] | None:
    """The saved state, or None (said in one line) when there is none or it can't be read."""
    try:
        with open(path) as f:
            state = json.load(f)
    except FileNotFoundError:
        log.warning(f"--resume: no saved state at {path}: the show starts from its set")
        return None
    except (OSError, ValueError) as e:
        log.warning(f"--resume: {path} can't be read ({e}): the show starts from its set")
        return None
    if not isinstance(state, dict) or state.get("version") != VERSION:
        log.warning(f"--resume: {path} is not a live state this version writes: the show starts from its set")
        return None
    return state


def restore(state: dict[str, Any], controls) -> list[str]:
    """Put the controls back where the state says, before the first frame. Returns what could not
    be restored (a parameter or a scene the set no longer has), one line each."""
    lost = []
    for i, (template, text) in enumerate(zip(state.get("templates", []), state.get("prompts", [])), 1):
        try:
            controls.set_prompt(i, template)
            controls.prompts[i - 1] = text  # the very text drawn then, not a new draw
        except ValueError as e:
            lost.append(f"prompt {i}: {e}")
    scene = state.get("scene")
    if scene is not None:
        try:
            controls.find_scene(scene)
            controls.recall(scene, "resume")
            if controls.graph is not None:
                controls.graph.place(scene)
        except ValueError as e:
            lost.append(f"scene: {e}")
    for name, value in state.get("moved", {}).items():
        try:
            controls.params.set(name, float(value), immediate=True, source="resume")
            controls.moved.add(name)
        except Exception as e:
            lost.append(f"parameter {name}: {e}")
    for change in state.get("routes", []):
        _replay_route(controls, change, lost)
    if state.get("noise_seed") is not None and state["noise_seed"] != controls.seed:
        controls.seed = int(state["noise_seed"])
    if state.get("bpm"):
        controls.post("bpm", float(state["bpm"]), origin="resume")
    return lost


def _replay_route(controls, change: list, lost: list[str]) -> None:
    """A route added or removed live, through the same action as OSC's (so it is recorded again)."""
    try:
        if change[0] == "add":
            controls.post("route_add", Route(**change[1]), origin="resume")
        elif change[0] == "remove":
            controls.post("route_remove", change[1], change[2], origin="resume")
    except (TypeError, ValueError, IndexError) as e:
        lost.append(f"route {' '.join(str(x) for x in change[:1])} {_route_words(change)}: {e}")



def _route_words(change) -> str:
    """A saved route change in words (source -> target), as far as it can be read."""
    try:
        if change[0] == "add":
            return f"{change[1]['source']} -> {change[1]['target']}"
        return f"{change[1]} -> {change[2]}"
    except (TypeError, KeyError, IndexError):
        return "(unreadable)"
