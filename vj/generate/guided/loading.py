"""What loading a guide shares: diffusers kept quiet, and an exception's first line for the one line said."""

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


def first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__


LOAD_ERRORS = (OSError, ValueError, EnvironmentError, RuntimeError, KeyError)  # not found, offline, wrong shapes
