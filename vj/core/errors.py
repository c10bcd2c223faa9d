"""Errors meant for a performer: one clear line (what, where, what to do), never a traceback wall."""


class VJError(Exception):
    """A problem the user can fix. `str()` is the whole message: what went wrong, where, what to do."""


class ConfigError(VJError):
    """A set or mapping file that can't be used as written."""


class ModelLoadError(VJError):
    """A model that can't be loaded (unknown name, offline, missing files)."""


class DeviceError(VJError):
    """An audio/MIDI/display device that can't be opened."""
