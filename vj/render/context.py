"""The GL context: a glfw window when there is a display, otherwise EGL with no display at all.

The render loop (main thread) owns it; nothing else touches GL.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from vj.core.errors import DeviceError

TITLE = "démontage"


@dataclass
class Surface:
    ctx: Any  # moderngl.Context
    window: Any = None  # a glfw window, or None when headless
    kind: str = "egl"  # "window" or "egl"
    refresh_rate: float = 60.0  # Hz of the window's monitor (what vsync paces to)

    @property
    def renderer(self) -> str:
        return f"{self.ctx.info.get('GL_RENDERER', '?')} (GL {self.ctx.info.get('GL_VERSION', '?')})"


def display_available() -> bool:
    if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def open_headless() -> Surface:
    import moderngl

    try:
        ctx = moderngl.create_standalone_context(backend="egl") if sys.platform.startswith("linux") \
            else moderngl.create_standalone_context()
    except Exception as e:  # the driver's own message is the useful part
        raise DeviceError(f"no OpenGL for headless rendering ({str(e).splitlines()[0]}); on Debian/Ubuntu install "
                          f"libegl1 libegl-mesa0 libgl1-mesa-dri (or the NVIDIA driver)") from None
    return Surface(ctx, None, "egl")


def open_window(size: tuple[int, int], fullscreen: int | None = None, vsync: bool = True) -> Surface:
    import glfw
    import moderngl

    if not glfw.init():
        raise DeviceError("glfw could not initialise the display; use --headless")
    glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
    glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
    glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
    glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
    monitor = None
    w, h = size
    if fullscreen is not None:
        monitors = glfw.get_monitors() or []
        if not 0 <= fullscreen < len(monitors):
            glfw.terminate()
            raise DeviceError(f"--fullscreen {fullscreen}: there are {len(monitors)} monitor(s) (0..{len(monitors) - 1}); see `vj devices`")
        monitor = monitors[fullscreen]
        mode = glfw.get_video_mode(monitor)
        w, h = mode.size.width, mode.size.height
    win = glfw.create_window(w, h, TITLE, monitor, None)
    if not win:
        glfw.terminate()
        raise DeviceError("could not open a GL 3.3 window on this display; use --headless")
    glfw.make_context_current(win)
    glfw.swap_interval(1 if vsync else 0)
    mode = glfw.get_video_mode(monitor or glfw.get_primary_monitor()) if glfw.get_primary_monitor() else None
    refresh = float(mode.refresh_rate) if mode and mode.refresh_rate > 0 else 60.0
    return Surface(moderngl.create_context(), win, "window", refresh)


def open_surface(headless: bool, size: tuple[int, int], fullscreen: int | None = None) -> Surface:
    if headless or not display_available():
        return open_headless()
    return open_window(size, fullscreen)
