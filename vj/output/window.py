"""The projector/preview window (glfw). Letterboxes the program image into any window size.

Keys: Esc or Q quits; F toggles fullscreen on the window's monitor; T (or space) taps the tempo;
I shows or hides the status overlay (on by default in a window, off fullscreen: the projector
shows the program image only, unless --overlay asks); S splits the window: the input feed on the
left (the generator's camera or video input, else a camera or video layer, else the generated
frame as it came), the program on the right, as the two monitors of a set where a camera is
transformed live (`--split` starts that way). Only the window shows it: recordings, streams and
senders always get the program image alone.
"""

from __future__ import annotations

from dataclasses import replace

from vj.output.base import Output, ProgramFrame
from vj.render.shaders import compile_program, load_fragment

OVERLAY_MARGIN = 10  # pixels between the status overlay and the window's edges


class WindowOutput(Output):
    name = "window"

    def __init__(self, surface, on_tap=None, overlay: bool = True, split: bool = False) -> None:
        import glfw

        from vj.render.overlay import Overlay

        self.on_tap = on_tap  # called on the render thread when the performer taps the tempo
        self.glfw = glfw
        self.win = surface.window
        self.ctx = surface.ctx
        self._prog = compile_program(self.ctx, load_fragment("present"))
        self._vao = self.ctx.vertex_array(self._prog, [])
        self._windowed_geometry = None
        self.show_overlay = overlay
        self.split = split
        self._overlay = Overlay(self.ctx)
        glfw.set_key_callback(self.win, self._on_key)

    @property
    def wants_input(self) -> bool:
        """The split view shows the generator's input beside the program."""
        return self.split

    def _on_key(self, win, key, scancode, action, mods) -> None:
        glfw = self.glfw
        if action != glfw.PRESS:
            return
        if key in (glfw.KEY_ESCAPE, glfw.KEY_Q):
            glfw.set_window_should_close(win, True)
        elif key == glfw.KEY_F:
            self._toggle_fullscreen()
        elif key in (glfw.KEY_T, glfw.KEY_SPACE) and self.on_tap is not None:
            self.on_tap()
        elif key == glfw.KEY_I:
            self.show_overlay = not self.show_overlay
        elif key == glfw.KEY_S:
            self.split = not self.split

    def _toggle_fullscreen(self) -> None:
        glfw = self.glfw
        if glfw.get_window_monitor(self.win):
            x, y, w, h = self._windowed_geometry or (50, 50, 1280, 720)
            glfw.set_window_monitor(self.win, None, x, y, w, h, 0)
        else:
            self._windowed_geometry = (*glfw.get_window_pos(self.win), *glfw.get_window_size(self.win))
            mon = self._monitor_under()
            mode = glfw.get_video_mode(mon)
            glfw.set_window_monitor(self.win, mon, 0, 0, mode.size.width, mode.size.height, mode.refresh_rate)

    def _monitor_under(self):
        """The monitor the window's centre is on (the primary one if it is on none)."""
        glfw = self.glfw
        x, y, w, h = self._windowed_geometry
        cx, cy = x + w // 2, y + h // 2
        for mon in glfw.get_monitors() or ():
            mx, my = glfw.get_monitor_pos(mon)
            mode = glfw.get_video_mode(mon)
            if mx <= cx < mx + mode.size.width and my <= cy < my + mode.size.height:
                return mon
        return glfw.get_primary_monitor()

    def present(self, frame: ProgramFrame) -> None:
        glfw = self.glfw
        w, h = glfw.get_framebuffer_size(self.win)
        if w > 0 and h > 0:  # minimised: nothing to draw
            screen = self.ctx.screen
            screen.use()
            feed = None
            if self.split:
                screen.viewport = (0, 0, w, h)
                screen.clear(0.0, 0.0, 0.0, 1.0)
                tex, size, feed = frame.compositor.input_feed()
                self._draw(tex, size, True, (0, 0, w // 2, h))
                self._draw(frame.texture, frame.size, False, (w // 2, 0, w - w // 2, h))
            else:
                self._draw(frame.texture, frame.size, False, (0, 0, w, h))
            screen.viewport = (0, 0, w, h)
            if self.show_overlay and frame.overlay is not None:
                info = frame.overlay()
                if feed is not None:  # say what the left half is
                    info = replace(info, lines=info.lines + (f"left: {feed}   right: program",))
                self._overlay.update(info, frame.t, max_width=w - 2 * OVERLAY_MARGIN)  # wrapped to the window
                self._overlay.draw((w, h), OVERLAY_MARGIN)
            glfw.swap_buffers(self.win)
        glfw.poll_events()
        if glfw.window_should_close(self.win):
            self.wants_stop = True

    def _draw(self, tex, size, top_first: bool, viewport) -> None:
        """One image letterboxed into a part of the window."""
        self.ctx.screen.viewport = viewport
        p = self._prog
        if "u_resolution" in p:
            p["u_resolution"].value = viewport[2:]
        p["u_src_size"].value = size
        p["u_flip"].value = 1.0 if top_first else 0.0
        p["u_input"].value = 0
        tex.use(0)
        self._vao.render(vertices=3)

    def close(self) -> None:
        self.glfw.destroy_window(self.win)
        self.glfw.terminate()
