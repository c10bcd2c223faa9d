"""`vj devices`: what this machine offers the show, each part probed on its own so one missing
library never hides the rest."""

from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def _quiet_c_stderr():
    """ALSA and PortAudio print their probing noise straight to fd 2; the report says it better."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _audio() -> list[str]:
    from vj.audio.sources import input_devices, portaudio

    devs = input_devices()
    if not devs:
        return ["  (no audio inputs: use --audio FILE, or start JACK/PipeWire)"]
    with portaudio() as sd:
        default = sd.default.device[0]
    return [f"  [{i}] {name} ({ch} ch, {sr:g} Hz){'  <- default' if i == default else ''}" for i, name, ch, sr in devs]


def _midi() -> list[str]:
    """The ports of the MIDI system `vj run --midi` would use (control/midi.py: JACK's by itself
    when a JACK server runs and ALSA has no sequencer)."""
    from vj.control.midi import Ports, backend_name

    try:
        ports = Ports()
        try:
            ins, outs = ports.inputs(), ports.outputs()
        finally:
            ports.close()
    except Exception as e:
        if "ALSA" in str(e):
            return ["  (no ALSA sequencer and no JACK server here: start one, or set MIDO_BACKEND)"]
        raise
    lines = [f"  in:  {n}" for n in ins] + [f"  out: {n}" for n in outs]
    if "UNIX_JACK" in (backend_name() or ""):
        lines.insert(0, "  through JACK")
    return lines or ["  (no MIDI ports)"]


def _displays() -> list[str]:
    from vj.render.context import display_available

    if not display_available():
        return ["  (no display: `vj run` renders headless through EGL)"]
    import glfw

    if not glfw.init():
        return ["  (glfw could not open the display)"]
    try:
        lines = []
        for i, m in enumerate(glfw.get_monitors() or []):
            mode = glfw.get_video_mode(m)
            lines.append(f"  [{i}] {glfw.get_monitor_name(m).decode(errors='replace') if isinstance(glfw.get_monitor_name(m), bytes) else glfw.get_monitor_name(m)}"
                         f" {mode.size.width}x{mode.size.height} @ {mode.refresh_rate} Hz")
        return lines or ["  (no monitors reported)"]
    finally:
        glfw.terminate()


def _gl() -> list[str]:
    from vj.render.context import open_headless

    s = open_headless()
    try:
        return [f"  headless (EGL): {s.renderer}"]
    finally:
        s.ctx.release()


def _torch() -> list[str]:
    from vj.generate.device import describe

    return [f"  {describe()}"]


def report() -> str:
    out = []
    for title, probe in (("audio inputs", _audio), ("MIDI ports", _midi), ("displays", _displays),
                         ("OpenGL", _gl), ("torch", _torch)):
        out.append(f"{title}:")
        try:
            with _quiet_c_stderr():
                out += probe()
        except Exception as e:  # report it and go on to the next part
            out.append(f"  (unavailable: {str(e).splitlines()[0] if str(e) else type(e).__name__})")
    return "\n".join(out)
