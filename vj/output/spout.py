"""Spout out (Windows): the program texture shared on the GPU with TouchDesigner, Resolume, OBS...
Through SpoutGL (the `spout` extra, Spout 2.007). No readback: each frame, on the render thread
(Spout needs our current GL context), the compositor's output texture goes by GL id to

    sender.sendTexture(tex.glo, GL_TEXTURE_2D, w, h, True, host_fbo)

Spout blits it into a DirectX 11 texture the receivers open (GL/DX interop; on GPUs without it,
Spout reads it back to a DX staging texture itself). The six arguments are all positional: the
binding (src/PySpoutGL.cpp) wraps SpoutSender::SendTexture(TextureID, TextureTarget, width,
height, bInvert, HostFBO) with no Python defaults. bInvert=True because our texture is GL order
(bottom row first) and DirectX is top row first: receivers get it upright. HostFBO is the
framebuffer moderngl has bound: Spout binds its own FBO for the blit and rebinds this one after.

Not run here (no Windows on the test machines): tests/test_spout_syphon.py drives it against a
stand-in for the SpoutGL module.
"""

from __future__ import annotations


from vj.output.base import Output, ProgramFrame, import_for_platform

GL_TEXTURE_2D = 0x0DE1


def load_spoutgl():
    """The SpoutGL module, or one clear line saying why not (also called early by `vj run`)."""
    return import_for_platform("SpoutGL", "--spout", "win32", "Spout is Windows", "spout")


class SpoutOutput(Output):
    def __init__(self, sender_name: str, loader=load_spoutgl) -> None:
        spoutgl = loader()  # loader: the boundary a test replaces (no Windows there)
        self._sender = spoutgl.SpoutSender()
        self._sender.setSenderName(sender_name)
        self.name = f"Spout {sender_name}"
        self.frames_sent = 0

    def present(self, frame: ProgramFrame) -> None:
        w, h = frame.size
        fbo = frame.compositor.ctx.fbo  # moderngl's bound framebuffer (None: the default one)
        if not self._sender.sendTexture(frame.texture.glo, GL_TEXTURE_2D, w, h, True, fbo.glo if fbo else 0):
            # false: no sender could be made (no DirectX 11, no GL context): it won't get better
            raise RuntimeError("Spout sendTexture failed (DirectX 11 missing? see SpoutSettings)")
        self.frames_sent += 1

    def status(self) -> str:
        return f"spout {self.frames_sent} frames"

    def close(self) -> None:
        self._sender.releaseSender()  # with the GL context still current: Spout frees its GL objects
