"""démontage: a live generative-cinema instrument.

Data flow (see README.md): audio/MIDI/OSC -> params -> generator (torch, own thread)
-> compositor (moderngl, main thread) -> outputs (window, ffmpeg).
"""

__version__ = "0.1.0"
