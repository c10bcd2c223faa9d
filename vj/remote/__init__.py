"""The generator over the network: `vj serve` on a GPU box (server.py, maker.py) and the show's
side of it (client.py, link.py, alternate.py), speaking wire.py over ZeroMQ with CURVE (keys.py).
The local process and a remote box are two implementations of one core.protocols.FrameGenerator."""

from __future__ import annotations

from vj.core.errors import VJError


def require() -> None:
    """pyzmq and simplejpeg (the `remote` extra), or one line saying how to get them."""
    try:
        import simplejpeg  # noqa: F401
        import zmq  # noqa: F401
    except ImportError as e:
        raise VJError(f"the remote generator needs {e.name}: pip install 'demontage[remote]' "
                      f"(pyzmq and simplejpeg)") from None
