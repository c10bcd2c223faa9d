"""Errors meant for a performer: one clear line (what, where, what to do), never a traceback wall."""


class VJError(Exception):
    """A problem the user can fix. `str()` is the whole message: what went wrong, where, what to do."""


class ConfigError(VJError):
    """A set or mapping file that can't be used as written."""


class ModelLoadError(VJError):
    """A model that can't be loaded (unknown name, offline, missing files)."""


# what loading weights raises when they are not found, the hub is offline or the shapes are wrong
LOAD_ERRORS = (OSError, ValueError, EnvironmentError, RuntimeError, KeyError)


def first_line(e: BaseException) -> str:
    """An exception's first line (at most 160 characters), for the one line a performer reads."""
    return str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__


class DeviceError(VJError):
    """An audio/MIDI/display device that can't be opened."""


class SetProblems(ConfigError):
    """Every problem of a set at once, each a `file:line: what` line as `vj check` prints it (a show
    that will not start on the set says them all, not just the first)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines[0] if lines else "the set has problems")
        self.lines = list(lines)
