"""démontage: a live generative-cinema instrument.

Data flow (docs/ARCHITECTURE.md): audio (capture process) and MIDI/OSC (control process) ->
parameters -> snapshot -> generator (torch, its own process) -> compositor (moderngl, main
thread) -> outputs (window, files, streams, senders).
"""

__version__ = "0.1.0"
