"""What every shader sees (shaders/common.glsl): the frame's size, time and index, the audio
features, and the spectrum as a 64-texel texture."""

from __future__ import annotations

import numpy as np

from vj.core.snapshot import Snapshot

AUDIO_UNIFORMS = ("level", "bass", "mid", "high", "bass_pulse", "mid_pulse", "high_pulse", "bass_time", "mid_time",
                  "high_time", "centroid")
CLOCK_UNIFORMS = ("beat_phase", "bar_phase", "bpm")  # from the show clock (sync/showclock.py), whatever drives it
SPECTRUM_UNIT = 15  # texture unit of u_spectrum (GL 3.3 guarantees 16 per shader)


def set_uniform(prog, name: str, value) -> None:
    """Set a uniform if the shader uses it (the GLSL compiler drops unused ones)."""
    if name in prog:
        prog[name].value = value


class CommonUniforms:
    def __init__(self, ctx, size: tuple[int, int]) -> None:
        self.size = size
        self._spectrum = ctx.texture((64, 1), 1, dtype="f4")
        self._spectrum.filter = (ctx.LINEAR, ctx.LINEAR)
        self._spectrum.repeat_x = self._spectrum.repeat_y = False
        self._spectrum.write(np.zeros(64, np.float32))
        self._last = None

    def update(self, snap: Snapshot) -> None:
        """Upload this frame's spectrum (once, however many passes read it)."""
        spec = snap.audio.spectrum
        if spec is not self._last:
            self._spectrum.write(np.ascontiguousarray(spec, np.float32))
            self._last = spec

    def apply(self, prog, snap: Snapshot) -> None:
        a = snap.audio
        set_uniform(prog, "u_resolution", self.size)
        set_uniform(prog, "u_time", snap.t)
        set_uniform(prog, "u_frame", float(snap.index))
        for name in AUDIO_UNIFORMS:
            set_uniform(prog, f"u_{name}", float(getattr(a, name)))
        c = snap.clock
        set_uniform(prog, "u_beat_phase", float(c.phase))
        set_uniform(prog, "u_bar_phase", float(c.bar_phase))
        set_uniform(prog, "u_bpm", float(c.bpm))
        if "u_spectrum" in prog:
            prog["u_spectrum"].value = SPECTRUM_UNIT
            self._spectrum.use(SPECTRUM_UNIT)
