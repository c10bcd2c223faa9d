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

import threading
from fractions import Fraction

from vj.errors import VJError
from vj.log import log
from vj.mailbox import Mailbox
from vj.output.base import Output, ProgramFrame


class NdiOutput(Output):
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
        self.frames_sent = 0
        self._box: Mailbox = Mailbox()
        self._error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send, name="vj-ndi", daemon=True)
        self._thread.start()

    def _send(self) -> None:
        while not self._stop.is_set():
            px = self._box.wait(0.25)
            if px is None:
                continue
            try:
                self._sender.write_video(px.reshape(-1))
                self.frames_sent += 1
            except Exception as e:  # reported by the next present(); the engine drops this output
                self._error = f"{type(e).__name__}: {e}"
                return

    def present(self, frame: ProgramFrame) -> None:
        if self._error:
            raise RuntimeError(self._error)
        self._box.put(frame.rgba_top_first())

    def status(self) -> str:
        return f"ndi {self.frames_sent} frames"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        try:
            self._sender.close()
        except Exception as e:
            log.warning(f"{self.name}: closing: {e}")
