"""What loading a guide shares: diffusers kept quiet (the exception's first line and the errors a load
raises are core/errors.py's, shared with the depth network's loader in vj/maps)."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def quiet_diffusers():
    """diffusers warns about fp32 modules on every .to(dtype), even when there are none, and
    chatters while loading: the performer reads our one line instead."""
    from diffusers.utils import logging as diffusers_logging

    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        yield
    finally:
        diffusers_logging.set_verbosity(level)
