"""CURVE keys: the box's own pair, kept in its state folder (so a restarted `vj serve` has the same
public key and the laptops that know it need nothing new), and the checks on a key typed in.

The box's public key is what a show must present to be let in (ZeroMQ's CURVE handshake fails
without it): treat it like a password. A show's own pair is made afresh each run.
"""

from __future__ import annotations

import os
from pathlib import Path

from vj.core.errors import VJError

KEY_FILE = "server.key"  # ZeroMQ's certificate files: server.key (public) and server.key_secret


def box_keys(state: Path) -> tuple[bytes, bytes]:
    """(public, secret) of this box, Z85, made on first use in `state`/serve/ (secret file 0600)."""
    import zmq.auth

    folder = state / "serve"
    secret_file = folder / (KEY_FILE + "_secret")
    if not secret_file.is_file():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
            public_file, secret_file = zmq.auth.create_certificates(str(folder), "server")
            os.chmod(secret_file, 0o600)
        except OSError as e:
            raise VJError(f"vj serve: can't write its key in {folder} ({e.strerror or e}); "
                          f"give a writable folder with --state DIR") from None
    try:
        public, secret = zmq.auth.load_certificate(str(secret_file))
    except (OSError, ValueError) as e:
        raise VJError(f"vj serve: {secret_file} is not a key file ({e}); move it away and a new key is made "
                      f"(shows then need the new key)") from None
    if public is None or secret is None:
        raise VJError(f"vj serve: {secret_file} has no secret key; move it away and a new key is made")
    return public, secret


def check_key(text: str, where: str = "--generator-key") -> bytes:
    """A box's public key as typed (40 characters of Z85) -> bytes for zmq; VJError otherwise."""
    from zmq.utils import z85

    key = text.strip()
    try:
        ok = len(key) == 40 and len(z85.decode(key)) == 32
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise VJError(f"{where} {text!r}: not a box's key (40 characters; `vj serve` prints it as 'key: ...')")
    return key.encode()
