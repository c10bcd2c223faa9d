"""Syphon out (macOS): the program texture shared on the GPU with Resolume, MadMapper, VDMX,
TouchDesigner... Through syphon-python (the `syphon` extra: syphon-python[opengl], 0.2). moderngl
on macOS draws in an OpenGL context, so this is its SyphonOpenGLServer, not the Metal one: no
readback, no copy into a Metal texture. Each frame, on the render thread:

    server.publish_frame_texture(tex.glo, size=(w, h), is_flipped=False)

Syphon draws that texture into its IOSurface in a private context shared with ours (its docs:
no change to the caller's GL state in a core profile). is_flipped=False because our texture is
GL order (bottom row first), which is what Syphon's OpenGL clients expect; True is for textures
uploaded top row first. Passing size spares the package a glGetTexLevelParameteriv of its own.
Nothing is drawn while no client is connected (has_clients).

The server is made on the GL context current when the outputs are built: syphon-python takes
the current NSOpenGLContext, which a window has (glfw); with --headless there may be none, and
that is said in one line. Not run here (no macOS on the test machines): tests/test_spout_syphon.py
drives it against a stand-in for the syphon module.
"""

from __future__ import annotations


from vj.core.errors import VJError
from vj.output.base import Output, ProgramFrame, import_for_platform


def load_syphon():
    """The syphon module, or one clear line saying why not (also called early by `vj run`)."""
    return import_for_platform("syphon", "--syphon", "darwin", "Syphon is macOS", "syphon")


class SyphonOutput(Output):
    def __init__(self, server_name: str, loader=load_syphon) -> None:
        syphon = loader()  # loader: the boundary a test replaces (no macOS there)
        try:
            self._server = syphon.SyphonOpenGLServer(server_name)  # on the current GL context
        except Exception as e:  # no current NSOpenGLContext (headless), PyOpenGL missing
            fix = ("pip install 'demontage[syphon]' (it brings PyOpenGL)" if isinstance(e, ImportError) else
                   "it shares the window's OpenGL context: run with a window, not --headless")
            raise VJError(f"--syphon: no Syphon server ({type(e).__name__}: {e}); {fix}") from None
        self.name = f"Syphon {server_name}"
        self.frames_sent = 0

    def present(self, frame: ProgramFrame) -> None:
        if not self._server.has_clients:
            return
        self._server.publish_frame_texture(frame.texture.glo, size=frame.size, is_flipped=False)
        self.frames_sent += 1

    def status(self) -> str:
        return f"syphon {self.frames_sent} frames"

    def close(self) -> None:
        self._server.stop()
