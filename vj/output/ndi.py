"""NDI out: the program image as an NDI source a video mixer (vMix, OBS, Resolume, TouchDesigner)
picks up on the network. Through cyndilib (the `ndi` extra), which brings NewTek's NDI runtime.

The render thread hands the newest frame to a sender thread through a latest-value mailbox and
never waits: NDI's own pacing and the network stay on the sender's side. If the runtime fails,
the output says so once and is dropped by the engine; the other outputs go on.

Discovery is NDI's (mDNS). Where multicast does not reach (containers, some club networks), list
the receivers' or senders' addresses in NDI's config: $NDI_CONFIG_DIR/ndi-config.v1.json with
{"ndi": {"networks": {"ips": "192.168.1.20"}}} (the tests use 127.0.0.1).
"""

from __future__ import annotations

from fractions import Fraction

from vj.core.errors import VJError
from vj.output.base import ProgramFrame, SenderThreadOutput


class NdiOutput(SenderThreadOutput):
    thread_name = "vj-ndi"

    def __init__(self, source_name: str, size: tuple[int, int], fps: float) -> None:
        try:
            from cyndilib.sender import Sender
            from cyndilib.video_frame import VideoSendFrame
            from cyndilib.wrapper.ndi_structs import FourCC
        except ImportError:
            raise VJError("--ndi needs the NDI runtime: pip install 'demontage[ndi]' (cyndilib)") from None
        self.name = f"NDI {source_name}"
        self.size = size
        w, h = size
        vf = VideoSendFrame()
        vf.set_resolution(w, h)
        vf.set_fourcc(FourCC.RGBA)
        vf.set_frame_rate(Fraction(fps).limit_denominator(1001))
        self._sender = Sender(source_name, clock_video=False)  # the show's clock paces; NDI must not block
        self._sender.set_video_frame(vf)
        self._sender.open()
        self._start_sender()

    def _pixels(self, frame: ProgramFrame):
        return frame.rgba_top_first()

    def _deliver(self, pixels) -> None:
        self._sender.write_video(pixels.reshape(-1))

    def status(self) -> str:
        return f"ndi {self.frames_sent} frames"

    def _close_sink(self) -> None:
        self._sender.close()
